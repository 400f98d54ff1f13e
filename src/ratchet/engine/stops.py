"""``StopKeeper``: the resting stop of one position — desired and confirmed kept apart.

* ``desired`` is where the trail says the stop should be (it only rises);
* ``confirmed`` is the stop price of the order the exchange has accepted.

A stop moves only when the desired level is above the confirmed one and ``min_stop_interval``
has passed since the last move. It moves by an edit of the resting order where the exchange
allows it (``stop_moves: edit``, the default): the order keeps protecting at its old level until
the exchange confirms the new one, so nothing is ever unprotected. An edit that is refused, or
whose outcome is unknown, falls back to cancel-then-replace (the resting stop holds the coins,
so the new one cannot be placed first); the time between sending that cancel and the new stop's
acceptance is measured as *unprotected time* (the edits: :mod:`ratchet.engine.stop_edits`).
A stop cancelled by anyone else is placed again at
once; a stop the exchange refuses because the price is already below it becomes a limit sell at
the stop's own limit price (never a market order). A stop that triggered while the market fell
through its limit rests as a sell limit above the price and protects nothing: once the price
has stayed below that limit for ``stranded_stop_after`` seconds, it is cancelled and what is
left is sold with a limit at the market less the stop's offset (again, and lower, if the market
keeps falling) — a limit order still, never a market one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from ratchet.domain.ids import OrderRole
from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import (
    CancelRequested,
    Order,
    OrderSide,
    OrderType,
)
from ratchet.domain.position import Position, PositionStatus
from ratchet.engine import messages as m
from ratchet.engine.stop_edits import StopEdits
from ratchet.ports import AuditEntry, OrderRecord, StopChange

if TYPE_CHECKING:
    from ratchet.domain.money import Product
    from ratchet.engine.settings import TraderSettings

HUNDRED = Decimal(100)
REFUSED_STOP_PAUSE = 5.0  # seconds before a refused stop is tried again
NewOrder = Callable[..., Order]
_WAITING = (OrderStatus.INITIALIZED, OrderStatus.PENDING, OrderStatus.UNKNOWN)
# read on every event: a module name is found faster than a member through its Enum class
# (Python 3.11 looks those up through EnumType.__getattr__'s hook, ~50 ns more each)
_OPEN = PositionStatus.OPEN
_STOP_LIMIT = OrderType.STOP_LIMIT
_RESTING = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class StopKeeper(StopEdits):
    """The stop order of the current position and its replacement."""

    def __init__(self, product: Product, settings: TraderSettings) -> None:
        self._product = product
        self._settings = settings
        self.unprotected: list[float] = []
        self.hold_moves = False  # the engine is stopping: start no new move (placing is fine)
        self._edit_refusals = 0  # refused edits in a row (kept from one position to the next)
        self.reset()

    def reset(self) -> None:
        """Forget the stop (the position is over)."""
        self.order: Order | None = None
        self.retiring: Order | None = None
        self.desired: Decimal | None = None
        self.confirmed: Decimal | None = None
        self._last_replace = float("-inf")
        self._unprotected_since: float | None = None
        self._cancel_ours: set[str] = set()
        self.frozen = False  # an operator exit is under way: place and move nothing
        self._stranded_since: float | None = None  # the price went below the stop's limit
        self._chase: Decimal | None = None  # sell at this limit once the stranded stop is gone
        self._retry_at = float("-inf")  # after a refused stop: not before this time
        self._forget_edits()

    def restore(self, position: Position, orders: list[Order]) -> None:
        """Take back the stop orders of a stored position (oldest first) after a restart."""
        self.desired = position.stop
        working = [order for order in orders if not order.is_done]
        if working:
            self.order = working[-1]
            if len(working) > 1:
                self.retiring = working[-2]
        current = self.order
        if (
            current is not None
            and current.order_type is OrderType.STOP_LIMIT
            and current.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
        ):
            self.confirmed = current.stop_price

    def orders(self) -> list[Order]:
        """The stop order and the one being replaced, when there are."""
        return [order for order in (self.order, self.retiring) if order is not None]

    def desire(self, position: Position, level: Decimal, now: float, d: m.Decision) -> None:
        """The trail wants the stop at ``level`` (never lower than before)."""
        if self.desired is not None and level <= self.desired:
            return
        self.desired = level
        d.batch.stops.append(
            StopChange(position.position_id, now, level, self.confirmed, None, "trail rose")
        )

    def place(self, position: Position, now: float, d: m.Decision, new_order: NewOrder) -> None:
        """Place a stop-limit sell for what the position holds, at the desired level."""
        if self.frozen or self.desired is None or self.order is not None or self.retiring:
            return
        if now < self._retry_at:
            return
        size = self._product.sell_size(position.quantity)
        # EXITING too: a stop that partly filled while being replaced leaves a remainder that
        # must stay protected
        held = position.status in (PositionStatus.OPEN, PositionStatus.EXITING)
        if not held or not self._product.can_carry_order(size):
            return
        self.order = new_order(
            OrderRole.STOP,
            OrderSide.SELL,
            OrderType.STOP_LIMIT,
            size,
            limit_price=self._limit_for(self.desired),
            stop_price=self.desired,
        )
        self._record(self.order, position, now, d)
        d.commands.append(m.PlaceOrder(self.order))

    def maybe_replace(
        self, position: Position, now: float, d: m.Decision, new_order: NewOrder
    ) -> None:
        """Start a replace when the desired stop is above the resting one and it is time."""
        wanted = self._wanted(position)
        if wanted is None:
            return
        if wanted == "place":
            # OPEN or EXITING: a remainder whose stop was refused is protected again on retry
            self.place(position, now, d, new_order)
            return
        if wanted == "raise" and now - self._last_replace < self._settings.min_stop_interval:
            return
        current = self.order
        assert current is not None
        if self._edit(current, position, now, d):
            return
        current.apply(CancelRequested())
        self._cancel_ours.add(current.client_order_id)
        self.retiring, self.order = current, None
        self._last_replace = now
        self._unprotected_since = now
        self._record(current, position, now, d)
        d.commands.append(m.CancelOrder(current))

    def _limit_for(self, stop: Decimal) -> Decimal:
        """The stop-limit's limit price for a stop at ``stop`` (the offset below it)."""
        offset = (HUNDRED - self._settings.stop_limit_offset_pct) / HUNDRED
        return min(stop, self._product.sell_limit_price(stop * offset))

    def settled(self, position: Position) -> bool:
        """True when :meth:`maybe_replace` would do nothing now or at any later time: only a
        new event (a higher trail, an order change) can give the stop something to do."""
        return self._wanted(position) is None

    def _wanted(self, position: Position) -> Literal["place", "resize", "raise"] | None:
        """What the stop needs, leaving time aside: a first stop, one that covers a grown
        position, one raised to the desired level — or nothing."""
        if self.frozen or self.retiring is not None or self.editing:
            return None
        current = self.order
        if current is None:
            return "place"
        if position.status is not _OPEN or self.hold_moves:
            return None
        if current.status in _WAITING or current.order_type is not _STOP_LIMIT:
            return None
        wanted: Literal["resize", "raise"]
        # a late entry fill grew the position: the stop must cover all of it
        if (
            current.filled_size == 0
            and position.quantity != current.size
            and current.size != self._product.sell_size(position.quantity)
        ):
            wanted = "resize"
        elif (
            self.desired is not None
            and current.stop_price is not None
            and self.desired > current.stop_price
        ):
            wanted = "raise"
        else:
            return None
        return wanted if current.allows(CancelRequested()) else None

    def watch(
        self, price: Decimal, position: Position, now: float, d: m.Decision, new_order: NewOrder
    ) -> None:
        """Notice a stop stranded below the market; past its time, cancel it to sell the rest."""
        order = self.order
        after = self._settings.stranded_stop_after
        if (
            after <= 0
            or self.frozen
            or self.hold_moves
            or self.retiring is not None
            or order is None
            or order.status not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
            or order.limit_price is None
            or price >= order.limit_price
        ):
            self._stranded_since = None
            return
        if self._stranded_since is None:
            self._stranded_since = now
            return
        if now - self._stranded_since < after or not order.allows(CancelRequested()):
            return
        offset = (HUNDRED - self._settings.stop_limit_offset_pct) / HUNDRED
        self._chase = self._product.sell_limit_price(price * offset)
        self._audit(
            d,
            now,
            "stop stranded",
            f"{order.client_order_id}: the price {price} stayed below its limit "
            f"{order.limit_price} for {after:g} s; selling the rest with a limit at {self._chase}",
        )
        order.apply(CancelRequested())
        self._cancel_ours.add(order.client_order_id)
        self.retiring, self.order = order, None
        self._stranded_since = None
        self._unprotected_since = now
        self._record(order, position, now, d)
        d.commands.append(m.CancelOrder(order))

    @property
    def moving(self) -> bool:
        """True while a move is under way: the old stop going, or the new one not yet resting,
        or an edit not yet answered."""
        waiting = self.order is not None and self.order.status in _WAITING
        return self.retiring is not None or waiting or self.editing

    def on_order_change(
        self, order: Order, position: Position, now: float, d: m.Decision, new_order: NewOrder
    ) -> None:
        """React to a new state of the stop order or of the one being replaced."""
        if order is self.retiring:
            self._retiring_changed(order, position, now, d, new_order)
        elif order is self.order:
            self._current_changed(order, position, now, d, new_order)

    def _retiring_changed(
        self, order: Order, position: Position, now: float, d: m.Decision, new_order: NewOrder
    ) -> None:
        if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.FILLED):
            self.retiring = None
            self.confirmed = None
            chase, self._chase = self._chase, None
            if chase is not None:
                self._sell_at(chase, position, now, d, new_order)
            else:
                self.place(position, now, d, new_order)  # nothing happens once all is sold
        elif order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
            self.retiring, self.order = None, order  # the cancel failed: it still protects us
            self._unprotected_since = None

    def _current_changed(
        self, order: Order, position: Position, now: float, d: m.Decision, new_order: NewOrder
    ) -> None:
        status = order.status
        if status in _RESTING:
            if order.order_type is _STOP_LIMIT and self.confirmed != order.stop_price:
                self.confirmed = order.stop_price
                d.batch.stops.append(
                    StopChange(
                        position.position_id,
                        now,
                        self.desired or order.stop_price or Decimal(0),
                        self.confirmed,
                        order.client_order_id,
                        "confirmed by the exchange",
                    )
                )
                if self._unprotected_since is not None:
                    self.unprotected.append(now - self._unprotected_since)
                    self._unprotected_since = None
            return
        if status is OrderStatus.REJECTED and "STOP_PRICE" in order.reason.upper():
            self.order = None
            self._exit_at_limit(order, position, now, d, new_order)
        elif status in (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            ours = order.client_order_id in self._cancel_ours or self.frozen
            self.order, self.confirmed = None, None
            self._audit(
                d, now, "stop lost", f"{order.client_order_id} {status.name}: {order.reason}"
            )
            if status is OrderStatus.REJECTED:
                # e.g. INSUFFICIENT_FUND: something else holds the coins; retrying at once would
                # only hammer the exchange — try again after a pause (timer or next tick)
                self._retry_at = now + max(self._settings.min_stop_interval, REFUSED_STOP_PAUSE)
            elif not ours:
                self._unprotected_since = self._unprotected_since or now
                self.place(position, now, d, new_order)

    def _exit_at_limit(
        self, stop: Order, position: Position, now: float, d: m.Decision, new_order: NewOrder
    ) -> None:
        """The market is already below the stop: sell at the stop's limit price instead."""
        if stop.limit_price is None:
            return
        self._audit(
            d,
            now,
            "stop already crossed",
            f"{stop.client_order_id}: exiting with a limit sell at {stop.limit_price}",
        )
        self._sell_at(stop.limit_price, position, now, d, new_order)

    def _sell_at(
        self, price: Decimal, position: Position, now: float, d: m.Decision, new_order: NewOrder
    ) -> None:
        """Sell what the position holds with a limit order at ``price`` (it becomes the stop)."""
        if self.frozen:
            return  # an operator's exit owns the position: its market sell takes it all
        size = self._product.sell_size(position.quantity)
        held = position.status in (PositionStatus.OPEN, PositionStatus.EXITING)
        if not held or not self._product.can_carry_order(size):
            return
        self.order = new_order(
            OrderRole.EXIT, OrderSide.SELL, OrderType.LIMIT, size, limit_price=price
        )
        self._record(self.order, position, now, d)
        d.commands.append(m.PlaceOrder(self.order))

    @staticmethod
    def _record(order: Order, position: Position, now: float, d: m.Decision) -> None:
        d.batch.orders.append(OrderRecord(order, position.position_id, now, now))

    def _audit(self, d: m.Decision, now: float, action: str, detail: str) -> None:
        d.batch.audit.append(AuditEntry(now, "engine", action, self._product.product_id, detail))
