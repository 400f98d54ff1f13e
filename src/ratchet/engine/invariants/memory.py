"""What the invariant checker remembers between steps, per order, position and trade.

Rules that span steps (a stop never goes down, a terminal order stays terminal, a fill counts
once) compare what a batch commits with this memory; :class:`Memory` is updated as batches are
checked, or taken as-is from stored state on a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from ratchet.domain.money import ZERO
from ratchet.domain.order_types import OrderSide, OrderStatus
from ratchet.domain.orders import Fill, Order
from ratchet.domain.position import PositionStatus
from ratchet.ports import OrderRecord, StoredState


@dataclass(slots=True)
class OrderSeen:
    """An order as last committed: what must not change, and what later rules need."""

    identity: tuple[object, ...]
    terms: Terms
    position_id: str
    side: OrderSide
    status: OrderStatus
    filled_size: Decimal
    remaining: Decimal
    exchange_order_id: str | None


@dataclass(slots=True)
class PositionSeen:
    """A position as last committed, the highest stops seen, and its counted fills by side."""

    pair: str
    status: PositionStatus = PositionStatus.PENDING_ENTRY
    quantity: Decimal = ZERO
    entry_filled: Decimal = ZERO
    max_desired: Decimal | None = None
    max_confirmed: Decimal | None = None
    fills: dict[OrderSide, list[Fill]] = field(
        default_factory=lambda: {OrderSide.BUY: [], OrderSide.SELL: []}
    )


@dataclass(slots=True)
class Memory:
    """Orders by client_order_id, positions by id, and the order each trade id was counted for."""

    orders: dict[str, OrderSeen] = field(default_factory=dict)
    positions: dict[str, PositionSeen] = field(default_factory=dict)
    trades: dict[str, str] = field(default_factory=dict)  # trade id -> client_order_id

    def position(self, pid: str, pair: str) -> PositionSeen:
        """The memory of position ``pid`` (in ``pair``), created empty when first seen."""
        seen = self.positions.get(pid)
        if seen is None:
            seen = self.positions[pid] = PositionSeen(pair)
        return seen

    def remember(self, record: OrderRecord) -> None:
        """Remember an order as committed (and what its entry filled, for a buy)."""
        order = record.order
        self.orders[order.client_order_id] = OrderSeen(
            identity(order, record.position_id),
            terms(order),
            record.position_id,
            order.side,
            order.status,
            order.filled_size,
            order.remaining_size,
            order.exchange_order_id,
        )
        position = self.position(record.position_id, order.product_id)
        if order.side is OrderSide.BUY:
            position.entry_filled = max(position.entry_filled, order.filled_size)

    def learn(self, state: StoredState) -> None:
        """Take stored state as already checked (a restart): remember it, check nothing."""
        for position in state.positions:
            seen = self.position(position.position_id, position.pair)
            seen.status, seen.quantity = position.status, position.quantity
            seen.entry_filled = position.entry_size
            if position.stop is not None:
                seen.max_desired = higher(seen.max_desired, position.stop)
        for record in state.orders:
            self.remember(record)
            owner = self.positions[record.position_id]
            for fill in record.order.fills:
                if fill.trade_id not in self.trades:
                    self.trades[fill.trade_id] = record.order.client_order_id
                    owner.fills[record.order.side].append(fill)


def identity(order: Order, position_id: str) -> tuple[object, ...]:
    """What a client_order_id must always name: position, product, side, type, action."""
    return (position_id, order.product_id, order.side, order.order_type, order.operator_action)


class Terms(NamedTuple):
    """An order's terms: they change only by an edit the exchange accepted."""

    size: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None


def terms(order: Order) -> Terms:
    """``order``'s terms as they are now."""
    return Terms(order.size, order.limit_price, order.stop_price)


def is_decimal(value: object) -> bool:
    """True for a finite ``Decimal`` (not a float, not NaN or infinity)."""
    return type(value) is Decimal and value.is_finite()


def higher(current: Decimal | None, level: Decimal) -> Decimal:
    """The higher of a remembered level (None: none yet) and ``level``."""
    return level if current is None else max(current, level)
