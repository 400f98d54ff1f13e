"""Events that happen to an order (past tense), as the exchange or the engine reports them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ratchet.domain.money import MoneyError, to_decimal
from ratchet.domain.order_types import OrderError


def exact(value: Decimal, what: str) -> Decimal:
    """``value`` checked to be a finite Decimal (never a float), else :class:`OrderError`."""
    if type(value) is Decimal and value.is_finite():
        return value
    try:
        return to_decimal(value, what)
    except MoneyError as exc:
        raise OrderError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade against an order; ``trade_id`` makes it count once, however often reported.

    ``fee`` is in quote currency; ``liquidity`` is ``MAKER`` or ``TAKER``; ``time`` is Unix
    seconds (``None`` when unknown).
    """

    trade_id: str
    price: Decimal
    size: Decimal
    fee: Decimal = Decimal(0)
    liquidity: str = "MAKER"
    time: int | None = None

    def __post_init__(self) -> None:
        if not self.trade_id:
            raise OrderError("a fill needs a trade id")
        for name in ("price", "size", "fee"):
            exact(getattr(self, name), f"fill {self.trade_id} {name}")
        if self.price <= 0 or self.size <= 0:
            raise OrderError(f"fill {self.trade_id}: price and size must be > 0")
        if self.fee < 0:
            raise OrderError(f"fill {self.trade_id}: fee must be >= 0, got {self.fee}")

    @property
    def value(self) -> Decimal:
        """Price × size, in quote currency, before fees."""
        return self.price * self.size


@dataclass(frozen=True, slots=True)
class Submitted:
    """The order was sent (or sent again with the same client_order_id)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """The exchange acknowledged the order and gave it an id."""

    exchange_order_id: str


@dataclass(frozen=True, slots=True)
class Amended:
    """The exchange accepted an edit of price, stop price or size."""

    size: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None

    def __post_init__(self) -> None:
        exact(self.size, "amended size")
        for name in ("limit_price", "stop_price"):
            value = getattr(self, name)
            if value is not None and exact(value, f"amended {name}") <= 0:
                raise OrderError(f"amended {name} must be > 0, got {value}")


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """We asked the exchange to cancel the order."""


@dataclass(frozen=True, slots=True)
class CancelRejected:
    """The exchange refused the cancel (e.g. already filled, or a duplicate request)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The exchange cancelled the order (on our request or not)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Expired:
    """A good-till-date order reached its end time."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Rejected:
    """The order was refused (by the exchange, or locally before it was sent)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class MarkedUnknown:
    """We do not know the order's state (timeout after sending, "not found" on a look-up)."""

    reason: str = ""


OrderEvent = (
    Fill
    | Submitted
    | Accepted
    | Amended
    | CancelRequested
    | CancelRejected
    | Cancelled
    | Expired
    | Rejected
    | MarkedUnknown
)
