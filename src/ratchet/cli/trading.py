"""Paper and live trading sessions: put the engine together, run it, show it, stop it cleanly.

Paper trading starts the simulator on 127.0.0.1 replaying real candles and trades through the
real Coinbase adapter over loopback; live trading points the same adapter at Coinbase. Both hold
the state database's engine lock for their whole life (so that CLI commands know to go through
the web API), restore and reconcile before trading, serve the web GUI, and on Ctrl-C (SIGINT or
SIGTERM) stop with every stop still resting on the exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live

from ratchet.app import Endpoints, Engine, open_engine
from ratchet.cli.dashboard import render_dashboard, render_summary
from ratchet.coinbase.auth import Credentials
from ratchet.coinbase.limits import PRIVATE_RATE, RateLimiter
from ratchet.config import RatchetConfig
from ratchet.domain.candles import Candle
from ratchet.engine.interpreter import tune_for_latency
from ratchet.engine.runtime import Runtime
from ratchet.memory_store import MemoryStore
from ratchet.ports import AuditEntry, StateBatch, Store
from ratchet.sim.server import SimServer, SimSettings
from ratchet.store.confirmations import LIVE_CONFIRMED
from ratchet.store.database import Database
from ratchet.store.lock import EngineLock
from ratchet.store.sql_store import SqlStore
from ratchet.web.server import WebConfigError, WebServer, start_web
from ratchet.web.users import Role, add_user

log = logging.getLogger("ratchet.run")
PAPER_ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class WebOptions:
    """Where the web GUI listens (``port`` 0: any free port)."""

    host: str = "127.0.0.1"
    port: int = 8080
    state_dir: Path = Path("state")


async def paper_trade(
    series: dict[str, list[Candle]],
    *,
    speed: float,
    cash: Decimal,
    show_dashboard: bool,
    state: Path | None = None,
    config: RatchetConfig | None = None,
    web: WebOptions | None = None,
) -> Runtime:
    """Start the simulator and the engine; trade until the data ends or Ctrl-C.

    Every decision is committed to ``state`` (a fresh SQLite database: the simulated exchange
    starts afresh too) before its orders are sent; without ``state`` the store is in memory.
    """
    lock = EngineLock.acquire(f"sqlite:///{state}") if state is not None else None
    try:
        quotes = {pair.partition("-")[2] for pair in series}
        balances = dict.fromkeys(quotes, cash)
        settings = SimSettings(speed=speed, balances=balances, heartbeat_interval=0.5)
        sim = SimServer(series, settings)
        urls = await sim.start(pace=False)
        try:
            store = await _paper_store(state)
            # the replay runs at ``speed`` × real time, so the request budget scales with it
            limiter = RateLimiter(PRIVATE_RATE * max(1.0, speed / 60))
            endpoints = Endpoints(urls.rest, urls.ws, urls.ws_user)
            engine = await open_engine(
                endpoints,
                sim.credentials,
                list(series),
                store,
                config=config,
                cash=cash,
                limiter=limiter,
            )
            console = _console()
            session = Session(engine, console, lock)
            await session.start_or_close(web, paper_users=True)
            await _subscribed(sim)
            sim.begin_pacing()
            console.print(
                f"paper trading {len(engine.runtime.traders)} pairs on the simulator at "
                f"{urls.rest} (speed ×{speed:g}); Ctrl-C stops"
            )
            await session.watch(
                show_dashboard,
                progress=lambda: 100 * sim.legs_done / max(1, sim.legs_total),
                finished=sim.finished,
            )
        finally:
            await sim.stop()
    finally:
        if lock is not None:
            lock.release()
    console.print(render_summary(engine.runtime))
    if state is not None:
        console.print(
            f"every order, fill, stop move and signal of this run is in {state}; "
            f"its JSON log is {state.with_suffix('.log')}"
        )
    return engine.runtime


async def live_trade(
    config: RatchetConfig,
    credentials: Credentials,
    store: SqlStore,
    lock: EngineLock,
    *,
    show_dashboard: bool,
    web: WebOptions | None,
) -> Runtime:
    """Trade the config's pairs on the exchange of ``config.exchange`` until Ctrl-C."""
    exchange = config.exchange
    endpoints = Endpoints(exchange.rest_url, exchange.ws_url, exchange.ws_user_url)
    capital = config.portfolio.total_capital
    engine = await open_engine(
        endpoints, credentials, sorted(config.pairs), store, config=config, cash=capital
    )
    console = _console()
    session = Session(engine, console, lock)
    await session.start_or_close(web, paper_users=False)
    console.print(
        f"LIVE trading {len(engine.runtime.traders)} pairs on {exchange.rest_url}; Ctrl-C stops "
        "(stops stay resting on the exchange)",
        style="bold red",
    )
    await session.watch(show_dashboard, progress=None, finished=None)
    console.print(render_summary(engine.runtime))
    return engine.runtime


class Session:
    """One engine's run: restore, feed, runtime, web GUI, dashboard, and the clean stop."""

    def __init__(self, engine: Engine, console: Console, lock: EngineLock | None) -> None:
        self.engine = engine
        self.console = console
        self.lock = lock
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._web: WebServer | None = None

    async def start(self, web: WebOptions | None, *, paper_users: bool) -> None:
        """Reconcile with the exchange, start the feed, the runtime and the web GUI."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        runtime = self.engine.runtime
        report = await runtime.restore()
        for line in report.lines():
            self.console.print(f"restart: {line}")
        await self.engine.feed.start()
        tune_for_latency()  # this process is the engine's: its start-up objects stay for good
        self._tasks.append(asyncio.create_task(runtime.run(self.stop), name="runtime"))
        if web is not None:
            await self._start_web(web, paper_users=paper_users)

    async def start_or_close(self, web: WebOptions | None, *, paper_users: bool) -> None:
        """:meth:`start`; if that fails, stop what it started and close the engine."""
        try:
            await self.start(web, paper_users=paper_users)
        except BaseException:
            self.stop.set()
            for task in self._tasks:
                with contextlib.suppress(Exception):
                    await task
            if self._web is not None:
                await self._web.stop()
            await self.engine.close()
            raise

    async def _start_web(self, web: WebOptions, *, paper_users: bool) -> None:
        control = self.engine.control
        if control.database is None:
            self.console.print("web GUI off: it needs the state database for its users")
            return
        try:
            server = await start_web(control, host=web.host, port=web.port, state_dir=web.state_dir)
        except (OSError, WebConfigError) as exc:
            self.console.print(f"web GUI off: cannot serve on {web.host}:{web.port}: {exc}")
            log.warning("web off", extra={"reason": str(exc)})
            return
        self._web = server
        if self.lock is not None:
            self.lock.publish(server.url)
        line = f"web GUI and API: {server.url}"
        if paper_users:
            password = await asyncio.to_thread(_paper_admin, control.database)
            line += f" — paper run login: {PAPER_ADMIN} / {password}"
        self.console.print(line)

    async def watch(
        self,
        show_dashboard: bool,
        *,
        progress: Callable[[], float] | None,
        finished: asyncio.Event | None,
    ) -> None:
        """Show the dashboard (or progress lines) until Ctrl-C or ``finished``; then stop."""
        try:
            await _watch(
                self.engine.runtime, self.stop, self.console, show_dashboard, progress, finished
            )
        finally:
            self.stop.set()
            for task in self._tasks:
                await task
            if self._web is not None:
                await self._web.stop()
            await self.engine.close()


def _paper_admin(database: Database) -> str:
    """An admin user with a fresh random password in the (fresh) paper database."""
    password = secrets.token_urlsafe(12)
    add_user(database, PAPER_ADMIN, password, Role.ADMIN, replace=True)
    return password


async def record_live_confirmation(store: Store) -> None:
    """Audit that an operator confirmed live trading (asked only the first time)."""
    who = f"cli:{getpass.getuser()}"
    entry = AuditEntry(time.time(), who, LIVE_CONFIRMED, "engine", "first start")
    await store.commit(StateBatch(audit=[entry]))


def _console() -> Console:
    return Console(width=max(Console().width, 120))


async def _subscribed(sim: SimServer, timeout: float = 10.0) -> None:
    """Wait until the feed has subscribed to candles and to the user channel (a while at most),
    so that no price move of the replay goes unseen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if sim.hub.subscribers("candles") and sim.hub.subscribers("user"):
            return
        await asyncio.sleep(0.02)


async def _paper_store(state: Path | None) -> Store:
    if state is None:
        return MemoryStore()
    for suffix in ("", "-wal", "-shm"):
        state.with_name(state.name + suffix).unlink(missing_ok=True)
    return await SqlStore.open(f"sqlite:///{state}")


async def _watch(
    runtime: Runtime,
    stop: asyncio.Event,
    console: Console,
    show: bool,
    progress: Callable[[], float] | None,
    finished: asyncio.Event | None,
) -> None:
    done = asyncio.create_task(finished.wait()) if finished is not None else None

    def render() -> Group:
        return render_dashboard(runtime, progress() if progress else None)

    live = Live(render(), console=console, refresh_per_second=4) if show else None
    with live if live is not None else contextlib.nullcontext():
        last_report = -1
        while not stop.is_set():
            await asyncio.sleep(0.25)
            if live is not None:
                live.update(render())
            elif progress is not None:
                percent = int(progress())
                if percent // 10 != last_report:
                    last_report = percent // 10
                    console.print(
                        f"{percent:3d}% replayed, {len(runtime.history.closed)} positions closed, "
                        f"{runtime.stats.events} events"
                    )
            if done is not None and done.done():
                await runtime.drain()
                break
    if done is not None:
        done.cancel()
