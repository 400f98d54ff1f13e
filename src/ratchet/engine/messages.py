"""The engine's messages: events a :class:`PairTrader` takes, commands it gives back.

Events are past tense (something happened); commands are imperative (something to do). The
runtime (live/paper) or the backtester carries commands out against the ports and feeds the
results back as events; the trader itself never awaits anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ratchet.domain.candles import Candle
from ratchet.domain.orders import Amended, OperatorAction, Order
from ratchet.domain.reports import FillReport, OrderReport
from ratchet.ports import StateBatch


# -- events ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CandleClosed:
    """A 5-minute candle of the pair closed (never a partial one)."""

    candle: Candle


@dataclass(frozen=True, slots=True)
class PriceTick:
    """A trade price of the pair (ticker); ``received`` is the runtime's monotonic arrival time."""

    price: Decimal
    time: float
    received: float = 0.0


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    """The exchange reported the state of one of our orders."""

    report: OrderReport


@dataclass(frozen=True, slots=True)
class FillsReported:
    """Trades of our orders, from the fills list (each counts once by trade id)."""

    fills: tuple[FillReport, ...]


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """The exchange accepted an order we sent (the create call returned its id)."""

    client_order_id: str
    exchange_order_id: str


@dataclass(frozen=True, slots=True)
class OrderRefusedByExchange:
    """The exchange refused an order we sent; nothing rests."""

    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderSendFailed:
    """Sending did not settle whether the order exists (timeout, outage): look it up later."""

    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CancelAnswered:
    """The exchange answered a cancel request."""

    client_order_id: str
    success: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EditAnswered:
    """The exchange answered an edit of an order's terms: applied as asked, or not at all."""

    client_order_id: str
    terms: Amended
    success: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EntryApproved:
    """The risk gate allows an entry with this much quote currency."""

    budget: Decimal


@dataclass(frozen=True, slots=True)
class EntryDenied:
    """The risk gate refused an entry."""

    reason: str


@dataclass(frozen=True, slots=True)
class ForceExitRequested:
    """An operator asked to exit the pair's position now (force-exit or liquidation)."""

    action: OperatorAction


@dataclass(frozen=True, slots=True)
class EntryRequestedByOperator:
    """An operator asked for a limit-buy entry of ``size`` at ``price`` (risk gate passed)."""

    price: Decimal
    size: Decimal
    action: OperatorAction


@dataclass(frozen=True, slots=True)
class CancelRequestedByOperator:
    """An operator asked to cancel one working entry order."""

    client_order_id: str
    action: OperatorAction


@dataclass(frozen=True, slots=True)
class TimerFired:
    """Time passed (for stop-replace intervals and other deadlines)."""

    now: float


@dataclass(frozen=True, slots=True)
class OrderNotOnExchange:
    """A look-up found no order with this client_order_id: it never arrived."""

    client_order_id: str


@dataclass(frozen=True, slots=True)
class OrderRead:
    """A read of this order's fills and state (``FetchFills`` without a report) is answered:
    what it found came just before. Until then a finished order is not let go of."""

    client_order_id: str


@dataclass(frozen=True, slots=True)
class ReadFailed:
    """A read of an order's fills and state, or a look-up, failed every attempt.

    The trader asks again later: nothing else would, and an unread fill is a position nobody
    protects.
    """

    command: FetchFills | LookUpOrder


EngineEvent = (
    CandleClosed
    | PriceTick
    | OrderUpdated
    | FillsReported
    | OrderPlaced
    | OrderRefusedByExchange
    | OrderSendFailed
    | CancelAnswered
    | EditAnswered
    | EntryApproved
    | EntryDenied
    | TimerFired
    | OrderNotOnExchange
    | ReadFailed
    | OrderRead
    | ForceExitRequested
    | EntryRequestedByOperator
    | CancelRequestedByOperator
)


# -- commands -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Send this order (its intent is in the same decision's batch, committed first)."""

    order: Order


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Ask the exchange to cancel this order."""

    order: Order


@dataclass(frozen=True, slots=True)
class EditOrder:
    """Change a resting order's terms in place (a stop moved without being cancelled)."""

    order: Order
    terms: Amended

    @property
    def limit_price(self) -> Decimal:
        """The limit price the edit asks for: the terms', else the order's own."""
        price = self.terms.limit_price or self.order.limit_price
        if price is None:
            raise ValueError(f"{self.order.client_order_id}: an edit needs a limit price")
        return price


@dataclass(frozen=True, slots=True)
class FetchFills:
    """Read the fills of this order (the exchange reported more filled than we counted).

    ``report``: the exchange's report that asked for the read; it is handed back after the
    fills instead of reading the order's state again (None: read the state too).
    """

    order: Order
    report: OrderReport | None = None


@dataclass(frozen=True, slots=True)
class LookUpOrder:
    """Find out whether an order whose send did not settle reached the exchange (by its id)."""

    order: Order


@dataclass(frozen=True, slots=True)
class RequestEntry:
    """Ask the risk gate for an entry at ``price`` (answered by EntryApproved/EntryDenied)."""

    pair: str
    price: Decimal
    time: float


EngineCommand = PlaceOrder | CancelOrder | EditOrder | FetchFills | LookUpOrder | RequestEntry


@dataclass(slots=True, init=False)
class Decision:
    """What one event led to: commands to carry out, and state to commit before them."""

    commands: list[EngineCommand]
    batch: StateBatch

    def __init__(  # spelled out: one is made for every event
        self, commands: list[EngineCommand] | None = None, batch: StateBatch | None = None
    ) -> None:
        self.commands = [] if commands is None else commands
        self.batch = StateBatch() if batch is None else batch
