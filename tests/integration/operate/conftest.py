"""Fixtures of the operator-command tests: a real engine trades on the simulator, then stops.

``traded`` starts a simulator on 127.0.0.1 (manual steps) and runs the real engine (the
Coinbase adapter over loopback, a SqlStore on a temporary file, traders built from a YAML
config whose ``exchange.rest_url`` is the simulator) until a wanted state is reached, then
stops the engine gracefully: its stops keep resting on the simulator. The commands then run
through typer's CliRunner in a worker thread (they start their own event loop), while the
simulator keeps serving on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from typer.testing import CliRunner, Result

from ratchet.app import Endpoints, open_engine
from ratchet.cli.main import app
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.config import load_config
from ratchet.domain.position import PositionStatus
from ratchet.domain.risk import RiskGate
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime import Runtime
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.ports import AuditEntry, OrderRecord
from ratchet.sim.server import SimServer, SimSettings
from ratchet.store import queries
from ratchet.store.database import Database
from ratchet.store.lock import EngineLock
from ratchet.store.sql_store import SqlStore
from ratchet.web.server import start_web
from ratchet.web.users import Role, add_user

PAIRS = ("ETH-BTC", "LTC-BTC")
LEGS_AT_MOST = 1600

Predicate = Callable[[dict[str, PairTrader]], bool]


def stops_resting(traders: dict[str, PairTrader]) -> bool:
    """Every pair holds an open position whose stop rests on the exchange."""
    return all(
        t.position is not None
        and t.position.status is PositionStatus.OPEN
        and t.stops.confirmed is not None
        for t in traders.values()
    )


def entry_working(traders: dict[str, PairTrader]) -> bool:
    """Some pair's entry rests on the exchange, nothing of it filled."""
    return any(
        t.entry is not None
        and t.entry.status.value == "OPEN"
        and not t.entry.filled_size
        and t.entry.exchange_order_id is not None
        for t in traders.values()
    )


@dataclass
class World:
    """A simulator and the database and config an engine left behind."""

    sim: SimServer
    config: Path
    db_url: str
    traders: dict[str, PairTrader]
    env: dict[str, str | None] = field(default_factory=dict)

    def database(self) -> Database:
        """The state database, opened for reading (close it after use)."""
        return Database.open(self.db_url, create=False)

    def positions(self, status: PositionStatus | None = None) -> dict[str, str]:
        """Position id -> status of every position (or of one status) in the store."""
        database = self.database()
        try:
            found = queries.list_positions(database, statuses=[status] if status else [])
        finally:
            database.close()
        return {p.position_id: p.status.value for p in found}

    def orders(self) -> list[OrderRecord]:
        """Every order in the store (newest first)."""
        database = self.database()
        try:
            return queries.list_orders(database)
        finally:
            database.close()

    def audit(self) -> list[AuditEntry]:
        """The audit log."""
        database = self.database()
        try:
            return queries.audit_entries(database, limit=10_000)
        finally:
            database.close()

    def sim_orders(self) -> dict[str, tuple[str, str, str]]:
        """client_order_id -> (type, side, status) of every order the simulator knows."""
        return {
            o.client_order_id: (o.order_type.value, o.side.value, str(o.status))
            for o in self.sim.engine.orders()
        }

    def resting(self, pair: str, order_type: str) -> str:
        """The client_order_id of ``pair``'s one open order of ``order_type`` on the simulator."""
        [found] = [
            o.client_order_id
            for o in self.sim.engine.orders(product_ids=[pair], statuses=["OPEN"])
            if o.order_type.value == order_type
        ]
        return found

    def snapshot(self) -> tuple[object, ...]:
        """Everything a refused command must leave alone: store and simulator."""
        orders = sorted((r.order.client_order_id, r.order.status.value) for r in self.orders())
        return self.positions(), orders, len(self.audit()), self.sim_orders()

    def args(self, *words: str) -> list[str]:
        """Command-line words with this world's --config."""
        return [*words, "--config", str(self.config)]


def write_config(path: Path, sim: SimServer, db_url: str) -> Path:
    """A config that enters on nearly every candle, on the simulator and the given store."""
    assert sim.endpoints is not None
    config = {
        # small positions: a market sell is capped by the volume of the simulator's legs
        "portfolio": {"total_capital": 0.2, "max_position_size_pct": 10},
        "protections": {"enabled": False},
        "strategy": {
            "rsi_below": 99,
            "min_confirmations": 1,
            "min_stop_interval": 0,
            "entry_ttl_candles": 1000,
        },
        "exchange": {
            "rest_url": sim.endpoints.rest,
            "ws_url": sim.endpoints.ws,
            "ws_user_url": sim.endpoints.ws_user,
        },
        "store": {"url": db_url},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def run_engine_until(world: World, wanted: Predicate) -> None:
    """Run the real engine (as ``ratchet run`` wires it) until ``wanted``; stop it gracefully."""
    sim, endpoints = world.sim, world.sim.endpoints
    assert endpoints is not None
    config = load_config(world.config)
    exchange = CoinbaseExchange(
        RestTransport(endpoints.rest, sim.credentials, private_limiter=RateLimiter(10_000))
    )
    products = {p.product_id: p for p in await exchange.products(list(PAIRS))}
    feed = CoinbaseFeed(endpoints.ws, endpoints.ws_user, list(PAIRS), exchange, sim.credentials)
    store = await SqlStore.open(world.db_url)
    traders = {p: PairTrader(products[p], config.trader_settings(p)) for p in PAIRS}
    runtime = Runtime(
        exchange, feed, store, traders, RiskGate(config.portfolio_config()), quote_currency="BTC"
    )
    await runtime.restore()
    await feed.start()
    stop = asyncio.Event()
    engine = asyncio.create_task(runtime.run(stop))
    try:
        while not (sim.hub.subscribers("user") and sim.hub.subscribers("candles")):
            await asyncio.sleep(0.01)
        for _ in range(LEGS_AT_MOST):
            if wanted(traders):
                break
            assert sim.step(1), "the replay ended before the wanted state"
            await asyncio.sleep(0.01)
            await runtime.drain()
        else:
            raise AssertionError("the engine never reached the wanted state")
        await asyncio.sleep(0.05)
        await runtime.drain()
    finally:
        stop.set()
        await engine
        await feed.close()
        await exchange.close()
        await store.close()
    world.traders = traders


@pytest.fixture
async def traded(tmp_path: Path) -> AsyncIterator[Callable[[Predicate], Awaitable[World]]]:
    """Make a world: the simulator and an engine run until the predicate held, then stopped."""
    started: list[SimServer] = []

    async def make(wanted: Predicate) -> World:
        files = {pair_of(f): f for f in demo_candle_files()}
        candles = {pair: read_candles(files[pair])[:500] for pair in PAIRS}
        balances = {"BTC": Decimal(10)}
        sim = SimServer(candles, SimSettings(speed=0, heartbeat_interval=0.2, balances=balances))
        await sim.start()
        started.append(sim)
        db_url = f"sqlite:///{tmp_path / 'state' / 'ratchet.db'}"
        config = write_config(tmp_path / "ratchet.yaml", sim, db_url)
        world = World(sim, config, db_url, {})
        world.env = {
            "CB_API_KEY": sim.credentials.key_name,
            "CB_API_SECRET": sim.private_key_pem,
            "RATCHET_DB_URL": None,
            "RATCHET_DB_KEY": None,
            "RATCHET_USER": None,
            "RATCHET_PASSWORD": None,
        }
        await run_engine_until(world, wanted)
        return world

    yield make
    for sim in started:
        await sim.stop()


@pytest.fixture
async def with_stops(traded: Callable[[Predicate], Awaitable[World]]) -> World:
    """Both pairs hold an open position with its stop resting on the simulator."""
    return await traded(stops_resting)


@pytest.fixture
async def with_entry(traded: Callable[[Predicate], Awaitable[World]]) -> World:
    """A pair's limit-buy entry rests on the simulator, nothing of it filled."""
    return await traded(entry_working)


# -- running the command ----------------------------------------------------------------------
class FakeTerminal:
    """Standard input that says it is a terminal (the prompt's answers come from the test)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class TerminalRunner(CliRunner):
    """A CliRunner whose stdin is a (fake) terminal, so the command may ask for confirmation."""

    @contextlib.contextmanager
    def isolation(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with super().isolation(*args, **kwargs) as streams:
            piped = sys.stdin
            sys.stdin = FakeTerminal(piped)  # type: ignore[assignment]
            try:
                yield streams
            finally:
                sys.stdin = piped


Invoke = Callable[..., Awaitable[Result]]


@pytest.fixture
def ratchet() -> Invoke:
    """Run ``ratchet ARGS`` in a worker thread: ``await ratchet(world, args, input=...)``."""

    async def invoke(
        world: World,
        args: Sequence[str],
        *,
        input: str | None = None,
        tty: bool = False,
        env: dict[str, str | None] | None = None,
    ) -> Result:
        runner = TerminalRunner() if tty else CliRunner()
        merged = {**world.env, **(env or {})}
        return await asyncio.to_thread(
            runner.invoke, app, list(args), input=input, env=merged, catch_exceptions=False
        )

    return invoke


# -- another process holding the lock ------------------------------------------------------
HOLDER = """
import sys
from ratchet.store.lock import EngineLock
lock = EngineLock.acquire(sys.argv[1], web_url=sys.argv[2] or None)
print("holding", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def hold_lock() -> Iterator[Callable[[str, str | None], subprocess.Popen[str]]]:
    """Start a process that holds the lock of a database (as a running engine would)."""
    running: list[subprocess.Popen[str]] = []

    def start(db_url: str, web_url: str | None) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, db_url, web_url or ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        running.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "holding"
        return process

    yield start
    for process in running:
        process.kill()
        process.wait()


# -- a fake of the engine's web API -------------------------------------------------------------
@dataclass
class Seen:
    """One request the fake engine received."""

    path: str
    cookie: str | None
    csrf: str | None
    body: Any


class FakeEngineApi:
    """The engine's login and operator routes, answering what the test sets; records calls."""

    USER, PASSWORD, TOKEN, SESSION = "alice", "s3cret-pass", "csrf-123", "session-abc"

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    def answer(self, suffix: str, status: int, body: dict[str, Any]) -> None:
        """Answer requests whose path ends with ``suffix`` with ``status`` and ``body``."""
        self.answers[suffix] = (status, body)

    async def _login(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.seen.append(Seen(request.path, None, None, body))
        if (body.get("username"), body.get("password")) != (self.USER, self.PASSWORD):
            return web.json_response({"error": "bad credentials"}, status=401)
        response = web.json_response({"csrf_token": self.TOKEN})
        response.set_cookie("RATCHET_SESSION", self.SESSION, httponly=True)
        return response

    async def _operate(self, request: web.Request) -> web.Response:
        body = await request.json()
        cookie = request.cookies.get("RATCHET_SESSION")
        csrf = request.headers.get("X-CSRF-Token")
        self.seen.append(Seen(request.path, cookie, csrf, body))
        if cookie != self.SESSION:
            return web.json_response({"error": "log in first"}, status=401)
        if csrf != self.TOKEN:
            return web.json_response({"error": "bad CSRF token"}, status=403)
        for suffix, (status, answer) in self.answers.items():
            if request.path.endswith(suffix):
                return web.json_response(answer, status=status)
        return web.json_response({"status": "queued"})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/login", self._login)
        app.router.add_post("/api/orders/{id}/cancel", self._operate)
        app.router.add_post("/api/positions/{pair}/force-exit", self._operate)
        app.router.add_post("/api/liquidate", self._operate)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def fake_engine() -> AsyncIterator[FakeEngineApi]:
    """A fake engine web API on 127.0.0.1."""
    fake = FakeEngineApi()
    await fake.start()
    yield fake
    await fake.stop()


# -- a running engine with its web API ---------------------------------------------------------
ADMIN, ADMIN_PASSWORD = "root-admin", "correct horse battery staple 7"


@dataclass
class Running:
    """An engine running on the simulator (as ``ratchet run`` wires it), its web API and lock."""

    world: World
    engine: Any
    web_url: str

    async def until(self, wanted: Predicate, what: str) -> None:
        """Replay the simulator leg by leg until ``wanted`` holds for the engine's traders."""
        runtime = self.engine.runtime
        for _ in range(LEGS_AT_MOST):
            await runtime.drain()
            if wanted(runtime.traders):
                return
            assert self.world.sim.step(1), f"the replay ended before {what}"
            await asyncio.sleep(0.01)
        raise AssertionError(f"the engine never reached: {what}")


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    """A real engine with stops resting, still running, its web API up and the lock held."""
    files = {pair_of(f): f for f in demo_candle_files()}
    candles = {pair: read_candles(files[pair])[:500] for pair in PAIRS}
    sim = SimServer(
        candles, SimSettings(speed=0, heartbeat_interval=0.2, balances={"BTC": Decimal(10)})
    )
    urls = await sim.start()
    db_url = f"sqlite:///{tmp_path / 'state' / 'ratchet.db'}"
    config_path = write_config(tmp_path / "ratchet.yaml", sim, db_url)
    config = load_config(config_path)
    world = World(sim, config_path, db_url, {})
    world.env = {"RATCHET_DB_URL": None, "CB_API_KEY": None, "CB_API_SECRET": None}
    lock = EngineLock.acquire(db_url)
    store = await SqlStore.open(db_url)
    engine = await open_engine(
        Endpoints(urls.rest, urls.ws, urls.ws_user),
        sim.credentials,
        list(PAIRS),
        store,
        config=config,
        cash=config.portfolio.total_capital,
        limiter=RateLimiter(10_000),
    )
    database = engine.control.database
    assert database is not None
    await asyncio.to_thread(add_user, database, ADMIN, ADMIN_PASSWORD, Role.ADMIN)
    await engine.runtime.restore()
    await engine.feed.start()
    stop = asyncio.Event()
    task = asyncio.create_task(engine.runtime.run(stop))
    server = await start_web(engine.control, port=0, state_dir=tmp_path / "state")
    lock.publish(server.url)
    try:
        while not (sim.hub.subscribers("user") and sim.hub.subscribers("candles")):
            await asyncio.sleep(0.01)
        running = Running(world, engine, server.url)
        await running.until(stops_resting, "stops resting on both pairs")
        world.traders = engine.runtime.traders
        yield running
    finally:
        stop.set()
        await task
        await server.stop()
        await engine.close()
        lock.release()
        await sim.stop()
