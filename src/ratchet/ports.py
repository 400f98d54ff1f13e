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
Exchange.edit_order            optional  False when the exchange refuses the edit (then the
                                         engine cancels and replaces)
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
=============================  ========  ===================================================
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from ratchet.domain.candles import Candle
from ratchet.domain.money import Product
from ratchet.domain.orders import Order
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
    ) -> bool: ...

    async def get_order(self, exchange_order_id: str) -> OrderReport: ...

    async def find_order(self, client_order_id: str) -> OrderReport | None: ...

    async def list_orders(
        self, *, product_ids: Sequence[str] | None = None, open_only: bool = False
    ) -> list[OrderReport]: ...

    async def list_fills(
        self,
        *,
        exchange_order_ids: Sequence[str] | None = None,
        product_ids: Sequence[str] | None = None,
    ) -> list[FillReport]: ...

    async def candles(self, product_id: str, start: int, end: int) -> list[Candle]: ...

    async def best_bid_ask(self, product_ids: Sequence[str]) -> dict[str, Quote]: ...

    async def server_time(self) -> float: ...


@dataclass(frozen=True, slots=True)
class TickerEvent:
    """A new last-trade price."""

    ticker: Ticker


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

    async def close(self) -> None: ...


class Clock(Protocol):
    """Time as the engine sees it: the wall clock live, a virtual one in backtests."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...
