"""Stored objects as flat records (JSON / CSV / SQL rows): money as exact strings, times ISO UTC.

The keys are the columns of ``--json`` output and of ``ratchet export``; each function's key
order is its column order.
"""

from __future__ import annotations

from decimal import Decimal

from ratchet.cli.figures import (
    LastPrice,
    Span,
    Summary,
    average_price,
    entry_cost,
    iso,
    text,
    tidy,
    unrealized,
)
from ratchet.domain.position import Position
from ratchet.ports import OrderRecord, StopChange
from ratchet.store.queries import FillView

Record = dict[str, str | int | None]


def position_record(
    position: Position,
    span: Span | None = None,
    last: LastPrice | None = None,
    confirmed_stop: Decimal | None = None,
) -> Record:
    """A position's state, its entry/exit averages, and P&L at the last known price."""
    held_at = span or Span()
    return {
        "position_id": position.position_id,
        "pair": position.pair,
        "quote_currency": position.product.quote_currency,
        "status": position.status.value,
        "opened_at": iso(held_at.opened),
        "closed_at": iso(held_at.closed) if position.status.is_final else None,
        "quantity": text(position.quantity),
        "entry_price": text(average_price(position.entry_value, position.entry_size, position)),
        "entry_size": text(position.entry_size),
        "entry_value": text(position.entry_value),
        "entry_fees": text(position.entry_fees),
        "exit_price": text(average_price(position.exit_value, position.exit_size, position)),
        "exit_size": text(position.exit_size),
        "exit_value": text(position.exit_value),
        "exit_fees": text(position.exit_fees),
        "realized_pnl": text(position.realized_pnl),
        "stop_desired": text(position.stop),
        "stop_confirmed": text(confirmed_stop) if not position.status.is_final else None,
        "high_water": text(position.high_water),
        "trail_pct": text(position.policy.trail_pct),
        "deployed": text(entry_cost(position)),
        "last_price": text(last.price) if last else None,
        "last_price_source": last.source if last else None,
        "last_price_at": iso(last.time) if last else None,
        "unrealized_pnl": text(unrealized(position, last)),
    }


def trade_record(position: Position, span: Span | None = None) -> Record:
    """A round trip: entry and exit averages, sizes, fees and realised P&L."""
    held_at = span or Span()
    fees = position.entry_fees + position.exit_fees
    return {
        "position_id": position.position_id,
        "pair": position.pair,
        "quote_currency": position.product.quote_currency,
        "status": position.status.value,
        "opened_at": iso(held_at.opened),
        "closed_at": iso(held_at.closed),
        "entry_price": text(average_price(position.entry_value, position.entry_size, position)),
        "entry_size": text(position.entry_size),
        "entry_value": text(position.entry_value),
        "exit_price": text(average_price(position.exit_value, position.exit_size, position)),
        "exit_size": text(position.exit_size),
        "exit_value": text(position.exit_value),
        "fees": text(fees),
        "realized_pnl": text(position.realized_pnl),
        "win": int(position.realized_pnl > 0),
    }


def order_record(record: OrderRecord) -> Record:
    """An order as stored, with its fill totals."""
    order = record.order
    return {
        "client_order_id": order.client_order_id,
        "position_id": record.position_id,
        "pair": order.product_id,
        "side": order.side.value,
        "type": order.order_type.value,
        "status": order.status.value,
        "size": text(order.size),
        "limit_price": text(order.limit_price),
        "stop_price": text(order.stop_price),
        "filled_size": text(order.filled_size),
        "filled_value": text(order.filled_value),
        "average_price": text(tidy(average) if (average := order.average_fill_price) else None),
        "fees": text(order.fees),
        "fills": len(order.fills),
        "exchange_order_id": order.exchange_order_id,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "reason": order.reason,
        "operator": order.operator_action.actor if order.operator_action else None,
    }


def fill_record(view: FillView) -> Record:
    """One fill with its order, position and pair."""
    fill = view.fill
    return {
        "time": iso(fill.time),
        "pair": view.pair,
        "side": view.side,
        "price": text(fill.price),
        "size": text(fill.size),
        "value": text(fill.price * fill.size),
        "fee": text(fill.fee),
        "liquidity": fill.liquidity,
        "trade_id": fill.trade_id,
        "client_order_id": view.client_order_id,
        "position_id": view.position_id,
    }


def stop_record(change: StopChange) -> Record:
    """One move of a stop: the level wanted and what the exchange confirmed."""
    return {
        "time": iso(change.time),
        "desired": text(change.desired),
        "confirmed": text(change.confirmed),
        "client_order_id": change.client_order_id,
        "reason": change.reason,
    }


def summary_record(summary: Summary) -> Record:
    """The P&L figures of one quote currency (the ``metrics`` export)."""
    return {
        "quote_currency": summary.quote_currency,
        "trades": summary.trades,
        "wins": summary.wins,
        "losses": summary.losses,
        "win_rate_pct": text(summary.win_rate_pct),
        "realized_pnl": text(summary.realized_pnl),
        "fees": text(summary.fees),
        "open_positions": summary.open_positions,
        "deployed": text(summary.deployed),
        "unrealized_pnl": text(summary.unrealized_pnl),
    }
