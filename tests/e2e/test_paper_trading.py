"""Paper trading end to end: simulator on 127.0.0.1, the real adapter, the engine, the runtime.

signal → limit entry → fill → stop-limit sell → ratchet → exit, checked against the trading
rules of DESIGN.md §2 after the run: every exit came after its entry filled, stops only rose,
no market order, one exchange order per client_order_id, balances never negative.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

from ratchet.cli.run import paper_trade
from ratchet.config import load_config
from ratchet.domain.order_types import OrderSide, OrderType
from ratchet.domain.position import PositionStatus
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.memory_store import MemoryStore


async def test_paper_trading_round_trips_keep_the_trading_rules() -> None:
    # Arrange: two real pairs, 400 candles each, replayed fast
    files = [f for f in demo_candle_files() if pair_of(f) in ("ETH-BTC", "TRX-BTC")]
    series = {pair_of(f): read_candles(f)[:400] for f in files}

    # Act
    runtime = await paper_trade(
        series, speed=8_000, cash=Decimal(10), show_dashboard=False, state=None
    )

    # Assert
    store = runtime.store
    assert isinstance(store, MemoryStore)
    assert len(runtime.history.closed) == sum(
        1 for p in store.positions.values() if p.status is PositionStatus.CLOSED
    )
    closed = [p for p in store.positions.values() if p.status is PositionStatus.CLOSED]
    assert closed, "no position completed a round trip"
    for position in closed:
        assert position.entry_size > 0
        assert position.exit_size == position.entry_size
        assert position.realized_pnl == (
            position.exit_value - position.exit_fees - position.entry_value - position.entry_fees
        )
    orders = [record.order for record in store.orders.values()]
    assert not [o for o in orders if o.order_type is OrderType.MARKET]
    assert all(o.order_type is OrderType.LIMIT for o in orders if o.side is OrderSide.BUY)
    first_fill: dict[str, float] = {}
    for record in store.orders.values():
        order = record.order
        if order.side is OrderSide.BUY and order.fills:
            first_fill[record.position_id] = min(f.time or 0 for f in order.fills)
    for record in store.orders.values():
        order = record.order
        if order.side is OrderSide.SELL and order.fills:
            assert record.position_id in first_fill, "an exit filled for a position never entered"
            assert min(f.time or 0 for f in order.fills) >= first_fill[record.position_id]
    by_position: dict[str, list[Decimal]] = {}
    for change in store.stops:
        if change.confirmed is not None:
            by_position.setdefault(change.position_id, []).append(change.confirmed)
    assert by_position
    for levels in by_position.values():
        assert levels == sorted(levels), "a confirmed stop went down"
    ids = [o.client_order_id for o in orders]
    assert len(ids) == len(set(ids))


async def test_paper_trading_commits_every_step_to_the_sqlite_state(tmp_path: Path) -> None:
    # Arrange
    files = [f for f in demo_candle_files() if pair_of(f) == "ETH-BTC"]
    series = {pair_of(f): read_candles(f)[:300] for f in files}
    state = tmp_path / "paper.db"

    # Act
    runtime = await paper_trade(
        series, speed=8_000, cash=Decimal(10), show_dashboard=False, state=state
    )

    # Assert: what the run finished is what the database holds
    with sqlite3.connect(state) as db:
        closed = db.execute("select count(*) from positions where status = 'CLOSED'").fetchone()
        signals, last_start = db.execute("select count(*), max(start) from signals").fetchone()
        markets = db.execute("select count(*) from orders where order_type = 'MARKET'").fetchone()
    assert closed[0] == len(runtime.history.closed)
    # one signal row per closed candle, none skipped (the replay's last candle may stay open)
    assert signals == sum(1 for c in series["ETH-BTC"] if c.start <= last_start) >= 290
    assert markets[0] == 0


async def test_paper_trading_takes_per_pair_profiles_from_the_yaml_config(tmp_path: Path) -> None:
    # Arrange: ETH-BTC trails by 3 %, the rest by the default 2 %; at most 1 position at a time
    path = tmp_path / "ratchet.yaml"
    path.write_text(
        "portfolio:\n  total_capital: 10\n  max_positions: 1\n  max_position_size_pct: 20\n"
        "pairs:\n  ETH-BTC:\n    trail_pct: 3\n"
    )
    config = load_config(path)
    files = [f for f in demo_candle_files() if pair_of(f) in ("ETH-BTC", "TRX-BTC")]
    series = {pair_of(f): read_candles(f)[:300] for f in files}

    # Act
    runtime = await paper_trade(
        series, speed=8_000, cash=Decimal(10), show_dashboard=False, state=None, config=config
    )

    # Assert
    assert runtime.traders["ETH-BTC"].settings.trail.trail_pct == Decimal(3)
    assert runtime.traders["TRX-BTC"].settings.trail.trail_pct == Decimal(2)
    assert runtime.gate.config.max_positions == 1
    store = runtime.store
    assert isinstance(store, MemoryStore)
    # never two positions open at once: each position's first entry fill comes after the
    # previous position's last exit fill (max_positions: 1)
    spans: dict[str, list[float]] = {}
    for record in store.orders.values():
        times = [float(f.time or 0) for f in record.order.fills]
        if not times:
            continue
        span = spans.setdefault(record.position_id, [float("inf"), float("-inf")])
        if record.order.side is OrderSide.BUY:
            span[0] = min(span[0], *times)
        else:
            span[1] = max(span[1], *times)
    ordered = sorted(spans.values())
    assert len(ordered) >= 2, "too few positions to check the limit"
    for before, after in pairwise(ordered):
        assert before[1] != float("-inf"), "a position never exited before the next one began"
        assert after[0] >= before[1]


def test_a_bad_config_stops_ratchet_run_before_anything_starts(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("strategy:\n  trail_pct: 120\n")
    result = subprocess.run(
        [sys.executable, "-m", "ratchet", "run", "--paper", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "strategy.trail_pct" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_event_loop_stops_ratchet_run_before_anything_starts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ratchet", "run", "--paper", "--state", str(tmp_path / "p.db")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "RATCHET_EVENT_LOOP": "tokio"},
    )
    assert result.returncode == 2
    assert "RATCHET_EVENT_LOOP must be uvloop or asyncio, got 'tokio'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "p.db").exists()
