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


class ForcedExit:
    """An operator's exit of one position, from request to the market sell."""

    def __init__(self, action: OperatorAction) -> None:
        self.action = action
        self.order: Order | None = None

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
    ) -> None:
        """Sell at market once nothing rests any more (call again after every order change)."""
        if self.order is not None or any(not order.is_done for order in resting):
            return
        if position.status not in (PositionStatus.OPEN, PositionStatus.EXITING):
            return
        size = product.sell_size(position.quantity)
        if not product.can_carry_order(size):
            self.audit(
                d,
                now,
                product.product_id,
                f"nothing to sell: {position.quantity} is below the minimum order",
            )
            return
        self.order = new_order(
            OrderRole.EXIT,
            OrderSide.SELL,
            OrderType.MARKET,
            size,
            operator_action=self.action,
            time_in_force=TimeInForce.IOC,
        )
        self.audit(d, now, product.product_id, f"market sell of {size} sent")
        d.batch.orders.append(OrderRecord(self.order, position.position_id, now, now))
        d.batch.positions.append(position)
        d.commands.append(m.PlaceOrder(self.order))
