"""What an operator may ask of one pair's trader: a manual entry, cancelling it, a force-exit.

A mixin of :class:`~ratchet.engine.pair_trader.PairTrader` (kept apart so that the trader's
own module stays about the strategy). Every request is audited in the operator's name; a
force-exit is the only path to a market order, and a stop is never cancelled on its own: an
open position is left unprotected by nobody but the force-exit that sells it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ratchet.domain.ids import OrderRole
from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import OperatorAction, Order, OrderSide, OrderType
from ratchet.domain.position import PositionStatus
from ratchet.engine import messages as m
from ratchet.engine.forced_exit import CANCEL_AGAIN_AFTER, ForcedExit
from ratchet.ports import AuditEntry

if TYPE_CHECKING:
    from ratchet.domain.money import Product
    from ratchet.domain.position import Position
    from ratchet.engine.stops import StopKeeper


class OperatorRequests:
    """The operator's events, handled on the pair's own queue like every other event."""

    if TYPE_CHECKING:
        product: Product
        position: Position | None
        entry: Order | None
        forced: ForcedExit | None
        stops: StopKeeper
        pair: str
        _now: float

        @property
        def is_idle(self) -> bool: ...
        def order(self, client_order_id: str) -> Order | None: ...
        def _open_position(self, d: m.Decision) -> Position: ...
        def _new_order(
            self, role: OrderRole, side: OrderSide, kind: OrderType, size: Decimal, **extra: Any
        ) -> Order: ...
        def _send(self, order: Order, d: m.Decision) -> None: ...
        def _cancel(self, order: Order, d: m.Decision, why: str) -> None: ...
        def _audit(self, d: m.Decision, action: str, detail: str) -> None: ...
        def _reported_filled(self, order: Order) -> Decimal: ...

    def _operator_audit(
        self, d: m.Decision, action: OperatorAction, what: str, subject: str = ""
    ) -> None:
        detail = f"{what} (by {action.actor}: {action.reason})"
        d.batch.audit.append(
            AuditEntry(self._now, action.actor, action.command.value, subject or self.pair, detail)
        )

    def _on_operator_entry(self, event: m.EntryRequestedByOperator, d: m.Decision) -> None:
        """A limit buy at the operator's price and size; from its fill on, the usual life."""
        if not self.is_idle:
            self._operator_audit(d, event.action, "manual entry refused: the pair is busy")
            return
        problems = self.product.violations(event.price, event.size)
        if problems:
            self._operator_audit(d, event.action, f"manual entry refused: {'; '.join(problems)}")
            return
        position = self._open_position(d)
        self.entry = self._new_order(
            OrderRole.ENTRY,
            OrderSide.BUY,
            OrderType.LIMIT,
            event.size,
            limit_price=event.price,
            operator_action=event.action,
        )
        what = f"manual entry {position.position_id}: buy {event.size} at {event.price}"
        self._operator_audit(d, event.action, what)
        self._send(self.entry, d)

    def _on_operator_cancel(self, event: m.CancelRequestedByOperator, d: m.Decision) -> None:
        """Cancel a working entry; stops and exits are never cancelled on their own."""
        order = self.order(event.client_order_id)
        cid = event.client_order_id
        if order is None or not order.is_working:
            self._operator_audit(d, event.action, f"cancel of {cid} ignored: not working", cid)
        elif order is not self.entry:
            why = "only an entry can be cancelled; a stop goes only with a force-exit"
            self._operator_audit(d, event.action, f"cancel of {cid} refused: {why}", cid)
        else:
            self._operator_audit(d, event.action, f"cancel of {cid} requested", cid)
            self._cancel(order, d, f"cancelled by {event.action.actor}")

    def _on_force_exit(self, event: m.ForceExitRequested, d: m.Decision) -> None:
        position = self.position
        if self.forced is not None and position is not None:
            # one under way (perhaps restored after a restart): make sure it goes on
            self._audit(d, "force-exit already under way", f"asked again by {event.action.actor}")
            self._continue_forced_exit(d)
            return
        if position is None or position.status.is_final:
            self._audit(d, "force-exit ignored", "no position to exit")
            return
        self.forced = ForcedExit(event.action)
        self.forced.audit(d, self._now, self.pair, "force-exit requested")
        self.stops.frozen = True
        self._continue_forced_exit(d)  # cancels what rests first, then sells at market

    def _continue_forced_exit(self, d: m.Decision) -> None:
        forced, position = self.forced, self.position
        if forced is None or position is None:
            return
        resting = [o for o in (self.entry, *self.stops.orders()) if o is not None]
        if not forced.gave_up:
            # cancel what rests: at once an order not asked yet (e.g. one acknowledged after
            # the request, as it was still being sent), after a pause one whose cancel failed
            retry = self._now >= forced.cancel_again_at
            for order in resting:
                if not order.is_working or order.status is OrderStatus.CANCEL_REQUESTED:
                    continue
                cid = order.client_order_id
                if cid not in forced.asked or retry:
                    forced.asked.add(cid)
                    self._cancel(order, d, f"force-exit by {forced.action.actor}")
                    forced.cancel_again_at = self._now + CANCEL_AGAIN_AFTER
        last = forced.order
        pending = last is not None and last.filled_size < self._reported_filled(last)
        forced.proceed(
            position,
            resting,
            self.product,
            now=self._now,
            d=d,
            new_order=self._new_order,
            fills_pending=pending,
        )
        if forced.gave_up and position.status in (PositionStatus.OPEN, PositionStatus.EXITING):
            self.forced = None
            self.stops.frozen = False
            self.stops.place(position, self._now, d, self._new_order)
