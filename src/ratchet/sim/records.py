"""The simulator's records: orders, fills, accounts, and the requests and results of its API.

Statuses and the other enumerated fields are the exchange's own strings (``StrEnum`` members
compare equal to them), so the server can serialise the records to Coinbase JSON as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from ratchet.domain.money import ZERO
from ratchet.domain.order_types import OrderSide, OrderType

HUNDRED = Decimal(100)


class Status(StrEnum):
    """Order statuses the simulator uses (a partial fill is OPEN with ``filled_size > 0``)."""

    OPEN = "OPEN"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"  # never produced: refusals store no order


TERMINAL_STATUSES = frozenset({Status.FILLED, Status.CANCELLED, Status.EXPIRED, Status.FAILED})
# read on every event: a module name is found faster than a member through its Enum class
# (Python 3.11 looks those up through EnumType.__getattr__'s hook, ~50 ns more each)
_OPEN = Status.OPEN


class TimeInForce(StrEnum):
    """Time in force strings of the wire API."""

    GTC = "GOOD_UNTIL_CANCELLED"
    GTD = "GOOD_UNTIL_DATE_TIME"
    IOC = "IMMEDIATE_OR_CANCEL"


class StopDirection(StrEnum):
    """Which way the last trade price must cross ``stop_price`` to trigger a stop-limit order."""

    DOWN = "STOP_DIRECTION_STOP_DOWN"  # triggers when the last trade is <= stop
    UP = "STOP_DIRECTION_STOP_UP"  # triggers when the last trade is >= stop


class TriggerStatus(StrEnum):
    """Trigger state of a stop-limit order (INVALID_ORDER_TYPE for every other order type)."""

    PENDING = "STOP_PENDING"
    TRIGGERED = "STOP_TRIGGERED"
    NOT_A_STOP = "INVALID_ORDER_TYPE"


class Liquidity(StrEnum):
    """Whether a fill added liquidity (rested on the book) or took it."""

    MAKER = "MAKER"
    TAKER = "TAKER"


USER_CANCEL = "User requested cancel"
IOC_CANCEL = "Immediate or cancel: the unfilled remainder was cancelled"


@dataclass(frozen=True, slots=True)
class EditRecord:
    """One accepted edit: the order's new price, size and stop, and when the edit took effect."""

    price: Decimal
    size: Decimal
    stop_price: Decimal | None
    time: float


@dataclass(slots=True)
class SimOrder:
    """One order as the simulated exchange keeps it; mutated only by the matching engine.

    ``size`` is the base size (``None`` for a market buy given by ``quote_size``). ``hold`` is
    what the order still holds, in ``hold_currency`` (quote for buys, base for sells).
    """

    order_id: str
    client_order_id: str
    product_id: str
    side: OrderSide
    order_type: OrderType
    size: Decimal | None
    quote_size: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    stop_direction: str | None
    post_only: bool
    time_in_force: str
    end_time: float | None
    created_time: float
    hold_currency: str
    updated_time: float = 0.0
    hold: Decimal = ZERO
    status: str = Status.OPEN
    trigger_status: str = TriggerStatus.NOT_A_STOP
    filled_size: Decimal = ZERO
    filled_value: Decimal = ZERO
    total_fees: Decimal = ZERO
    number_of_fills: int = 0
    last_fill_time: float | None = None
    cancel_reason: str = ""
    reject_reason: str = ""
    edit_history: list[EditRecord] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """True while the order can still fill (status OPEN)."""
        return self.status == _OPEN

    @property
    def remaining_size(self) -> Decimal | None:
        """Base size still to fill (``None`` for a market buy given in quote)."""
        return None if self.size is None else self.size - self.filled_size

    @property
    def average_filled_price(self) -> Decimal:
        """Filled value over filled size (zero before the first fill)."""
        return self.filled_value / self.filled_size if self.filled_size else ZERO

    @property
    def completion_percentage(self) -> Decimal:
        """How much of the order has filled, in percent, rounded down to 0.01."""
        if self.size:
            done = self.filled_size / self.size
        elif self.quote_size:
            done = (self.filled_value + self.total_fees) / self.quote_size
        else:
            return ZERO
        return (done * HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_DOWN)

    @property
    def total_value_after_fees(self) -> Decimal:
        """What the fills cost (buy: value plus fees) or brought in (sell: value minus fees)."""
        if self.side is OrderSide.BUY:
            return self.filled_value + self.total_fees
        return self.filled_value - self.total_fees

    def snapshot(self) -> SimOrder:
        """An independent copy, for update feeds and callers that keep history.

        Spelled out field by field: ``dataclasses.replace`` costs several times as much, and
        every order change of a backtest takes a snapshot.
        """
        return SimOrder(
            self.order_id,
            self.client_order_id,
            self.product_id,
            self.side,
            self.order_type,
            self.size,
            self.quote_size,
            self.limit_price,
            self.stop_price,
            self.stop_direction,
            self.post_only,
            self.time_in_force,
            self.end_time,
            self.created_time,
            self.hold_currency,
            self.updated_time,
            self.hold,
            self.status,
            self.trigger_status,
            self.filled_size,
            self.filled_value,
            self.total_fees,
            self.number_of_fills,
            self.last_fill_time,
            self.cancel_reason,
            self.reject_reason,
            list(self.edit_history),
        )


@dataclass(frozen=True, slots=True)
class SimFill:
    """One trade of one of our orders; ``commission`` is in the quote currency."""

    entry_id: str
    trade_id: str
    order_id: str
    product_id: str
    side: OrderSide
    price: Decimal
    size: Decimal
    commission: Decimal
    liquidity: str
    time: float
    sequence: int

    @property
    def value(self) -> Decimal:
        """Price times size, in quote currency, before the commission."""
        return self.price * self.size


@dataclass(slots=True)
class SimAccount:
    """One currency of the simulated account: free to use, and held by open orders."""

    currency: str
    available: Decimal = ZERO
    hold: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Available plus held."""
        return self.available + self.hold

    def copy(self) -> SimAccount:
        """An independent copy (what queries hand out)."""
        return SimAccount(self.currency, self.available, self.hold)


@dataclass(frozen=True, slots=True)
class CreateOrderRequest:
    """What a POST /orders asks for, already parsed (one order configuration, flattened).

    ``time_in_force`` None means the configuration's natural one: GTC for limit and stop-limit
    orders, IOC for market orders. ``end_time`` (Unix seconds) is for GTD only.
    """

    client_order_id: str
    product_id: str
    side: OrderSide
    order_type: OrderType
    base_size: Decimal | None = None
    quote_size: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    stop_direction: str | None = None
    post_only: bool = False
    time_in_force: str | None = None
    end_time: float | None = None

    @classmethod
    def limit(
        cls,
        client_order_id: str,
        product_id: str,
        side: OrderSide,
        size: Decimal,
        price: Decimal,
        *,
        post_only: bool = False,
        end_time: float | None = None,
    ) -> CreateOrderRequest:
        """A ``limit_limit_gtc`` order, or ``limit_limit_gtd`` when ``end_time`` is given."""
        tif = TimeInForce.GTC if end_time is None else TimeInForce.GTD
        return cls(
            client_order_id,
            product_id,
            side,
            OrderType.LIMIT,
            base_size=size,
            limit_price=price,
            post_only=post_only,
            time_in_force=tif,
            end_time=end_time,
        )

    @classmethod
    def stop_limit(
        cls,
        client_order_id: str,
        product_id: str,
        side: OrderSide,
        size: Decimal,
        limit_price: Decimal,
        *,
        stop_price: Decimal,
        direction: str = StopDirection.DOWN,
        end_time: float | None = None,
    ) -> CreateOrderRequest:
        """A ``stop_limit_stop_limit_gtc`` (or ``_gtd``) order."""
        tif = TimeInForce.GTC if end_time is None else TimeInForce.GTD
        return cls(
            client_order_id,
            product_id,
            side,
            OrderType.STOP_LIMIT,
            base_size=size,
            limit_price=limit_price,
            stop_price=stop_price,
            stop_direction=direction,
            time_in_force=tif,
            end_time=end_time,
        )

    @classmethod
    def market(
        cls,
        client_order_id: str,
        product_id: str,
        side: OrderSide,
        *,
        base_size: Decimal | None = None,
        quote_size: Decimal | None = None,
    ) -> CreateOrderRequest:
        """A ``market_market_ioc`` order (give exactly one of the two sizes)."""
        return cls(
            client_order_id,
            product_id,
            side,
            OrderType.MARKET,
            base_size=base_size,
            quote_size=quote_size,
            time_in_force=TimeInForce.IOC,
        )


@dataclass(frozen=True, slots=True)
class CreateResult:
    """The answer to a create: the order (new, or the existing one for a repeated id) or why not."""

    success: bool
    order: SimOrder | None
    failure_reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The answer for one id of a batch cancel.

    Success rows carry ``UNKNOWN_CANCEL_FAILURE_REASON``, as the exchange's do.
    """

    order_id: str
    success: bool
    failure_reason: str


@dataclass(frozen=True, slots=True)
class EditResult:
    """The answer to an edit: success, or the edit/preview failure reasons."""

    success: bool
    errors: list[str] = field(default_factory=list)
