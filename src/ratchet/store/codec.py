"""Domain objects <-> table rows. Pure: no I/O, no clock (the caller passes ``now``).

A :class:`StateBatch` holds live, mutable ``Order`` and ``Position`` objects. The store turns
it into rows (:func:`encode_batch`) at the moment ``commit`` is called, on the caller's thread,
so what is written is exactly the state of that moment even if the engine moves on before the
writer thread gets to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ratchet.domain.money import Product
from ratchet.domain.orders import (
    Fill,
    OperatorAction,
    OperatorCommand,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ratchet.domain.position import Position, PositionStatus, TrailPolicy
from ratchet.ports import AuditEntry, OrderRecord, SignalRecord, StateBatch, StopChange

Row = dict[str, Any]
Stored = Mapping[Any, Any]  # a row as read back (SQLAlchemy's RowMapping)


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """A :class:`StateBatch` as rows, parents before children, fills deduplicated by trade id."""

    products: tuple[Row, ...] = ()
    positions: tuple[Row, ...] = ()
    orders: tuple[Row, ...] = ()
    fills: tuple[Row, ...] = ()
    stops: tuple[Row, ...] = ()
    signals: tuple[Row, ...] = ()
    audit: tuple[Row, ...] = ()


def encode_batch(batch: StateBatch, now: float) -> EncodedBatch:
    """Snapshot ``batch`` as rows; ``now`` stamps the positions (created/updated).

    Fills come from each order snapshot (so a restored order's fills always match it) and from
    ``batch.fills``; a trade id appears once, in the order first seen.
    """
    products = {p.product.product_id: product_row(p.product, now) for p in batch.positions}
    fills: dict[str, Row] = {}
    for record in batch.orders:
        for fill in record.order.fills:
            fills.setdefault(fill.trade_id, fill_row(record.order.client_order_id, fill))
    for client_order_id, fill in batch.fills:
        fills.setdefault(fill.trade_id, fill_row(client_order_id, fill))
    return EncodedBatch(
        products=tuple(products.values()),
        positions=tuple(position_row(p, now) for p in batch.positions),
        orders=tuple(order_row(record) for record in batch.orders),
        fills=tuple(fills.values()),
        stops=tuple(stop_row(stop) for stop in batch.stops),
        signals=tuple(signal_row(signal) for signal in batch.signals),
        audit=tuple(audit_row(entry) for entry in batch.audit),
    )


# -- to rows --------------------------------------------------------------------------------------
def product_row(product: Product, now: float) -> Row:
    """A product's increments and limits."""
    return {
        "product_id": product.product_id,
        "base_currency": product.base_currency,
        "quote_currency": product.quote_currency,
        "base_increment": product.base_increment,
        "price_increment": product.price_increment,
        "quote_increment": product.quote_tick,
        "base_min_size": product.base_min_size,
        "quote_min_size": product.quote_min_size,
        "base_max_size": product.base_max_size,
        "updated_at": now,
    }


def position_row(position: Position, now: float) -> Row:
    """A position's full state (its product is stored apart, by ``pair``)."""
    return {
        "position_id": position.position_id,
        "pair": position.pair,
        "status": position.status.value,
        "trail_pct": position.policy.trail_pct,
        "min_step_pct": position.policy.min_step_pct,
        "quantity": position.quantity,
        "entry_size": position.entry_size,
        "entry_value": position.entry_value,
        "entry_fees": position.entry_fees,
        "exit_size": position.exit_size,
        "exit_value": position.exit_value,
        "exit_fees": position.exit_fees,
        "realized_pnl": position.realized_pnl,
        "high_water": position.high_water,
        "stop": position.stop,
        "created_at": now,
        "updated_at": now,
    }


def order_row(record: OrderRecord) -> Row:
    """An order's full state, without its fills (they have their own table)."""
    order, action = record.order, record.order.operator_action
    return {
        "client_order_id": order.client_order_id,
        "position_id": record.position_id,
        "product_id": order.product_id,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "size": order.size,
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "time_in_force": order.time_in_force.value,
        "end_time": order.end_time,
        "post_only": order.post_only,
        "operator_command": action.command.value if action else None,
        "operator_actor": action.actor if action else None,
        "operator_reason": action.reason if action else None,
        "operator_requested_at": action.requested_at if action else None,
        "exchange_order_id": order.exchange_order_id,
        "status": order.status.value,
        "filled_size": order.filled_size,
        "filled_value": order.filled_value,
        "fees": order.fees,
        "reason": order.reason,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def fill_row(client_order_id: str, fill: Fill) -> Row:
    """One trade of an order."""
    return {
        "trade_id": fill.trade_id,
        "client_order_id": client_order_id,
        "price": fill.price,
        "size": fill.size,
        "fee": fill.fee,
        "liquidity": fill.liquidity,
        "time": fill.time,
    }


def stop_row(stop: StopChange) -> Row:
    """One move of a position's stop."""
    return {
        "position_id": stop.position_id,
        "time": stop.time,
        "desired": stop.desired,
        "confirmed": stop.confirmed,
        "client_order_id": stop.client_order_id,
        "reason": stop.reason,
    }


def signal_row(signal: SignalRecord) -> Row:
    """One closed candle's verdict."""
    return {
        "pair": signal.pair,
        "start": signal.start,
        "close": signal.close,
        "rsi": signal.rsi,
        "macd": signal.macd,
        "macd_signal": signal.macd_signal,
        "vwap": signal.vwap,
        "rsi_ok": signal.rsi_ok,
        "macd_ok": signal.macd_ok,
        "vwap_ok": signal.vwap_ok,
        "enter": signal.enter,
    }


def audit_row(entry: AuditEntry) -> Row:
    """One audit entry."""
    return {
        "time": entry.time,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "detail": entry.detail,
    }


# -- from rows ------------------------------------------------------------------------------------
def product_from_row(row: Stored) -> Product:
    """The product stored with a position (used when the exchange did not list it)."""
    return Product(
        product_id=row["product_id"],
        base_increment=row["base_increment"],
        price_increment=row["price_increment"],
        base_min_size=row["base_min_size"],
        quote_min_size=row["quote_min_size"],
        base_max_size=row["base_max_size"],
        quote_increment=row["quote_increment"],
        base_currency=row["base_currency"],
        quote_currency=row["quote_currency"],
    )


def position_from_row(row: Stored, product: Product) -> Position:
    """A position as it was committed, on ``product``."""
    return Position(
        position_id=row["position_id"],
        product=product,
        policy=TrailPolicy(row["trail_pct"], row["min_step_pct"]),
        status=PositionStatus(row["status"]),
        quantity=row["quantity"],
        entry_size=row["entry_size"],
        entry_value=row["entry_value"],
        entry_fees=row["entry_fees"],
        exit_size=row["exit_size"],
        exit_value=row["exit_value"],
        exit_fees=row["exit_fees"],
        realized_pnl=row["realized_pnl"],
        high_water=row["high_water"],
        stop=row["stop"],
    )


def fill_from_row(row: Stored) -> Fill:
    """A stored trade."""
    return Fill(
        trade_id=row["trade_id"],
        price=row["price"],
        size=row["size"],
        fee=row["fee"],
        liquidity=row["liquidity"],
        time=row["time"],
    )


def order_from_row(row: Stored, fills: Iterable[Fill] = ()) -> OrderRecord:
    """An order as it was committed, with its stored fills (oldest first)."""
    action = None
    if row["operator_command"] is not None:
        action = OperatorAction(
            command=OperatorCommand(row["operator_command"]),
            actor=row["operator_actor"],
            reason=row["operator_reason"],
            requested_at=row["operator_requested_at"],
        )
    order = Order(
        client_order_id=row["client_order_id"],
        product_id=row["product_id"],
        side=OrderSide(row["side"]),
        order_type=OrderType(row["order_type"]),
        size=row["size"],
        limit_price=row["limit_price"],
        stop_price=row["stop_price"],
        time_in_force=TimeInForce(row["time_in_force"]),
        end_time=row["end_time"],
        post_only=bool(row["post_only"]),
        operator_action=action,
        exchange_order_id=row["exchange_order_id"],
        status=OrderStatus(row["status"]),
        filled_size=row["filled_size"],
        filled_value=row["filled_value"],
        fees=row["fees"],
        reason=row["reason"],
        fills=list(fills),
    )
    return OrderRecord(order, row["position_id"], row["created_at"], row["updated_at"])


def stop_from_row(row: Stored) -> StopChange:
    """A stored stop move."""
    return StopChange(
        position_id=row["position_id"],
        time=row["time"],
        desired=row["desired"],
        confirmed=row["confirmed"],
        client_order_id=row["client_order_id"],
        reason=row["reason"],
    )


def audit_from_row(row: Stored) -> AuditEntry:
    """A stored audit entry."""
    return AuditEntry(row["time"], row["actor"], row["action"], row["subject"], row["detail"])


def signal_from_row(row: Stored) -> SignalRecord:
    """A stored signal verdict."""
    return SignalRecord(
        pair=row["pair"],
        start=row["start"],
        close=row["close"],
        rsi=row["rsi"],
        macd=row["macd"],
        macd_signal=row["macd_signal"],
        vwap=row["vwap"],
        rsi_ok=row["rsi_ok"],
        macd_ok=row["macd_ok"],
        vwap_ok=row["vwap_ok"],
        enter=bool(row["enter"]),
    )
