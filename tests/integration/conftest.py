"""Fixtures of the adapter-against-simulator tests: a SimServer on 127.0.0.1, the real adapter.

Everything here talks over real loopback sockets. The simulator runs in manual-step mode
(``speed=0``): the market moves only when a test calls ``sim.step`` / ``sim.step_candles``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from aiohttp import web

from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter, RetryPolicy
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.domain.candles import Candle
from ratchet.domain.money import floor_to
from ratchet.domain.orders import Order, OrderSide, OrderType
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.ports import MarketEvent
from ratchet.sim.server import SimServer, SimSettings

PRODUCTS = ("ETH-BTC", "LTC-BTC", "ADA-BTC")
CANDLES_PER_PRODUCT = 400
WARM_UP_CANDLES = 4
BALANCES = {
    "BTC": Decimal(10),
    "ETH": Decimal(100),
    "LTC": Decimal(100),
    "ADA": Decimal(1_000_000),
    "USD": Decimal(100_000),
}
FAST_RETRY = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, timeout=0.5)


@cache
def demo_candles() -> dict[str, list[Candle]]:
    """The first candles of a few bundled demo pairs (read once per session)."""
    files = {pair_of(path): path for path in demo_candle_files()}
    return {pid: read_candles(files[pid])[:CANDLES_PER_PRODUCT] for pid in PRODUCTS}


class RecordingSim(SimServer):
    """The simulator plus a log of every HTTP request it received (before faults apply)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[tuple[str, str]] = []

    def app(self) -> web.Application:
        app = super().app()

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            self.requests.append((request.method, request.path))
            return await handler(request)

        app.middlewares.insert(0, record)
        return app

    def count(self, method: str, suffix: str) -> int:
        """How many requests of ``method`` to a path ending in ``suffix`` arrived."""
        return sum(1 for m, path in self.requests if m == method and path.endswith(suffix))

    def orders_with_client_id(self, client_order_id: str) -> list[Any]:
        """Every simulator order created with ``client_order_id``."""
        return [o for o in self.engine.orders() if o.client_order_id == client_order_id]


def sim_settings(**overrides: Any) -> SimSettings:
    """Manual stepping, fast heartbeats, the test balances."""
    values: dict[str, Any] = {
        "speed": 0,
        "heartbeat_interval": 0.2,
        "balances": dict(BALANCES),
    }
    values.update(overrides)
    return SimSettings(**values)


def make_transport(sim: SimServer, **overrides: Any) -> RestTransport:
    """A transport to ``sim`` with fast retries and a limiter that does not slow tests down."""
    assert sim.endpoints is not None
    options: dict[str, Any] = {
        "retry": FAST_RETRY,
        "private_limiter": RateLimiter(1000.0),
        "public_limiter": RateLimiter(1000.0),
    }
    options.update(overrides)
    return RestTransport(sim.endpoints.rest, options.pop("credentials", sim.credentials), **options)


@pytest.fixture
async def start_sim() -> AsyncIterator[Callable[..., Awaitable[RecordingSim]]]:
    """Start simulators (``SimSettings`` overrides as keywords); all are stopped at the end."""
    running: list[RecordingSim] = []

    async def start(
        candles: dict[str, list[Candle]] | None = None, **settings: Any
    ) -> RecordingSim:
        server = RecordingSim(candles or demo_candles(), sim_settings(**settings))
        await server.start()
        running.append(server)
        server.step_candles(WARM_UP_CANDLES)
        return server

    yield start
    for server in running:
        await server.stop()


@pytest.fixture
async def sim(start_sim: Callable[..., Awaitable[RecordingSim]]) -> RecordingSim:
    """A simulator of three demo pairs, a few candles into the replay (last prices known)."""
    return await start_sim()


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., RestTransport]]:
    """Make transports to a simulator (``RestTransport`` overrides as keywords); all closed."""
    made: list[RestTransport] = []

    def make(server: SimServer, **overrides: Any) -> RestTransport:
        rest = make_transport(server, **overrides)
        made.append(rest)
        return rest

    yield make
    for rest in made:
        await rest.close()


@pytest.fixture
def transport(sim: RecordingSim, connect: Callable[..., RestTransport]) -> RestTransport:
    """The adapter's HTTP layer, pointed at ``sim``."""
    return connect(sim)


@pytest.fixture
def exchange(transport: RestTransport) -> CoinbaseExchange:
    """The Coinbase adapter under test (its transport is closed by the ``connect`` fixture)."""
    return CoinbaseExchange(transport)


@pytest.fixture
def client_ids() -> Callable[[str], str]:
    """Deterministic, unique client order ids: ``rt-ETH-BTC-000001-entry``."""
    counter = itertools.count(1)
    return lambda pid: f"rt-{pid}-{next(counter):06d}-entry"


@pytest.fixture
def limit_buy(sim: RecordingSim, client_ids: Callable[[str], str]) -> Callable[..., Order]:
    """A limit buy ``below`` (a fraction) under the last price; a negative one takes at once."""

    def build(
        pid: str = "ETH-BTC",
        *,
        below: Decimal = Decimal("0.2"),
        size: Decimal | None = None,
        server: SimServer | None = None,
        **extra: Any,
    ) -> Order:
        engine = (server or sim).engine
        product, last = engine.product(pid), engine.last_price(pid)
        assert product is not None and last is not None
        return Order(
            client_ids(pid),
            pid,
            OrderSide.BUY,
            OrderType.LIMIT,
            size if size is not None else product.base_min_size * 2,
            limit_price=floor_to(last * (1 - below), product.price_increment),
            **extra,
        )

    return build


class FeedRecorder:
    """A started :class:`CoinbaseFeed` whose events are collected in the background."""

    def __init__(self, feed: CoinbaseFeed) -> None:
        self.feed = feed
        self.events: list[MarketEvent] = []
        self._changed = asyncio.Event()
        self._pump = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.feed.events():
            self.events.append(event)
            self._changed.set()

    def of(self, kind: type[Any]) -> list[Any]:
        """The events of one type, in arrival order."""
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(
        self, predicate: Callable[[], bool], what: str, timeout: float = 5.0
    ) -> None:
        """Wait until ``predicate()`` holds (checked after each event and every 20 ms)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            left = deadline - loop.time()
            if left <= 0:
                kinds = [type(e).__name__ for e in self.events[-10:]]
                raise AssertionError(
                    f"timed out waiting for {what}; stats={self.feed.stats}, last={kinds}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.02))

    async def close(self) -> None:
        """Close the feed and stop collecting."""
        await self.feed.close()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump


def subscribed(sim: SimServer, channel: str) -> int:
    """How many simulator connections subscribed to ``channel`` (reads the hub's state)."""
    return sum(1 for conn in sim.hub._connections if conn.wants(channel, None))


@pytest.fixture
async def open_feed(
    sim: RecordingSim, exchange: CoinbaseExchange
) -> AsyncIterator[Callable[..., Awaitable[FeedRecorder]]]:
    """Start a feed on ``sim`` and wait until its subscriptions are in place."""
    started: list[FeedRecorder] = []

    async def start(
        products: Sequence[str] = ("ETH-BTC",),
        *,
        user: bool = True,
        server: SimServer | None = None,
        via: CoinbaseExchange | None = None,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 2.0,
    ) -> FeedRecorder:
        target = server or sim
        assert target.endpoints is not None
        before_market, before_user = subscribed(target, "candles"), subscribed(target, "user")
        feed = CoinbaseFeed(
            target.endpoints.ws,
            target.endpoints.ws_user if user else None,
            products,
            via or exchange,
            target.credentials,
            idle_timeout=idle_timeout,
            max_backoff=0.2,
            ssl_context=ssl_context,
        )
        await feed.start()
        recorder = FeedRecorder(feed)
        started.append(recorder)
        await recorder.wait_for(
            lambda: (
                subscribed(target, "candles") > before_market
                and (not user or subscribed(target, "user") > before_user)
            ),
            "the feed's subscriptions",
        )
        await asyncio.sleep(0.05)  # let the subscription replies and the user snapshot arrive
        return recorder

    yield start
    for recorder in started:
        await recorder.close()
