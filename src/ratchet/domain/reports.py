"""What the exchange tells us, as domain values: order and fill reports, balances, tickers.

Adapters turn wire JSON into these at the boundary, so no ``dict`` reaches the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ratchet.domain.money import ZERO
from ratchet.domain.order_types import OrderSide, OrderStatus, OrderType

EXCHANGE_STATUS = {
    "PENDING": OrderStatus.PENDING,
    "QUEUED": OrderStatus.PENDING,
    "OPEN": OrderStatus.OPEN,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCEL_QUEUED": OrderStatus.CANCEL_REQUESTED,
    "EDIT_QUEUED": OrderStatus.OPEN,
    "EXPIRED": OrderStatus.EXPIRED,
    "FAILED": OrderStatus.REJECTED,
    "UNKNOWN_ORDER_STATUS": OrderStatus.UNKNOWN,
}
"""Exchange status strings → our statuses (OPEN with a fill becomes PARTIALLY_FILLED)."""

# read on every event: a module name is found faster than a member through its Enum class
# (Python 3.11 looks those up through EnumType.__getattr__'s hook, ~50 ns more each)
_OPEN = OrderStatus.OPEN
_UNKNOWN = OrderStatus.UNKNOWN


def status_from_exchange(status: str, filled_size: Decimal = ZERO) -> OrderStatus:
    """Our status for an exchange status string; unknown strings map to UNKNOWN."""
    ours = EXCHANGE_STATUS.get(status.upper(), _UNKNOWN)
    if ours is _OPEN and filled_size > ZERO:
        return OrderStatus.PARTIALLY_FILLED
    return ours


@dataclass(frozen=True, slots=True)
class OrderReport:
    """The exchange's view of one order at one moment."""

    exchange_order_id: str
    client_order_id: str
    product_id: str
    side: OrderSide
    order_type: OrderType
    status: OrderStatus
    size: Decimal
    filled_size: Decimal = ZERO
    average_filled_price: Decimal = ZERO
    fees: Decimal = ZERO
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    created_time: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FillReport:
    """One trade of one of our orders, as the exchange's fills list reports it."""

    trade_id: str
    exchange_order_id: str
    product_id: str
    side: OrderSide
    price: Decimal
    size: Decimal
    fee: Decimal
    liquidity: str
    time: float


@dataclass(frozen=True, slots=True)
class Balance:
    """One currency of the account: what is free to use and what open orders hold."""

    currency: str
    available: Decimal
    hold: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Available plus held."""
        return self.available + self.hold


@dataclass(frozen=True, slots=True)
class Ticker:
    """The last trade price of a product (and the best bid/ask when known)."""

    product_id: str
    price: Decimal
    time: float
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid and ask of a product."""

    product_id: str
    bid: Decimal
    ask: Decimal
    time: float
