"""The simulator's matching core as a synchronous exchange for the engine's commands.

Used by the backtester (and by fast engine tests): it carries out a
:class:`~ratchet.engine.pair_trader.PairTrader`'s commands against an in-process
:class:`~ratchet.sim.matching.MatchingEngine` and turns the results into the same events the
live runtime feeds back — so the trader cannot tell a backtest from the real thing.
"""

from __future__ import annotations

from decimal import Decimal

from ratchet.domain.order_types import OrderType
from ratchet.domain.orders import Order
from ratchet.domain.reports import FillReport, OrderReport, status_from_exchange
from ratchet.engine import messages as m
from ratchet.sim.matching import CreateOrderRequest, MatchingEngine
from ratchet.sim.records import SimFill, SimOrder


def request_of(order: Order) -> CreateOrderRequest:
    """The create request of a domain order."""
    return CreateOrderRequest(
        client_order_id=order.client_order_id,
        product_id=order.product_id,
        side=order.side,
        order_type=order.order_type,
        base_size=order.size,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        stop_direction="STOP_DIRECTION_STOP_DOWN"
        if order.order_type is OrderType.STOP_LIMIT
        else None,
        post_only=order.post_only,
        time_in_force=order.time_in_force.value,
        end_time=float(order.end_time) if order.end_time is not None else None,
    )


def fill_report(fill: SimFill) -> FillReport:
    """A simulator fill as the fills list reports it."""
    return FillReport(
        trade_id=fill.entry_id,
        exchange_order_id=fill.order_id,
        product_id=fill.product_id,
        side=fill.side,
        price=fill.price,
        size=fill.size,
        fee=fill.commission,
        liquidity=str(fill.liquidity),
        time=fill.time,
    )


def order_report(order: SimOrder) -> OrderReport:
    """A simulator order as an order report."""
    return OrderReport(
        exchange_order_id=order.order_id,
        client_order_id=order.client_order_id,
        product_id=order.product_id,
        side=order.side,
        order_type=order.order_type,
        status=status_from_exchange(str(order.status), order.filled_size),
        size=order.size or Decimal(0),
        filled_size=order.filled_size,
        average_filled_price=order.average_filled_price,
        fees=order.total_fees,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        created_time=order.created_time,
        reason=order.reject_reason or order.cancel_reason,
    )


class InProcessExchange:
    """Carries out engine commands on a matching engine, returning the resulting events."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine
        self._reported = 0  # sequence of the newest fill reported by updates()

    def carry_out(self, command: m.EngineCommand, now: float) -> list[m.EngineEvent] | None:
        """The events an exchange command leads to; None for one that is not the exchange's
        (a ``RequestEntry`` is for the risk gate)."""
        if isinstance(command, m.PlaceOrder):
            return self.place(command.order, now)
        if isinstance(command, m.CancelOrder):
            return self.cancel(command.order, now)
        if isinstance(command, m.EditOrder):
            return self.edit(command, now)
        if isinstance(command, m.FetchFills):
            events = self.fills_of(command.order)
            if command.report is None:  # a read of the order's state too, as live
                events.append(m.OrderRead(command.order.client_order_id))
            return events
        if isinstance(command, m.LookUpOrder):
            return self.look_up(command.order)
        return None

    def place(self, order: Order, now: float) -> list[m.EngineEvent]:
        """Create the order; its ack or refusal, then any immediate fills."""
        result = self.engine.create_order(request_of(order), now)
        if not result.success or result.order is None:
            return [m.OrderRefusedByExchange(order.client_order_id, result.failure_reason)]
        events: list[m.EngineEvent] = [m.OrderPlaced(order.client_order_id, result.order.order_id)]
        return events + self.updates()

    def cancel(self, order: Order, now: float) -> list[m.EngineEvent]:
        """Cancel the order; the answer, then what changed."""
        if order.exchange_order_id is None:
            return [m.CancelAnswered(order.client_order_id, False, "UNKNOWN_CANCEL_ORDER")]
        [result] = self.engine.cancel_orders([order.exchange_order_id], now)
        answer = m.CancelAnswered(order.client_order_id, result.success, result.failure_reason)
        return [answer, *self.updates()]

    def edit(self, command: m.EditOrder, now: float) -> list[m.EngineEvent]:
        """Edit the order's terms; the answer, then what changed."""
        order, terms = command.order, command.terms
        cid = order.client_order_id
        if order.exchange_order_id is None:
            return [m.EditAnswered(cid, terms, False, "ORDER_NOT_FOUND")]
        result = self.engine.edit_order(
            order.exchange_order_id,
            price=command.limit_price,
            size=terms.size,
            stop_price=terms.stop_price,
            now=now,
        )
        answer = m.EditAnswered(cid, terms, result.success, ", ".join(result.errors))
        return [answer, *self.updates()]

    def look_up(self, order: Order) -> list[m.EngineEvent]:
        """The order by its client_order_id, or word that it never arrived."""
        found = self.engine.order_by_client_id(order.client_order_id)
        if found is None:
            return [m.OrderNotOnExchange(order.client_order_id)]
        return [m.OrderUpdated(order_report(found))]

    def fills_of(self, order: Order) -> list[m.EngineEvent]:
        """Every fill of the order."""
        if order.exchange_order_id is None:
            return []
        fills = self.engine.fills(order_ids=[order.exchange_order_id])
        return [m.FillsReported(tuple(fill_report(f) for f in fills))] if fills else []

    def updates(self) -> list[m.EngineEvent]:
        """Order changes since the last call: their fills first, then the order reports."""
        changed = self.engine.drain_updates()
        if not changed:
            return []
        events: list[m.EngineEvent] = []
        # only fills not reported yet: re-sending old ones would be ignored, but costs work
        newer = self.engine.fills_since(self._reported)
        if newer:
            ids = {order.order_id for order in changed}
            fills = [f for f in newer if f.order_id in ids]
            if fills:
                self._reported = fills[-1].sequence
                events.append(m.FillsReported(tuple(fill_report(f) for f in fills)))
        latest = {order.order_id: order for order in changed}
        events.extend(m.OrderUpdated(order_report(order)) for order in latest.values())
        return events
