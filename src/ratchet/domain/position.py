"""A position in one pair, and the trailing stop that only ratchets up.

Life of a position::

    PENDING_ENTRY --entry done, something filled--> OPEN --exit fill--> EXITING --> CLOSED
          \\--entry done, nothing filled--> CANCELLED       \\--exit fill of all--> CLOSED

The stop is ``highest price seen since the entry filled × (1 − trail)``, rounded up to the
product's price grid, and it moves only up and only by at least a minimum step. There is no
stop and no exit before the entry has filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ratchet.domain.money import INFINITY, ZERO, Product, to_decimal
from ratchet.domain.order_events import Fill
from ratchet.domain.order_types import Vocabulary

HUNDRED = Decimal(100)


class PositionError(ValueError):
    """An event that a position in its current status cannot take (e.g. an exit before entry)."""


class PositionStatus(Vocabulary):
    """Where a position is in its life."""

    PENDING_ENTRY = "PENDING_ENTRY"
    OPEN = "OPEN"
    EXITING = "EXITING"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        """True once the position is over (closed, or cancelled with no fill)."""
        return self in _FINAL


_FINAL = (PositionStatus.CLOSED, PositionStatus.CANCELLED)
# read on every event: a module name is found faster than a member through its Enum class
# (Python 3.11 looks those up through EnumType.__getattr__'s hook, ~50 ns more each)
_OPEN = PositionStatus.OPEN


@dataclass(frozen=True, slots=True)
class TrailPolicy:
    """How far the stop trails the high (``trail_pct``) and the smallest move worth making.

    A stop moves only when the new level is at least ``min_step_pct`` percent of the current
    stop above it (and always by at least one price increment).
    """

    trail_pct: Decimal
    min_step_pct: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        trail = to_decimal(self.trail_pct, "trail_pct")
        step = to_decimal(self.min_step_pct, "min_step_pct")
        if not ZERO < trail < Decimal(50):
            raise PositionError(f"trail_pct must be > 0 and < 50, got {trail}")
        if step < ZERO:
            raise PositionError(f"min_step_pct must be >= 0, got {step}")
        object.__setattr__(self, "trail_pct", trail)
        object.__setattr__(self, "min_step_pct", step)


def trail_level(high_water: Decimal, policy: TrailPolicy, product: Product) -> Decimal:
    """The stop price that trails ``high_water`` by the policy's percentage (rounded up)."""
    return product.stop_price(high_water * (HUNDRED - policy.trail_pct) / HUNDRED)


def next_stop(
    current: Decimal | None, high_water: Decimal, policy: TrailPolicy, product: Product
) -> Decimal | None:
    """The stop to move to, or None to stay. Pure; never returns a level below ``current``.

    With no current stop the trail level is returned. Otherwise the trail level is returned only
    when it is at least one minimum step above ``current``.
    """
    level = trail_level(high_water, policy, product)
    if current is None:
        return level
    step = max(product.price_increment, current * policy.min_step_pct / HUNDRED)
    return level if level - current >= step else None


@dataclass(slots=True, eq=False)
class Position:
    """One position in one pair; its methods are the only way it changes.

    ``stop`` is the *desired* stop: what the engine wants resting on the exchange. Whether the
    exchange has confirmed it is the engine's business (it keeps the confirmed stop apart).
    """

    position_id: str
    product: Product
    policy: TrailPolicy
    status: PositionStatus = PositionStatus.PENDING_ENTRY
    quantity: Decimal = ZERO
    entry_size: Decimal = ZERO
    entry_value: Decimal = ZERO
    entry_fees: Decimal = ZERO
    exit_size: Decimal = ZERO
    exit_value: Decimal = ZERO
    exit_fees: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    high_water: Decimal | None = None
    stop: Decimal | None = None
    _checked_high: Decimal | None = field(default=None, repr=False, compare=False)

    # -- queries ----------------------------------------------------------------------------
    @property
    def pair(self) -> str:
        """The product id, e.g. ``ETH-BTC``."""
        return self.product.product_id

    @property
    def entry_price(self) -> Decimal | None:
        """Average entry fill price, or None before the first fill."""
        return self.entry_value / self.entry_size if self.entry_size else None

    @property
    def can_carry_stop(self) -> bool:
        """True when the held quantity is large enough for a stop order on this product."""
        return self.product.can_carry_order(self.quantity)

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        """Value of what is held at ``price`` minus its share of the entry cost and fees."""
        if not self.quantity:
            return ZERO
        return self.quantity * price - self._cost_of(self.quantity)

    # -- entry ------------------------------------------------------------------------------
    def on_entry_fill(self, fill: Fill) -> None:
        """Count a fill of the entry order.

        Normally while the entry is pending; a fill reported late (after the entry was taken
        as done) is still counted while the position is OPEN, and the stop must grow with it.
        """
        if self.status not in (PositionStatus.PENDING_ENTRY, PositionStatus.OPEN):
            raise PositionError(f"{self.position_id}: entry fill while {self.status.name}")
        self.quantity += fill.size
        self.entry_size += fill.size
        self.entry_value += fill.value
        self.entry_fees += fill.fee
        self.high_water = (
            fill.price if self.high_water is None else max(self.high_water, fill.price)
        )

    def on_entry_done(self) -> Decimal | None:
        """The entry order is finished: open with a first stop, or cancel if nothing filled.

        Returns the stop to place (None when the position was cancelled).
        """
        if self.status is not PositionStatus.PENDING_ENTRY:
            raise PositionError(f"{self.position_id}: entry done while {self.status.name}")
        if self.high_water is None:
            self.status = PositionStatus.CANCELLED
            return None
        self.status = PositionStatus.OPEN
        self.stop = next_stop(None, self.high_water, self.policy, self.product)
        return self.stop

    # -- while open ---------------------------------------------------------------------------
    def on_price(self, price: Decimal) -> Decimal | None:
        """A trade price was seen; return the new stop when it ratchets up, else None.

        Prices before the first entry fill are ignored (the high counts from the fill on).
        """
        if self.high_water is None or self.status.is_final:
            return None
        if price <= self.high_water and self._checked_high == self.high_water:
            return None  # no new high since the last check: the trail level cannot have moved
        self.high_water = max(self.high_water, price)
        if self.status is not PositionStatus.OPEN:
            return None
        moved = next_stop(self.stop, self.high_water, self.policy, self.product)
        self._checked_high = self.high_water
        if moved is not None:
            self.stop = moved
        return moved

    def tick_ceiling(self) -> Decimal | None:
        """Prices at or below this change nothing in :meth:`on_price` (None: any price may)."""
        high = self.high_water
        if high is None or self.status in _FINAL:  # (is_final, without its call)
            return INFINITY
        if self.status is not _OPEN or self._checked_high == high:
            return high
        return None

    def restore_stop(self, recorded: Decimal) -> None:
        """Take a stop level recorded earlier (restart, config change): it can only raise.

        The level is put on the price grid, rounding up (a stop never loosens).
        """
        if self.status not in (PositionStatus.OPEN, PositionStatus.EXITING):
            raise PositionError(f"{self.position_id}: no stop while {self.status.name}")
        level = self.product.stop_price(to_decimal(recorded, f"{self.position_id} stop"))
        if self.stop is None or level > self.stop:
            self.stop = level

    def change_policy(self, policy: TrailPolicy) -> None:
        """Use a new trail from now on; the current stop stays where it is (never loosens)."""
        self.policy = policy
        self._checked_high = None

    # -- exit -------------------------------------------------------------------------------
    def begin_exit(self) -> None:
        """An exit is under way (stop triggered, or an operator force-exit)."""
        if self.status not in (PositionStatus.OPEN, PositionStatus.EXITING):
            raise PositionError(f"{self.position_id}: cannot exit while {self.status.name}")
        self.status = PositionStatus.EXITING

    def on_exit_fill(self, fill: Fill) -> None:
        """Count a fill of an exit order; close the position when nothing is left."""
        if self.status not in (PositionStatus.OPEN, PositionStatus.EXITING):
            raise PositionError(
                f"{self.position_id}: exit fill while {self.status.name} (no exit before entry)"
            )
        if fill.size > self.quantity:
            raise PositionError(
                f"{self.position_id}: exit fill {fill.trade_id} sells {fill.size}, "
                f"only {self.quantity} held"
            )
        self.realized_pnl += fill.value - fill.fee - self._cost_of(fill.size)
        self.quantity -= fill.size
        self.exit_size += fill.size
        self.exit_value += fill.value
        self.exit_fees += fill.fee
        if self.quantity:
            self.status = PositionStatus.EXITING
            return
        self.status = PositionStatus.CLOSED
        # exact total, free of the rounding of the partial cost shares
        self.realized_pnl = self.exit_value - self.exit_fees - self.entry_value - self.entry_fees

    def _cost_of(self, size: Decimal) -> Decimal:
        """Entry cost (value plus fees) of ``size`` units of the entry, pro rata."""
        return (self.entry_value + self.entry_fees) * size / self.entry_size
