"""``ratchet sim serve``: the Coinbase-compatible simulator as a standalone server."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from ratchet.domain.candles import Candle
from ratchet.marketdata.csvfile import CandleFileError, demo_candle_files, pair_of, read_candles
from ratchet.sim.faults import FaultError, Faults, parse_fault_options
from ratchet.sim.products import product_for
from ratchet.sim.replay import synthetic_candles
from ratchet.sim.server import DEFAULT_BALANCES, SimServer, SimSettings

EXIT_BAD_INPUT = 2
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SYNTHETIC_START = 1_767_225_600  # 2026-01-01 00:00 UTC
SYNTHETIC_PRICES = {"USD": Decimal(30_000), "BTC": Decimal("0.05")}

sim_app = typer.Typer(help="The Coinbase-compatible exchange simulator.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def load_candle_source(path: Path | None) -> dict[str, list[Candle]]:
    """Candles by product from a file, a folder of ``PAIR-5m.csv`` files, or the demo set."""
    if path is None:
        files = demo_candle_files()
    elif path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise CandleFileError(str(path), 0, "", "no .csv candle files in this folder")
    else:
        files = [path]
    return {pair_of(file): read_candles(file) for file in files}


def parse_balances(options: list[str]) -> dict[str, Decimal]:
    """``["BTC=10", "USD=100000"]`` → balances (on top of the defaults)."""
    balances = dict(DEFAULT_BALANCES)
    for option in options:
        currency, sep, amount = option.partition("=")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            value = Decimal(-1)
        if not sep or not currency.isalnum() or not value.is_finite() or value < 0:
            raise ValueError(f"--balance expects CURRENCY=AMOUNT (>= 0), got {option!r}")
        balances[currency.upper()] = value
    return balances


@sim_app.command("serve")
def serve(
    candles: Annotated[
        Path | None,
        typer.Option("--candles", help="A candle CSV or a folder of PAIR-5m.csv files."),
    ] = None,
    synthetic: Annotated[
        list[str] | None,
        typer.Option("--synthetic", help="Replay a seeded random walk for PAIR (repeatable)."),
    ] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0: any free port.")] = 0,
    host: Annotated[str, typer.Option("--host", help="Loopback address to bind.")] = "127.0.0.1",
    speed: Annotated[
        float, typer.Option("--speed", min=0, help="× real time (0: only POST /sim/step moves).")
    ] = 60.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of ids, faults, synthetic data.")] = 0,
    tls: Annotated[bool, typer.Option("--tls", help="Serve HTTPS/WSS (self-signed).")] = False,
    keys_out: Annotated[
        Path | None,
        typer.Option("--keys-out", help="Write cdp_api_key.json, endpoints.json (and cert.pem)."),
    ] = None,
    balance: Annotated[
        list[str] | None, typer.Option("--balance", help="Starting balance, e.g. BTC=10.")
    ] = None,
    fault: Annotated[
        list[str] | None, typer.Option("--fault", help="Inject a fault, e.g. http_5xx=3.")
    ] = None,
    lockstep: Annotated[
        bool,
        typer.Option(
            "--lockstep",
            help="Move all --synthetic pairs at the same instants (default: each pair's moves "
            "get a seeded phase within the 75 s leg interval, as independent products trade).",
        ),
    ] = False,
) -> None:
    """Serve the Advanced Trade REST + WebSocket API on loopback, replaying candles.

    Existing Coinbase clients work against it unchanged: point them at the printed URLs and
    the key in --keys-out (for HTTPS clients add --tls and trust DIR/cert.pem).

    Recorded candles (--candles) replay at their own times (the legs of all products at the
    same instants); --synthetic pairs are spread over each leg interval unless --lockstep.

    Example: ratchet sim serve --candles ../shared/data/candles --speed 300 --keys-out sim-keys
    """
    if host not in LOOPBACK:
        raise _fail(f"the simulator binds loopback only ({', '.join(LOOPBACK)}), got {host!r}")
    try:
        series = _series(candles, synthetic or [], seed)
        balances = parse_balances(balance or [])
        faults = Faults(seed=seed)
        faults.set(**parse_fault_options(fault or []))
    except (CandleFileError, FaultError, ValueError) as exc:
        raise _fail(str(exc)) from None
    settings = SimSettings(
        host=host,
        port=port,
        speed=speed,
        seed=seed,
        tls=tls,
        keys_out=keys_out,
        balances=balances,
        stagger=frozenset() if lockstep else frozenset(synthetic or []),
    )
    asyncio.run(_serve(SimServer(series, settings, faults=faults)))


def _series(path: Path | None, synthetic: list[str], seed: int) -> dict[str, list[Candle]]:
    if not synthetic:
        return load_candle_source(path)
    series = load_candle_source(path) if path is not None else {}
    for index, pair in enumerate(synthetic):
        quote = pair.partition("-")[2]
        price = SYNTHETIC_PRICES.get(quote, Decimal(100))
        product = product_for(pair, price)
        series[pair] = synthetic_candles(
            product,
            SYNTHETIC_START,
            2_016,
            seed=seed + index,
            start_price=price,
            volatility_pct=Decimal("0.3"),
        )
    return series


async def _serve(server: SimServer) -> None:
    endpoints = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    products = ", ".join(sorted(server.candles))
    typer.echo(f"ratchet simulator: {products} ({server.legs_total} price legs)")
    typer.echo(f"REST:       {endpoints.rest}")
    typer.echo(f"WebSocket:  {endpoints.ws}")
    typer.echo(f"user feed:  {endpoints.ws_user}")
    if server.settings.keys_out is not None:
        folder = server.settings.keys_out
        typer.echo(f"API key:    {folder / 'cdp_api_key.json'} (endpoints in endpoints.json)")
        if server.settings.tls:
            typer.echo(f"TLS cert:   {folder / 'cert.pem'}")
    typer.echo("Ctrl-C stops it.", err=True)
    finished = asyncio.create_task(server.finished.wait())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({finished, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if finished.done() and not stop.is_set():
        typer.echo("replay finished; still serving (Ctrl-C stops it)", err=True)
        await stop.wait()
    for task in (finished, stopping):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await server.stop()
