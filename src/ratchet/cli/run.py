"""``ratchet run --paper``: paper trading on the bundled simulator, through the real adapter.

The simulator replays real candles on 127.0.0.1; the engine trades every pair through the real
Coinbase adapter (REST + WebSocket over loopback) exactly as it would trade live. A live
dashboard shows positions, stops and P&L; Ctrl-C or the end of the data prints a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live

from ratchet.cli.dashboard import render_dashboard, render_summary
from ratchet.cli.sim import load_candle_source
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import PRIVATE_RATE, RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.config import ConfigError, RatchetConfig, load_config
from ratchet.domain.candles import Candle
from ratchet.domain.protections import ProtectionConfig, Protections
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime import Runtime
from ratchet.logs import configure_logging
from ratchet.marketdata.csvfile import CandleFileError
from ratchet.memory_store import MemoryStore
from ratchet.ports import Store
from ratchet.sim.server import SimServer, SimSettings
from ratchet.store.sql_store import SqlStore

EXIT_BAD_INPUT = 2


def run_command(
    paper: Annotated[bool, typer.Option("--paper", help="Trade on the bundled simulator.")] = False,
    candles: Annotated[
        Path | None, typer.Option("--candles", help="Candle CSV or folder (default: bundled).")
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=1, help="Replay speed, × real time.")
    ] = 2400.0,
    capital: Annotated[
        str | None,
        typer.Option(
            "--capital",
            help="Quote currency the paper account starts with "
            "(default: the config's total_capital, else 10).",
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML configuration (config.example.yaml).")
    ] = None,
    state: Annotated[
        Path, typer.Option("--state", help="Database of the paper run (replaced at start).")
    ] = Path("state/paper.db"),
    dashboard: Annotated[
        bool | None,
        typer.Option("--dashboard/--no-dashboard", help="Live table (default: on a terminal)."),
    ] = None,
) -> None:
    """Run the engine. Today: paper trading (--paper) on the simulator, no keys needed.

    Example: ratchet run --paper --speed 2400
    """
    if not paper:
        typer.echo("error: only --paper is available yet (live trading is not enabled)", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        settings = load_config(config) if config is not None else None
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        series = load_candle_source(candles)
        default = settings.portfolio.total_capital if settings is not None else Decimal(10)
        cash = Decimal(capital) if capital is not None else Decimal(default)
        if not cash.is_finite() or cash <= 0:
            raise ValueError(f"--capital must be > 0, got {capital}")
    except (CandleFileError, ArithmeticError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    show = sys.stdout.isatty() if dashboard is None else dashboard
    configure_logging(state.with_suffix(".log"))
    asyncio.run(
        paper_trade(
            series, speed=speed, cash=cash, show_dashboard=show, state=state, config=settings
        )
    )


async def paper_trade(
    series: dict[str, list[Candle]],
    *,
    speed: float,
    cash: Decimal,
    show_dashboard: bool,
    state: Path | None = None,
    config: RatchetConfig | None = None,
) -> Runtime:
    """Start the simulator and the engine; trade until the data ends or Ctrl-C.

    Every decision is committed to ``state`` (a fresh SQLite database: the simulated exchange
    starts afresh too) before its orders are sent; without ``state`` the store is in memory.
    """
    quotes = {pair.partition("-")[2] for pair in series}
    balances = dict.fromkeys(quotes, cash)
    sim = SimServer(series, SimSettings(speed=speed, balances=balances, heartbeat_interval=0.5))
    endpoints = await sim.start(pace=False)
    # the replay runs at ``speed`` × real time, so the request budget scales with it (the
    # simulator has no rate limit; live trading keeps the adapter's real limits)
    paper_limit = RateLimiter(PRIVATE_RATE * max(1.0, speed / 60))
    transport = RestTransport(endpoints.rest, sim.credentials, private_limiter=paper_limit)
    exchange = CoinbaseExchange(transport)
    products = {p.product_id: p for p in await exchange.products(list(series))}
    feed = CoinbaseFeed(endpoints.ws, endpoints.ws_user, list(products), exchange, sim.credentials)
    store = await _paper_store(state)
    quote = sorted(quotes)[0]
    if config is None:  # the demo: 10 % of the paper account per entry
        traders = {pair: PairTrader(product) for pair, product in products.items()}
        gate = RiskGate(PortfolioConfig(total_capital=cash, max_position_size_pct=Decimal(10)))
        protections = Protections(ProtectionConfig(), cash)
    else:
        traders = {
            pair: PairTrader(product, config.trader_settings(pair))
            for pair, product in products.items()
        }
        portfolio = config.portfolio_config()
        gate = RiskGate(portfolio)
        protections = Protections(config.protection_config(), portfolio.total_capital)
    runtime = Runtime(
        exchange, feed, store, traders, gate, quote_currency=quote, protections=protections
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    console = Console(width=max(Console().width, 120))
    restart = await runtime.restore()
    for line in restart.lines():
        console.print(f"restart: {line}")
    await feed.start()
    engine = asyncio.create_task(runtime.run(stop))
    await _subscribed(sim)
    sim.begin_pacing()
    console.print(
        f"paper trading {len(traders)} pairs on the simulator at {endpoints.rest} "
        f"(speed ×{speed:g}); Ctrl-C stops"
    )
    try:
        await _watch(sim, runtime, stop, console, show_dashboard)
    finally:
        stop.set()
        await engine
        await feed.close()
        await exchange.close()
        await sim.stop()
        await store.close()
    console.print(render_summary(runtime))
    if state is not None:
        console.print(
            f"every order, fill, stop move and signal of this run is in {state}; "
            f"its JSON log is {state.with_suffix('.log')}"
        )
    return runtime


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
    sim: SimServer,
    runtime: Runtime,
    stop: asyncio.Event,
    console: Console,
    show: bool,
) -> None:
    finished = asyncio.create_task(sim.finished.wait())
    live = (
        Live(render_dashboard(runtime, sim), console=console, refresh_per_second=4)
        if show
        else None
    )
    with live if live is not None else contextlib.nullcontext():
        last_report = -1
        while not stop.is_set():
            await asyncio.sleep(0.25)
            if live is not None:
                live.update(render_dashboard(runtime, sim))
            else:
                progress = int(100 * sim.legs_done / max(1, sim.legs_total))
                if progress // 10 != last_report:
                    last_report = progress // 10
                    closed = len(runtime.history.closed)
                    console.print(
                        f"{progress:3d}% replayed, {closed} positions closed, "
                        f"{runtime.stats.events} events"
                    )
            if finished.done():
                await runtime.drain()
                break
    finished.cancel()
