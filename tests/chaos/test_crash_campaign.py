"""Crash campaign: the engine, trading on the simulator in a child process, is SIGKILLed at
random points; after each kill a restart (hydrate + reconcile) must leave

* no orphaned order: every open order with our prefix on the exchange is tracked;
* no duplicate order: one exchange order per client_order_id, ever;
* no lost or double-counted fill: the store holds exactly the exchange's fills of our orders;
* no open position without a resting stop, and no stop lower than the highest one confirmed.

The simulator runs in its own process (it survives the kills) and moves only when the campaign
steps it. By default the campaign is short (CI); RATCHET_FULL=1 runs 120 kills.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from ratchet.coinbase.auth import load_key_file
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.domain.position import PositionStatus
from ratchet.engine.oneshot import settle
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.reconcile import reconcile
from ratchet.marketdata.csvfile import demo_candle_files, pair_of
from ratchet.store.sql_store import SqlStore

HERE = Path(__file__).resolve().parent
KILLS = 120 if os.environ.get("RATCHET_FULL") else 12
PAIRS = ("ETH-BTC", "LTC-BTC")


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    data.mkdir()
    for file in demo_candle_files():
        if pair_of(file) in PAIRS:
            (data / file.name).write_text(file.read_text())
    keys = tmp_path / "keys"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ratchet",
            "sim",
            "serve",
            "--speed",
            "0",
            "--candles",
            str(data),
            "--keys-out",
            str(keys),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (keys / "endpoints.json").exists():
        assert time.monotonic() < deadline and process.poll() is None, "simulator did not start"
        time.sleep(0.05)
    yield keys
    process.terminate()
    process.wait(10)


async def step(session: aiohttp.ClientSession, rest: str, legs: int) -> None:
    async with session.post(rest.replace("/api/v3/brokerage", f"/sim/step?legs={legs}")) as r:
        assert r.status == 200


async def run_child_until_it_dies(keys: Path, state: Path, failpoint: str, skip: int) -> bool:
    """Run the engine with a failpoint armed and move the market until the engine kills itself.

    Returns True when the failpoint fired (the child died of SIGKILL on its own).
    """
    rest = json.loads((keys / "endpoints.json").read_text())["rest"]
    env = {**os.environ, "RATCHET_FAILPOINT": failpoint, "RATCHET_FAILPOINT_SKIP": str(skip)}
    if failpoint == "during_replace":  # a stop moved by cancel and replace, not by an edit
        env["RATCHET_STOP_MOVES"] = "replace"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "crash_child.py"),
        str(keys),
        str(state),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 40
    async with aiohttp.ClientSession() as session:
        while child.returncode is None and time.monotonic() < deadline:
            await step(session, rest, 2)
            await asyncio.sleep(0.02)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.wait(), 0.001)
    fired = child.returncode == -signal.SIGKILL
    if child.returncode is None:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    return fired


async def run_child_and_kill(keys: Path, state: Path, rng: random.Random) -> None:
    """Start the engine, move the market while it trades, SIGKILL it at a random moment."""
    rest = json.loads((keys / "endpoints.json").read_text())["rest"]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "crash_child.py"),
        str(keys),
        str(state),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    kill_at = time.monotonic() + rng.uniform(0.3, 3.0)
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < kill_at and child.returncode is None:
            await step(session, rest, rng.choice((1, 2, 4, 8)))
            await asyncio.sleep(rng.uniform(0.005, 0.05))
    child.send_signal(signal.SIGKILL)
    await child.wait()


async def restart_and_check(keys: Path, state: Path, highest_stop: dict[str, Decimal]) -> int:
    """Restart as the engine would, then check every invariant; return open positions seen."""
    endpoints = json.loads((keys / "endpoints.json").read_text())
    credentials = load_key_file(keys / "cdp_api_key.json")
    exchange = CoinbaseExchange(
        RestTransport(endpoints["rest"], credentials, private_limiter=RateLimiter(1000))
    )
    try:
        products = {p.product_id: p for p in await exchange.products()}
        store = await SqlStore.open(f"sqlite:///{state}")
        try:
            traders = {pair: PairTrader(product) for pair, product in products.items()}
            loaded = await store.load(products)
            report = await reconcile(exchange, traders, loaded, prefix="rt", now=time.time())
            await store.commit(report.batch)
            for pair, events in report.events.items():
                await settle(traders[pair], exchange, store, events, time.time())
        finally:
            await store.close()
        orders = await exchange.list_orders()
        fills = await exchange.list_fills()
    finally:
        await exchange.close()

    ours = [o for o in orders if o.client_order_id.startswith("rt-")]
    ids = [o.client_order_id for o in ours]
    assert len(ids) == len(set(ids)), "two exchange orders for one client_order_id"
    tracked = {o.client_order_id for t in traders.values() for o in t.orders()}
    for order in ours:
        if not order.status.is_terminal:
            assert order.client_order_id in tracked, f"orphaned order {order.client_order_id}"
    with sqlite3.connect(state) as db:
        stored = {row[0] for row in db.execute("select trade_id from fills")}
        confirmed = db.execute(
            "select position_id, confirmed from stop_history where confirmed is not null"
        ).fetchall()
    by_id = {o.exchange_order_id: o for o in ours}
    exchange_fills = {f.trade_id for f in fills if f.exchange_order_id in by_id}
    assert stored == exchange_fills, "a fill was lost or invented"
    for position_id, level in confirmed:
        highest_stop[position_id] = max(highest_stop.get(position_id, Decimal(0)), Decimal(level))
    open_positions = 0
    for trader in traders.values():
        position = trader.position
        if position is None or position.status is not PositionStatus.OPEN:
            continue
        open_positions += 1
        if not position.can_carry_stop:
            continue
        stop = trader.stops.order
        assert stop is not None and not stop.is_done, f"{position.position_id} has no stop"
        if stop.stop_price is not None:
            floor = highest_stop.get(position.position_id, Decimal(0))
            assert stop.stop_price >= floor, f"{position.position_id}: stop below {floor}"
    return open_positions


@pytest.mark.slow
async def test_sigkill_at_random_points_never_orphans_duplicates_or_loses(
    simulator: Path, tmp_path: Path
) -> None:
    rng = random.Random(20261126)
    state = tmp_path / "state.db"
    highest_stop: dict[str, Decimal] = {}
    open_seen = 0
    for _ in range(KILLS):
        await run_child_and_kill(simulator, state, rng)
        open_seen += await restart_and_check(simulator, state, highest_stop)
    with sqlite3.connect(state) as db:
        orders = db.execute("select count(*) from orders").fetchone()[0]
    assert orders > 0, "the engine never traded: the campaign tested nothing"
    print(f"{KILLS} kills, {orders} orders stored, {open_seen} open positions checked")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("failpoint", "skip"),
    [
        ("after_intent", 0),
        ("after_intent", 3),
        ("after_send", 1),
        ("after_fill", 0),
        ("during_replace", 0),
        ("during_replace", 2),
        ("during_edit", 0),
        ("during_edit", 2),
    ],
)
async def test_a_crash_at_each_critical_point_is_repaired_on_restart(
    simulator: Path, tmp_path: Path, failpoint: str, skip: int
) -> None:
    # Arrange / Act: the engine dies exactly at the failpoint, then restarts
    state = tmp_path / "state.db"
    fired = await run_child_until_it_dies(simulator, state, failpoint, skip)
    # Assert: it really died there, and the restart leaves nothing orphaned or unprotected
    assert fired, f"the engine never reached {failpoint}"
    await restart_and_check(simulator, state, {})
