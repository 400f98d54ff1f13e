"""One leg of market movement and where along it an order becomes executable.

A leg is the market trading from ``prev`` to ``new``: continuously (every price in between
trades, in order) or as a gap (a jump: only ``new`` trades). A price threshold is *reached* on
the leg when some traded price is on its side: ``<=`` for a buy limit or a STOP_DOWN trigger,
``>=`` for a sell limit or a STOP_UP trigger. Since a leg is monotone, checking its two ends is
enough, and the distance from ``prev`` orders the executions along the path.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from ratchet.domain.money import ZERO
from ratchet.domain.order_types import OrderSide
from ratchet.sim.records import SimOrder, StopDirection, TriggerStatus

# read for every resting order on every leg: a module name is found faster than a member
# through its Enum class (Python 3.11 looks those up through EnumType.__getattr__'s hook)
_PENDING = TriggerStatus.PENDING
_DOWN = StopDirection.DOWN
_BUY = OrderSide.BUY


class Move(NamedTuple):
    """The market's move from the last price ``prev`` to ``new`` (``gap``: a jump).

    A named tuple: one is made for every leg that meets a resting order.
    """

    prev: Decimal
    new: Decimal
    gap: bool

    @property
    def low(self) -> Decimal:
        """Lowest price of the leg's range."""
        return min(self.prev, self.new)

    @property
    def high(self) -> Decimal:
        """Highest price of the leg's range."""
        return max(self.prev, self.new)

    def trigger_price(self, stop: Decimal, below: bool) -> Decimal:
        """The last trade at the moment a stop reached on this leg triggers.

        On a gap it is the new price. On a continuous leg it is the stop itself, or ``prev``
        when the last trade already stood at (or past) the stop.
        """
        if self.gap:
            return self.new
        already = self.prev <= stop if below else self.prev >= stop
        return self.prev if already else stop


def threshold_of(order: SimOrder) -> tuple[Decimal | None, bool]:
    """The price at which a resting order becomes executable, and True when the market must
    come down to it: a waiting stop's stop price (STOP_DOWN: from above), else the limit price
    (a buy: from above)."""
    if order.trigger_status == _PENDING:
        return order.stop_price, order.stop_direction == _DOWN
    return order.limit_price, order.side is _BUY


def reach(leg: Move, threshold: Decimal, below: bool) -> Decimal | None:
    """How far from ``prev`` the leg first trades on the ``below``/above side of ``threshold``.

    Zero when ``prev`` is already past the threshold (a remainder the liquidity cap left
    crossed); None when the leg never gets there. ``prev`` itself is the trade *before* the
    leg: an order resting exactly at it executes only when this leg trades there again.
    """
    if (leg.prev < threshold) if below else (leg.prev > threshold):
        return ZERO
    if (leg.new <= threshold) if below else (leg.new >= threshold):
        return abs(threshold - leg.prev)
    return None


def crosses(side: OrderSide, limit_price: Decimal, price: Decimal) -> bool:
    """True when a limit order at ``limit_price`` can trade at ``price`` (buy: price <= limit)."""
    return limit_price >= price if side is OrderSide.BUY else limit_price <= price


def takes_on_arrival(side: OrderSide, limit_price: Decimal, last: Decimal) -> bool:
    """True when a new limit order would take liquidity at once.

    The book is modelled one tick either side of the last trade (bid below, ask above), so a
    buy takes only with a limit above the last trade and a sell only with one below it; a limit
    *at* the last trade rests (as maker).
    """
    return limit_price > last if side is OrderSide.BUY else limit_price < last
