"""Shared set-up of the chaos tests: a whole paper-trading rig (the wiring of ``paper_trade``).

The simulator on 127.0.0.1 moves only when the test steps it; the engine trades through the
real Coinbase adapter (REST + WebSocket) and commits to a real SQLite file through a
:class:`~ratchet.engine.invariants.CheckingStore`, so every committed step is checked against
the trading rules while faults are switched on and off from the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter, RetryPolicy
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.domain.candles import Candle
from ratchet.domain.protections import ProtectionConfig, Protections
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.engine.invariants import CheckingStore
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime import Runtime
from ratchet.engine.settings import TraderSettings
from ratchet.sim.server import SimServer, SimSettings
from ratchet.store.sql_store import SqlStore


class ErrorLog(logging.Handler):
    """Keeps every ERROR the engine, adapter or simulator logged (a swallowed crash is a bug)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        """Each error as one line, with its exception when there was one."""
        found = []
        for record in self.records:
            text = f"{record.name}: {record.getMessage()} {getattr(record, 'pair', '')}"
            if record.exc_info and record.exc_info[1] is not None:
                text += f" -- {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            found.append(text)
        return found


@dataclass
class RigConfig:
    """What one campaign trades: candles per pair, settings per pair, the account."""

    series: dict[str, list[Candle]]
    settings: dict[str, TraderSettings] = field(default_factory=dict)
    cash: Decimal = Decimal(10)
    position_pct: Decimal = Decimal(10)
    participation: Decimal = Decimal("0.25")
    seed: int = 0


@dataclass
class Rig:
    """A running engine on a running simulator."""

    sim: SimServer
    exchange: CoinbaseExchange
    feed: CoinbaseFeed
    store: CheckingStore
    runtime: Runtime
    state: Path
    errors: ErrorLog

    @property
    def traders(self) -> Mapping[str, PairTrader]:
        return self.runtime.traders

    def backlog(self) -> int:
        """Messages and events not handled yet: in the simulator's outboxes, the feed's queue
        and the pairs' queues (a feed busy resyncing or reconnecting counts as one more)."""
        hub = self.sim.hub._connections  # a test looks inside
        queues = self.runtime._queues.values()
        waiting = sum(conn.outbox.qsize() for conn in hub) + self.feed.pending()
        waiting += sum(q.qsize() for q in queues)
        resyncing = self.feed._resync_lock.locked()
        return waiting + int(resyncing or not all(self.feed.connected.values()))

    async def idle(self, timeout: float = 2.0) -> bool:
        """Wait until nothing is in flight: no backlog, no command running (a while at most)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not self.backlog() and not self.runtime._executor.busy:
                return True
            await asyncio.sleep(0.005)
        return False

    async def within(self, backlog: int, timeout: float = 5.0) -> None:
        """Let the engine catch up until at most ``backlog`` is waiting (the market may run
        ahead of it, as it does live, but not without bound)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.backlog() > backlog and loop.time() < deadline:
            await asyncio.sleep(0.005)


_STANDARD = set(vars(logging.makeLogRecord({})))


class _ExtrasFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        return f"{record.created:.3f} {record.name} {record.getMessage()} {extras}"


def _trace_handler(state: Path) -> logging.Handler | None:
    """With RATCHET_CAMPAIGN_LOG=1 every engine/adapter log line goes next to the database."""
    if not os.environ.get("RATCHET_CAMPAIGN_LOG"):
        return None
    handler = logging.FileHandler(state.with_suffix(".log"))
    handler.setLevel(logging.INFO)
    handler.setFormatter(_ExtrasFormatter())
    return handler


async def _subscribed(sim: SimServer, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if sim.hub.subscribers("candles") and sim.hub.subscribers("user"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the feed never subscribed")


@contextlib.asynccontextmanager
async def open_rig(config: RigConfig, state: Path) -> AsyncIterator[Rig]:
    """Start simulator, adapter, store and engine as ``paper_trade`` does; stop them after."""
    errors = ErrorLog()
    logger = logging.getLogger("ratchet")
    logger.addHandler(errors)
    trace = _trace_handler(state)
    if trace is not None:
        logger.addHandler(trace)
        logger.setLevel(logging.INFO)
    quote = {pair.partition("-")[2] for pair in config.series}
    sim = SimServer(
        config.series,
        SimSettings(
            speed=0,
            seed=config.seed,
            balances=dict.fromkeys(quote, config.cash),
            participation=config.participation,
            heartbeat_interval=0.25,
        ),
    )
    endpoints = await sim.start(pace=False)
    transport = RestTransport(
        endpoints.rest,
        sim.credentials,
        retry=RetryPolicy(attempts=5, base_delay=0.02, max_delay=0.2, timeout=1.0),
        private_limiter=RateLimiter(2000),
    )
    exchange = CoinbaseExchange(transport)
    products = {p.product_id: p for p in await exchange.products(list(config.series))}
    feed = CoinbaseFeed(
        endpoints.ws,
        endpoints.ws_user,
        list(products),
        exchange,
        sim.credentials,
        idle_timeout=3.0,
        max_backoff=0.3,
    )
    traders = {
        pair: PairTrader(product, config.settings.get(pair)) for pair, product in products.items()
    }
    inner = await SqlStore.open(f"sqlite:///{state}")
    store = CheckingStore(inner, traders)
    cash = config.cash
    gate = RiskGate(PortfolioConfig(total_capital=cash, max_position_size_pct=config.position_pct))
    runtime = Runtime(
        exchange,
        feed,
        store,
        traders,
        gate,
        quote_currency=sorted(quote)[0],
        timer_interval=0.05,
        protections=Protections(ProtectionConfig(enabled=False), cash),
    )
    stop = asyncio.Event()
    engine: asyncio.Task[None] | None = None
    try:
        await runtime.restore()
        await feed.start()
        engine = asyncio.create_task(runtime.run(stop))
        await _subscribed(sim)
        yield Rig(sim, exchange, feed, store, runtime, state, errors)
    finally:
        stop.set()
        if engine is not None:
            await engine
        await feed.close()
        await exchange.close()
        await sim.stop()
        await store.close()
        logger.removeHandler(errors)
        if trace is not None:
            logger.removeHandler(trace)
            trace.close()


@pytest.fixture
def trading_rig(tmp_path: Path) -> Callable[..., Any]:
    """``async with trading_rig(config) as rig:`` — a rig whose state is in ``tmp_path``."""

    def start(config: RigConfig, name: str = "state.db") -> Any:
        return open_rig(config, tmp_path / name)

    return start


@pytest.fixture
def rig_config() -> type[RigConfig]:
    """The :class:`RigConfig` class (test files cannot import conftest)."""
    return RigConfig
