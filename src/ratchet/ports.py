"""The ports the engine needs, as Protocols; adapters (``coinbase``, ``sim``) implement them.

=============================  ========  ===================================================
method                         required  what it must guarantee
=============================  ========  ===================================================
Exchange.products              yes       increments and minimum sizes of the products asked
Exchange.balances              yes       available and held amount of every currency
Exchange.place_order           yes       idempotent by ``client_order_id``: a retry or a
                                         timeout never creates a second order; refusals raise
                                         :class:`OrderRefused` with the exchange's reason
Exchange.cancel_orders         yes       one result per id; "already gone" is a result, not
                                         an exception
Exchange.edit_order            optional  an :class:`EditResult`: applied as asked, or refused
                                         with the exchange's reasons (then the engine cancels
                                         and replaces)
Exchange.get_order             yes       raises :class:`OrderNotFound` for an unknown id
Exchange.find_order            yes       look-up by ``client_order_id`` (None: never arrived)
Exchange.list_orders           yes       every page, optionally only open orders
Exchange.list_fills            yes       every page; each fill has its trade id
Exchange.candles               yes       closed 5-minute candles, oldest first
Exchange.best_bid_ask          optional  for display and sanity checks
Exchange.server_time           optional  for clock-skew checks
MarketData.events              yes       tickers, candles, order updates, and a
                                         :class:`Resynced` marker after every reconnect/gap
Clock.now / Clock.sleep        yes       Unix seconds; a virtual clock in backtests
Store.commit                   yes       one transaction per batch; intents written before send
Store.load                     yes       positions not final and their orders (restart)
=============================  ========  ===================================================
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol

from ratchet.domain.candles import Candle
from ratchet.domain.money import Product
from ratchet.domain.orders import Fill, Order
from ratchet.domain.position import Position
from ratchet.domain.reports import Balance, FillReport, OrderReport, Quote, Ticker


class ExchangeError(Exception):
    """The exchange could not do what was asked (after the retries that were safe)."""


class ExchangeUnavailable(ExchangeError):
    """Network failure, 5xx or rate limiting that outlasted the retries."""


class AuthenticationError(ExchangeError):
    """Missing, malformed or refused API credentials."""


class UnexpectedReply(ExchangeError):
    """A reply whose shape does not match the API (logged with its body, never a crash)."""


class OrderNotFound(ExchangeError):
    """The exchange does not know the order id."""


class OrderRefused(ExchangeError):
    """The exchange refused to create an order; ``reason`` is its failure reason."""

    def __init__(self, client_order_id: str, reason: str, message: str = "") -> None:
        super().__init__(f"{client_order_id}: refused: {reason} {message}".strip())
        self.client_order_id = client_order_id
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The outcome of cancelling one order."""

    exchange_order_id: str
    success: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EditResult:
    """The outcome of editing one order: applied as asked, or refused (with the reasons)."""

    success: bool
    reason: str = ""


class Exchange(Protocol):
    """Trading and account calls of a spot exchange (see the table in the module docstring)."""

    async def products(self, product_ids: Sequence[str] | None = None) -> list[Product]: ...

    async def balances(self) -> dict[str, Balance]: ...

    async def place_order(self, order: Order) -> OrderReport: ...

    async def cancel_orders(self, exchange_order_ids: Sequence[str]) -> list[CancelResult]: ...

    async def edit_order(
        self,
        exchange_order_id: str,
        *,
        size: Decimal,
        limit_price: Decimal,
        stop_price: Decimal | None = None,
    ) -> EditResult: ...

    async def get_order(self, exchange_order_id: str) -> OrderReport: ...

    async def find_order(
        self, client_order_id: str, *, product_id: str | None = None
    ) -> OrderReport | None: ...

    async def list_orders(
        self, *, product_ids: Sequence[str] | None = None, open_only: bool = False
    ) -> list[OrderReport]: ...

    async def list_fills(
        self,
        *,
        exchange_order_ids: Sequence[str] | None = None,
        product_ids: Sequence[str] | None = None,
        skip_trade_ids: Collection[str] = (),
    ) -> list[FillReport]:
        """Fills (every page), optionally of some orders or products; fills whose trade id
        is in ``skip_trade_ids`` (already known) are left out before they are parsed."""

    async def candles(self, product_id: str, start: int, end: int) -> list[Candle]: ...

    async def best_bid_ask(self, product_ids: Sequence[str]) -> dict[str, Quote]: ...

    async def server_time(self) -> float: ...


@dataclass(frozen=True, slots=True)
class TickerEvent:
    """A new last-trade price; ``received``: ``time.perf_counter()`` when the feed read the
    message from its socket (0: not known), where a tick's latency starts."""

    ticker: Ticker
    received: float = 0.0


@dataclass(frozen=True, slots=True)
class CandleEvent:
    """A candle update from the feed (may repeat for one start; closed-ness is decided later)."""

    product_id: str
    candle: Candle


@dataclass(frozen=True, slots=True)
class OrderUpdateEvent:
    """An order changed on the exchange (user channel)."""

    report: OrderReport


@dataclass(frozen=True, slots=True)
class Resynced:
    """The feed reconnected or saw a gap and re-read orders and balances over REST.

    ``orders`` are the open orders after the resync; the engine compares them with its own.
    """

    reason: str
    orders: tuple[OrderReport, ...]
    balances: tuple[Balance, ...]


MarketEvent = TickerEvent | CandleEvent | OrderUpdateEvent | Resynced


class MarketData(Protocol):
    """A live feed of market and order events for a set of products."""

    def events(self) -> AsyncIterator[MarketEvent]: ...

    def listen(self, handler: Callable[[MarketEvent], None] | None) -> None:
        """Hand each event to ``handler`` as it is read, not through :meth:`events`
        (``None``: back to :meth:`events`)."""

    async def close(self) -> None: ...


class Clock(Protocol):
    """Time as the engine sees it: the wall clock live, a virtual one in backtests."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


# -- persistence ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when and why: every operator action and every repair leaves one."""

    time: float
    actor: str
    action: str
    subject: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StopChange:
    """A move of a position's stop: the desired level and, once the exchange has it, confirmed."""

    position_id: str
    time: float
    desired: Decimal
    confirmed: Decimal | None
    client_order_id: str | None
    reason: str = ""


class SignalRecord(NamedTuple):
    """One closed candle's verdict, kept so an operator can see why the engine (did not) enter.

    A named tuple: one is built for every closed candle of every pair (a frozen dataclass
    costs four times as much to build).
    """

    pair: str
    start: int
    close: Decimal
    rsi: float | None
    macd: float | None
    macd_signal: float | None
    vwap: float | None
    rsi_ok: bool | None
    macd_ok: bool | None
    vwap_ok: bool | None
    enter: bool


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as stored: the order itself and the position it belongs to."""

    order: Order
    position_id: str
    created_at: float
    updated_at: float


@dataclass(slots=True, init=False)
class StateBatch:
    """Everything one engine step changed; the store writes it in ONE transaction.

    Orders and positions are full snapshots (upserted by client_order_id / position_id);
    fills are inserted once per trade id (a repeat is ignored, never counted twice).
    """

    orders: list[OrderRecord]
    positions: list[Position]
    fills: list[tuple[str, Fill]]  # (client_order_id, fill)
    stops: list[StopChange]
    signals: list[SignalRecord]
    audit: list[AuditEntry]

    def __init__(  # spelled out: one is made for every event, 2.5 x faster than generated
        self,
        *,
        orders: list[OrderRecord] | None = None,
        positions: list[Position] | None = None,
        fills: list[tuple[str, Fill]] | None = None,
        stops: list[StopChange] | None = None,
        signals: list[SignalRecord] | None = None,
        audit: list[AuditEntry] | None = None,
    ) -> None:
        self.orders = [] if orders is None else orders
        self.positions = [] if positions is None else positions
        self.fills = [] if fills is None else fills
        self.stops = [] if stops is None else stops
        self.signals = [] if signals is None else signals
        self.audit = [] if audit is None else audit

    def __bool__(self) -> bool:
        return any((self.orders, self.positions, self.fills, self.stops, self.signals, self.audit))


@dataclass(frozen=True, slots=True)
class StoredState:
    """What a restart hydrates: positions not final, their orders, and the id counters."""

    positions: tuple[Position, ...]
    orders: tuple[OrderRecord, ...]
    position_sequences: dict[str, int]


class Store(Protocol):
    """Durable state. Every method is one transaction; none blocks the event loop.

    ``commit`` is write-ahead for intents: an order in status INITIALIZED is committed before
    it is sent. ``load`` returns every position that is not CLOSED/CANCELLED and every order
    of those positions plus every order that is not terminal.
    """

    async def commit(self, batch: StateBatch) -> None: ...

    def submit(self, batch: StateBatch, *, urgent: bool = True) -> asyncio.Future[None]:
        """Snapshot ``batch`` now and queue its write after every earlier one (in order).

        Await the future when the next step depends on it (write-ahead before a send); a batch
        no command depends on may go on without waiting for the disk, and (``urgent=False``)
        may be held a few milliseconds to share a transaction with others.
        """
        ...

    async def load(self, products: dict[str, Product]) -> StoredState: ...

    async def next_position_sequence(self, pair: str) -> int: ...

    async def close(self) -> None: ...


class History(Protocol):
    """The stored past, for the operating surfaces (optional: a memory-only run has none)."""

    async def closed_positions(self) -> list[Position]: ...

    async def orders_of(self, position_id: str) -> list[OrderRecord]: ...

    async def stop_changes(self, position_id: str) -> list[StopChange]: ...
