"""Operator exits: force-exit one pair, or emergency liquidation of all.

These are the only paths by which a market order can ever be sent, and each carries the
:class:`~ratchet.domain.orders.OperatorAction` (who, when, why) that the Order itself demands.
The exit first cancels what rests (a working entry, the stop — which holds the coins), and only
when the exchange confirms those are gone sells what is held, at market.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ratchet.domain.ids import OrderRole
from ratchet.domain.orders import OperatorAction, Order, OrderSide, OrderType, TimeInForce
from ratchet.domain.position import Position, PositionStatus
from ratchet.engine import messages as m
from ratchet.ports import AuditEntry, OrderRecord

if TYPE_CHECKING:
    from ratchet.domain.money import Product

NewOrder = Callable[..., Order]


MAX_MARKET_SELLS = 5  # then the remainder is protected by a stop again, and the operator told
RESELL_AFTER = 2.0  # seconds between market sells, so that the book can fill up again
CANCEL_AGAIN_AFTER = 5.0  # seconds before what still rests is asked to cancel again


class ForcedExit:
    """An operator's exit of one position, from request to the market sell(s).

    A market sell that fills only in part (thin book, IOC) is followed by another for what is
    left, once its fills are counted and :data:`RESELL_AFTER` seconds have passed; after
    :data:`MAX_MARKET_SELLS` the exit gives up and the trader protects the remainder with a
    stop again — never a position left bare.
    """

    def __init__(self, action: OperatorAction) -> None:
        self.action = action
        self.order: Order | None = None
        self.sells = 0
        self.sent_at = float("-inf")
        self.cancel_again_at = float("-inf")  # when cancels that failed are asked again
        self.asked: set[str] = set()  # client_order_ids asked to cancel
        self.gave_up = False

    def audit(self, d: m.Decision, now: float, pair: str, what: str) -> None:
        """An audit entry in the operator's name."""
        detail = f"{what} (by {self.action.actor}: {self.action.reason})"
        d.batch.audit.append(
            AuditEntry(now, self.action.actor, self.action.command.value, pair, detail)
        )

    def proceed(
        self,
        position: Position,
        resting: list[Order],
        product: Product,
        *,
        now: float,
        d: m.Decision,
        new_order: NewOrder,
        fills_pending: bool = False,
    ) -> None:
        """Sell at market once nothing rests any more (call again after every order change).

        ``fills_pending``: the exchange reported fills of the last sell not counted yet.
        """
        if any(not order.is_done for order in resting) or self.gave_up:
            return
        if self.order is not None and (not self.order.is_done or fills_pending):
            return
        if now < self.sent_at + RESELL_AFTER:
            return
        if position.status not in (PositionStatus.OPEN, PositionStatus.EXITING):
            return
        pair = product.product_id
        size = product.sell_size(position.quantity)
        if not product.can_carry_order(size):
            self.audit(d, now, pair, f"nothing to sell: {position.quantity} is below the minimum")
            self.gave_up = True
            return
        if self.sells >= MAX_MARKET_SELLS:
            self.audit(
                d,
                now,
                pair,
                f"force-exit stopped after {self.sells} market sells: {position.quantity} left, "
                "protected by a stop again",
            )
            self.gave_up = True
            return
        self.sells += 1
        self.sent_at = now
        self.order = new_order(
            OrderRole.EXIT,
            OrderSide.SELL,
            OrderType.MARKET,
            size,
            operator_action=self.action,
            time_in_force=TimeInForce.IOC,
        )
        again = " (the rest after a partial fill)" if self.sells > 1 else ""
        self.audit(d, now, pair, f"market sell of {size} sent{again}")
        d.batch.orders.append(OrderRecord(self.order, position.position_id, now, now))
        d.batch.positions.append(position)
        d.commands.append(m.PlaceOrder(self.order))
