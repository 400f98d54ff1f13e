#!/usr/bin/env python3
"""Live paper load: N pairs on the simulator, ticker messages at 10/s per pair, for S seconds.

The simulator runs in its own process (``ratchet sim serve --synthetic ...``) replaying seeded
random walks at a speed that gives each pair 10 price legs per second (one ticker and one
candle update per leg); the engine (Runtime, the real adapter over loopback WebSocket + REST, a
SQLite store) trades all pairs in this process.

Two modes, and the output says which one was measured:

* staggered (default): each pair moves at its own seeded phase within the leg interval, as
  independent products do on the exchange (tickers arrive spread out, about one per ms);
* ``--burst``: all pairs move at the same instants (``sim serve --lockstep``), so every 100 ms a
  burst of N tickers (and N candle updates) arrives at once and the last waits for the others.

Prints: p50/p99 latency from a ticker's arrival in the engine to the trader's decision on it
(stop ratchet and replace decision included; target p99 < 1 ms), the engine process's CPU use
over the measured window, all threads (the store's writer thread included; target < 30 % of one
core), and messages dropped (sequence gaps, reconnects, and slow-client drops on the
simulator's side; target 0).

A ticker "arrives" when the feed reads its message from the WebSocket. In a burst the later
tickers wait *before* they are read (behind the others): the latency that counts is therefore
measured from the arrival of the first ticker of the same market instant (in staggered mode,
each ticker's own); the latency from each ticker's own arrival is printed beside it. A message
can also wait in the socket while the event loop finishes other work (a REST reply, a
store write): that wait is not in the latency, and the event loop's lag (how late a 10 ms
timer fires, p99) is printed as its measure.

Stops move by editing the resting order (the default, ``--stop-moves edit``: one REST call per
move) or by cancel and replace (``--stop-moves replace``: a cancel, a read, a new order).

Usage: .venv/bin/python bench/live_paper.py [--pairs 100] [--seconds 60] [--burst]
[--stop-moves edit|replace]
(last line: JSON)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import aiohttp

from ratchet.coinbase.auth import load_key_file
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.domain.signals import SignalRules
from ratchet.engine.interpreter import event_loop_factory, run_engine, tune_for_latency
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.engine.runtime import Runtime
from ratchet.store.sql_store import SqlStore

LEGS_PER_SECOND = 10
MODES = {
    "staggered": "each pair moves at its own seeded phase, as independent products do",
    "burst": "all pairs move at the same instants",
}
RULES = SignalRules(rsi_below=99.0, min_confirmations=1)


def start_simulator(folder: Path, pairs: int, *, burst: bool = False) -> subprocess.Popen[bytes]:
    speed = LEGS_PER_SECOND * 300 / 4
    command = [
        sys.executable,
        "-m",
        "ratchet",
        "sim",
        "serve",
        "--speed",
        f"{speed:g}",
        "--keys-out",
        str(folder),
        "--balance",
        "USD=100000000",
    ]
    for index in range(pairs):
        command += ["--synthetic", f"P{index:03d}-USD"]
    if burst:
        command.append("--lockstep")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (folder / "endpoints.json").exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return process


async def loop_lag(lags: list[float], every: float = 0.01) -> None:
    """How late a timer of ``every`` seconds fires, again and again (the event loop's lag)."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + every
        await asyncio.sleep(every)
        lags.append(max(0.0, loop.time() - due))


def latencies(samples: list[tuple[float, float, float]]) -> tuple[list[float], list[float]]:
    """Sorted latencies of ``(market time, taken, decided)`` samples: from the first ticker of
    the same market instant taken (a burst's arrival), and from each ticker's own."""
    first: dict[float, float] = {}
    for moment, taken, _ in samples:
        first[moment] = min(first.get(moment, taken), taken)
    burst = sorted(decided - first[moment] for moment, _, decided in samples)
    own = sorted(decided - taken for _, taken, decided in samples)
    return burst, own


async def run(folder: Path, seconds: float, settings: TraderSettings) -> dict[str, object]:
    endpoints = json.loads((folder / "endpoints.json").read_text())
    credentials = load_key_file(folder / "cdp_api_key.json")
    exchange = CoinbaseExchange(
        RestTransport(endpoints["rest"], credentials, private_limiter=RateLimiter(500))
    )
    products = {p.product_id: p for p in await exchange.products()}
    store = await SqlStore.open(f"sqlite:///{folder / 'state.db'}")
    traders = {pair: PairTrader(product, settings) for pair, product in products.items()}
    gate = RiskGate(
        PortfolioConfig(
            total_capital=Decimal(100_000_000),
            max_positions=len(traders),
            max_position_size_pct=Decimal("0.5"),
        )
    )
    feed = CoinbaseFeed(
        endpoints["ws"], endpoints["ws_user"], list(products), exchange, credentials
    )
    runtime = Runtime(exchange, feed, store, traders, gate, quote_currency="USD")
    runtime.tick_samples = []
    await runtime.restore()
    await feed.start()
    tune_for_latency()  # as `ratchet run` does once the engine is up
    stop = asyncio.Event()
    engine = asyncio.create_task(runtime.run(stop))
    await asyncio.sleep(2.0)  # connect, subscribe, first candles
    runtime.tick_samples.clear()
    lags: list[float] = []
    probe = asyncio.create_task(loop_lag(lags))
    moves_before = sum(runtime.history.stop_moves.values())
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    moves = sum(runtime.history.stop_moves.values()) - moves_before
    probe.cancel()
    samples, own = latencies(runtime.tick_samples)
    lags.sort()
    stop.set()
    await engine
    async with aiohttp.ClientSession() as session:
        state_url = endpoints["rest"].replace("/api/v3/brokerage", "/sim/state")
        async with session.get(state_url) as response:
            sim_state = await response.json()
    await feed.close()
    await exchange.close()
    await store.close()
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / elapsed
    dropped = feed.stats.gaps + feed.stats.reconnects + int(sim_state["dropped_slow_clients"])
    return {
        "pairs": len(traders),
        "seconds": round(elapsed, 1),
        "ticks": len(samples),
        "ticks_per_s": round(len(samples) / elapsed),
        "p50_ms": round(1e3 * samples[len(samples) // 2], 4) if samples else None,
        "p99_ms": round(1e3 * samples[int(len(samples) * 0.99)], 4) if samples else None,
        "mean_ms": round(1e3 * statistics.fmean(samples), 4) if samples else None,
        "p99_own_arrival_ms": round(1e3 * own[int(len(own) * 0.99)], 4) if own else None,
        "loop_lag_p99_ms": round(1e3 * lags[int(len(lags) * 0.99)], 3) if lags else None,
        "cpu_pct_of_one_core": round(100 * cpu, 1),
        "dropped": dropped,
        "orders": sim_state["orders"],
        "stop_moves": moves,
        "positions_closed": len(runtime.history.closed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--burst",
        action="store_true",
        help="all pairs move at the same instants (lock-step bursts of N tickers)",
    )
    parser.add_argument("--stop-moves", choices=("edit", "replace"), default="edit")
    args = parser.parse_args()
    logging.getLogger("ratchet").setLevel(logging.ERROR)  # the figures, not the engine's notes
    mode = "burst" if args.burst else "staggered"
    settings = TraderSettings(rules=RULES, stop_moves=args.stop_moves)
    with tempfile.TemporaryDirectory() as tmp:
        simulator = start_simulator(Path(tmp), args.pairs, burst=args.burst)
        try:
            result: dict[str, object] = {
                "mode": mode,
                "stop_moves_by": args.stop_moves,
                "event_loop": "uvloop" if event_loop_factory() else "asyncio",
                **run_engine(run(Path(tmp), args.seconds, settings)),
            }
        finally:
            simulator.terminate()
            simulator.wait(10)
    p99 = result["p99_ms"]
    cpu = float(result["cpu_pct_of_one_core"])  # type: ignore[arg-type]
    verdicts = {
        "p99 < 1 ms": p99 is not None and float(p99) < 1.0,  # type: ignore[arg-type]
        "CPU < 30 % of a core": cpu < 30.0,
        "0 dropped": result["dropped"] == 0,
    }
    print(
        f"{result['pairs']} pairs, {result['ticks_per_s']} ticks/s for {result['seconds']} s "
        f"({mode}: {MODES[mode]}) on the {result['event_loop']} event loop"
    )
    print(
        f"  tick -> decision: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
        f"(from each ticker's own arrival: p99 {result['p99_own_arrival_ms']} ms)"
    )
    print(f"  event loop lag: p99 {result['loop_lag_p99_ms']} ms")
    print(f"  engine CPU: {cpu} % of one core; dropped: {result['dropped']}")
    print(
        f"  orders on the simulator: {result['orders']}, positions closed: "
        f"{result['positions_closed']}, stop moves in the window: {result['stop_moves']} "
        f"(by {args.stop_moves})"
    )
    for name, ok in verdicts.items():
        print(f"  target {name}: {'PASS' if ok else 'MISS'}")
    print(json.dumps({**result, "verdicts": verdicts}))


if __name__ == "__main__":
    main()
