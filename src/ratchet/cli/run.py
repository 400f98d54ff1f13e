"""``ratchet run``: paper trading on the bundled simulator (--paper) or live trading (--live).

Paper: the simulator replays real candles on 127.0.0.1 and the engine trades every pair through
the real Coinbase adapter over loopback, exactly as it would trade live; no keys, no internet.
Live: the same engine against Coinbase, with the config's pairs and limits, keys from the
environment, and — the first time — an explicit confirmation flag.
"""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ratchet.cli.sim import load_candle_source
from ratchet.cli.trading import WebOptions, live_trade, paper_trade, record_live_confirmation
from ratchet.coinbase.auth import Credentials, CredentialsError, credentials_from_env
from ratchet.config import ConfigError, RatchetConfig, load_config
from ratchet.engine.interpreter import event_loop_factory, run_engine
from ratchet.logs import configure_logging
from ratchet.marketdata.csvfile import CandleFileError
from ratchet.store.confirmations import live_confirmation
from ratchet.store.errors import StoreError
from ratchet.store.lock import EngineLock, EngineRunning
from ratchet.store.sql_store import SqlStore

__all__ = ["paper_trade", "run_command"]

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
CONFIRM_FLAG = "--i-understand-this-trades-real-money"
KEY_VARIABLE = "RATCHET_DB_KEY"


def run_command(
    paper: Annotated[bool, typer.Option("--paper", help="Trade on the bundled simulator.")] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Trade real money on Coinbase (needs --config).")
    ] = False,
    confirm_live: Annotated[
        bool,
        typer.Option(
            CONFIRM_FLAG, help="Required for the first live start of a database; recorded."
        ),
    ] = False,
    candles: Annotated[
        Path | None, typer.Option("--candles", help="Candle CSV or folder (default: bundled).")
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=1, help="Replay speed, × real time (paper).")
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
    web: Annotated[bool, typer.Option("--web/--no-web", help="Serve the web GUI and API.")] = True,
    web_host: Annotated[
        str | None,
        typer.Option("--web-host", help="Web address (default: the config's, else 127.0.0.1)."),
    ] = None,
    web_port: Annotated[
        int | None,
        typer.Option("--web-port", min=0, max=65535, help="Web port (default: config, else 8080)."),
    ] = None,
) -> None:
    """Run the engine: paper trading (--paper) on the simulator, or live trading (--live).

    Example: ratchet run --paper --speed 2400
    Example: ratchet run --live --config ratchet.yaml
    """
    if paper == live:
        _fail("choose one of --paper (simulator, no keys) or --live (real money)")
    try:
        event_loop_factory()  # a misspelt RATCHET_EVENT_LOOP is said before anything starts
    except ValueError as exc:
        _fail(str(exc))
    settings = _load(config)
    show = sys.stdout.isatty() if dashboard is None else dashboard
    options = _web_options(web, web_host, web_port, settings, state.parent)
    if paper:
        _run_paper(candles, capital, settings, state, speed, show, options)
        return
    if settings is None:
        _fail("live trading needs --config FILE with the pairs to trade and the limits")
    _run_live(settings, confirm_live, show, options)


def _run_paper(
    candles: Path | None,
    capital: str | None,
    settings: RatchetConfig | None,
    state: Path,
    speed: float,
    show: bool,
    web: WebOptions | None,
) -> None:
    try:
        series = load_candle_source(candles)
        default = settings.portfolio.total_capital if settings is not None else Decimal(10)
        cash = Decimal(capital) if capital is not None else Decimal(default)
        if not cash.is_finite() or cash <= 0:
            raise ValueError(f"--capital must be > 0, got {capital}")
    except (CandleFileError, ArithmeticError, ValueError) as exc:
        _fail(str(exc))
    configure_logging(state.with_suffix(".log"))
    try:
        run_engine(
            paper_trade(
                series,
                speed=speed,
                cash=cash,
                show_dashboard=show,
                state=state,
                config=settings,
                web=web,
            )
        )
    except EngineRunning as exc:
        _fail(f"{exc} (a paper run already uses {state}; pass another --state)", EXIT_FAILED)


def _run_live(settings: RatchetConfig, confirmed: bool, show: bool, web: WebOptions | None) -> None:
    if not settings.pairs:
        _fail("live trading trades the pairs listed under `pairs:` in the config; none are")
    try:
        credentials = credentials_from_env(os.environ)
    except CredentialsError as exc:
        _fail(f"{exc} (set CB_API_KEY and CB_API_SECRET)")
    url = settings.store.url
    try:
        lock = EngineLock.acquire(url)
    except EngineRunning as exc:
        _fail(str(exc), EXIT_FAILED)
    except StoreError as exc:
        _fail(f"store.url: {exc}")
    try:
        log_file = lock.path.with_name("ratchet.log") if lock.path else Path("state/ratchet.log")
        configure_logging(log_file)
        run_engine(_live(settings, credentials, lock, confirmed, show, web))
    finally:
        lock.release()


async def _live(
    settings: RatchetConfig,
    credentials: Credentials,
    lock: EngineLock,
    confirmed: bool,
    show: bool,
    web: WebOptions | None,
) -> None:
    try:
        store = await SqlStore.open(settings.store.url, key=os.environ.get(KEY_VARIABLE) or None)
    except StoreError as exc:
        _fail(f"state database: {exc}", EXIT_FAILED)
    try:
        database = store.repository.database
        if await asyncio.to_thread(live_confirmation, database) is None:
            if not confirmed:
                _fail(
                    "this database has never traded live: start once with "
                    f"{CONFIRM_FLAG} to confirm that real money will be traded"
                )
            await record_live_confirmation(store)
    except BaseException:
        await store.close()
        raise
    try:
        await live_trade(settings, credentials, store, lock, show_dashboard=show, web=web)
    finally:
        await store.close()  # closed already after a clean run (closing twice is a no-op)


def _web_options(
    enabled: bool,
    host: str | None,
    port: int | None,
    settings: RatchetConfig | None,
    state_dir: Path,
) -> WebOptions | None:
    if not enabled:
        return None
    section = settings.web if settings is not None else None
    return WebOptions(
        host=host or (section.host if section else "127.0.0.1"),
        port=port if port is not None else (section.port if section else 8080),
        state_dir=state_dir,
    )


def _load(path: Path | None) -> RatchetConfig | None:
    try:
        return load_config(path) if path is not None else None
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
