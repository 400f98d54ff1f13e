"""How the exchange's answers about our orders reach one pair's trader.

A mixin of :class:`~ratchet.engine.pair_trader.PairTrader`: placed, refused, unknown (then
looked up, and resent only if it never arrived), status reports (fills fetched when the
exchange counts more than we did), fills (each counted once by trade id) and cancel answers.
Each handler updates the order through its state machine, records it, and lets
``_settle`` decide what the new state means for the position.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import (
    Accepted,
    Cancelled,
    CancelRejected,
    MarkedUnknown,
    Order,
    Rejected,
    Submitted,
)
from ratchet.engine import messages as m
from ratchet.engine.order_sync import apply_fill, apply_report

READ_AGAIN_AFTER = 10.0  # seconds before a read that failed every attempt is asked again

if TYPE_CHECKING:
    from ratchet.domain.ids import OrderRole
    from ratchet.domain.orders import OrderSide, OrderType
    from ratchet.domain.position import Position
    from ratchet.engine.forced_exit import ForcedExit
    from ratchet.engine.stops import StopKeeper


class OrderEvents:
    """The exchange's events about one pair's orders."""

    if TYPE_CHECKING:
        position: Position | None
        entry: Order | None
        forced: ForcedExit | None
        stops: StopKeeper
        pair: str
        _now: float
        _exchange_filled: dict[str, Decimal]
        _reads_due: dict[str, tuple[float, m.FetchFills | m.LookUpOrder]]
        _awaiting_read: set[str]

        def order(self, client_order_id: str) -> Order | None: ...
        def orders(self) -> list[Order]: ...
        def _order_on_exchange(self, exchange_order_id: str) -> Order | None: ...
        def _new_order(
            self, role: OrderRole, side: OrderSide, kind: OrderType, size: Decimal, **extra: Any
        ) -> Order: ...
        def _send(self, order: Order, d: m.Decision) -> None: ...
        def _record(self, order: Order, d: m.Decision) -> None: ...
        def _settle(self, order: Order, d: m.Decision) -> None: ...
        def _audit(self, d: m.Decision, action: str, detail: str) -> None: ...

    def _on_placed(self, event: m.OrderPlaced, d: m.Decision) -> None:
        order = self.order(event.client_order_id)
        if order is None:
            return
        if order.allows(Submitted()):
            order.apply(Submitted())
        if order.allows(Accepted(event.exchange_order_id)):
            order.apply(Accepted(event.exchange_order_id))
        self._record(order, d)
        self._settle(order, d)

    def _on_refused(self, event: m.OrderRefusedByExchange, d: m.Decision) -> None:
        order = self.order(event.client_order_id)
        if order is None or not order.allows(Rejected(event.reason)):
            return
        order.apply(Rejected(event.reason))
        self._record(order, d)
        self._audit(d, "order refused", f"{order.client_order_id}: {event.reason}")
        if self.forced is not None and order is self.forced.order and self.position is not None:
            # the operator's exit failed: protect the position again rather than leave it bare
            self.forced.audit(d, self._now, self.pair, f"force-exit failed: {event.reason}")
            self.forced = None
            self.stops.frozen = False
            self.stops.place(self.position, self._now, d, self._new_order)
            return
        self._settle(order, d)

    def _on_send_failed(self, event: m.OrderSendFailed, d: m.Decision) -> None:
        order = self.order(event.client_order_id)
        if order is not None and order.allows(MarkedUnknown(event.reason)):
            order.apply(MarkedUnknown(event.reason))
            self._record(order, d)
            self._audit(d, "order state unknown", f"{order.client_order_id}: {event.reason}")
            d.commands.append(m.LookUpOrder(order))

    def _on_not_on_exchange(self, event: m.OrderNotOnExchange, d: m.Decision) -> None:
        """The order never arrived: send it again with the same id (it cannot make two)."""
        order = self.order(event.client_order_id)
        if order is not None and order.status is OrderStatus.UNKNOWN:
            self._audit(d, "order resent", f"{order.client_order_id}: not found on the exchange")
            self._send(order, d)

    def _on_report(self, event: m.OrderUpdated, d: m.Decision) -> None:
        order = self.order(event.report.client_order_id)
        if order is None:
            return
        reported = self._exchange_filled.get(order.client_order_id, Decimal(0))
        self._exchange_filled[order.client_order_id] = max(reported, event.report.filled_size)
        result = apply_report(order, event.report)
        for conflict in result.conflicts:
            self._audit(d, "exchange report conflict", f"{order.client_order_id}: {conflict}")
        if result.fills_missing:
            d.commands.append(m.FetchFills(order, event.report))
        if result.changed:
            self._record(order, d)
        if not result.fills_missing:
            self._settle(order, d)

    def _on_fills(self, event: m.FillsReported, d: m.Decision) -> None:
        position = self.position
        if position is None:
            return
        touched: list[Order] = []
        for report in event.fills:
            order = self._order_on_exchange(report.exchange_order_id)
            if order is None:
                continue
            changed, fill, conflict = apply_fill(order, report)
            if conflict:
                self._audit(d, "fill conflict", f"{order.client_order_id}: {conflict}")
            if not changed or fill is None:
                continue
            d.batch.fills.append((order.client_order_id, fill))
            if order is self.entry:
                position.on_entry_fill(fill)  # a late one (position OPEN) grows the stop too
            else:
                position.on_exit_fill(fill)
            if order not in touched:
                touched.append(order)
        if touched:
            d.batch.positions.append(position)
        for order in touched:
            self._record(order, d)
            self._settle(order, d)

    def _on_read_failed(self, event: m.ReadFailed, d: m.Decision) -> None:
        """A read failed every attempt (an outage): ask again after ``READ_AGAIN_AFTER`` s.

        Nothing else would: a cancelled stop's last fills, an entry's fills the exchange has
        reported, a send whose outcome is unknown, all stay unread until the read succeeds.
        """
        order = event.command.order
        if self.order(order.client_order_id) is not order:
            return  # the position is over, or the order is no longer ours to follow
        self._reads_due[order.client_order_id] = (self._now + READ_AGAIN_AFTER, event.command)
        self._audit(
            d,
            "order read failed",
            f"{order.client_order_id}: asked again in {READ_AGAIN_AFTER:g} s",
        )

    def _ask_to_read(self, order: Order, d: m.Decision) -> None:
        """Read the order's fills and state; until the answer (``OrderRead``) a finished order
        is held on to: a stream report older than the read must not let it go unsettled."""
        self._awaiting_read.add(order.client_order_id)
        d.commands.append(m.FetchFills(order))

    def _on_order_read(self, event: m.OrderRead, d: m.Decision) -> None:
        self._awaiting_read.discard(event.client_order_id)
        order = self.order(event.client_order_id)
        if order is not None:
            self._settle(order, d)

    def _reask_failed_reads(self, d: m.Decision) -> None:
        """The reads due again (see :meth:`_on_read_failed`); each is asked once more."""
        for client_order_id, (due, failed) in list(self._reads_due.items()):
            if due > self._now:
                continue
            del self._reads_due[client_order_id]
            if self.order(client_order_id) is not failed.order:
                continue
            if isinstance(failed, m.FetchFills):
                self._ask_to_read(failed.order, d)  # its state too: the report it had is old
            else:
                d.commands.append(failed)

    def _on_edit_answered(self, event: m.EditAnswered, d: m.Decision) -> None:
        if self.position is not None:
            self.stops.on_edit_answered(event, self.position, self._now, d, self._new_order)

    def _on_cancel_answered(self, event: m.CancelAnswered, d: m.Decision) -> None:
        order = self.order(event.client_order_id)
        if order is None:
            return
        answer = (
            Cancelled("cancelled on request") if event.success else CancelRejected(event.reason)
        )
        if order.allows(answer) and order.apply(answer):
            self._record(order, d)
        if order.exchange_order_id is not None:
            # fills may have happened just before the cancel (a stop may have triggered and
            # sold part, or all: a refused cancel may mean "fully filled"): read them and the
            # order's state before arming a stop, sizing a replacement stop or the operator's
            # market sell — once settled, the order is forgotten with its fills
            self._ask_to_read(order, d)
            return
        self._settle(order, d)
