"""A backtest and a paper run over sockets make the same trades on the same candles.

Paper: the simulator on 127.0.0.1, the real Coinbase adapter (REST + WebSocket), the async
runtime. Backtest: the same PairTrader on the in-process matching core. Same candles, same fees,
same volume participation, same sizing (the live risk gate's budget): every position must enter
and exit at the same times, sizes, values and fees, and end with the same stop.

The paper replay does not wait for the engine: at 2,000 × real time a 1-minute leg lasts 30 ms,
ample for an order to reach the simulator before the market moves on (a machine so loaded that
it is not would show up here as an entry filled on a later leg).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ratchet.backtest.runner import run_pair
from ratchet.cli.run import paper_trade
from ratchet.config import load_config
from ratchet.domain.order_types import OrderSide
from ratchet.domain.position import Position
from ratchet.domain.risk import RiskGate
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.memory_store import MemoryStore
from ratchet.sim.server import SimSettings

PAIRS = ("TRX-BTC", "ADA-BTC")
CANDLES = 250
CASH = Decimal(10)

Row = tuple[str, str, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal | None]


@dataclass(frozen=True)
class AloneGate:
    """The live risk gate's answer for one pair trading alone (no other exposure)."""

    gate: RiskGate
    pair: str

    def budget(self, available: Decimal) -> Decimal:
        return self.gate.check(self.pair, [], available).budget


def row(p: Position) -> Row:
    """What must agree: status, sizes, values (so prices), fees and the last stop."""
    return (
        p.position_id,
        p.status.name,
        p.entry_size,
        p.entry_value,
        p.entry_fees,
        p.exit_size,
        p.exit_value,
        p.exit_fees,
        p.stop,
    )


async def test_a_backtest_makes_the_same_trades_as_paper_trading_over_sockets(
    tmp_path: Path,
) -> None:
    # Arrange: no protections (the backtester has none), 10 % of 10 BTC per entry. No chase of
    # stranded stops (the default, said here because it matters): a chase cancels at a candle's
    # last leg, and the next candle's open comes one market second later — 0.5 ms at this
    # replay speed, less than a cancel's round trip over sockets, so paper and backtest would
    # see the open's fill on different sides of the cancel (a race of the replay, not a
    # difference of the engine code)
    path = tmp_path / "ratchet.yaml"
    path.write_text(
        "portfolio:\n  total_capital: 10\n  max_position_size_pct: 10\n"
        "protections:\n  enabled: false\nstrategy:\n  stranded_stop_after: 0\n"
    )
    config = load_config(path)
    files = [f for f in demo_candle_files() if pair_of(f) in PAIRS]
    series = {pair_of(f): read_candles(f)[:CANDLES] for f in files}
    sim = SimSettings()

    # Act
    runtime = await paper_trade(
        series, speed=2_000, cash=CASH, show_dashboard=False, state=None, config=config
    )
    backtests = {
        pair: run_pair(
            pair,
            candles,
            config.trader_settings(pair),
            cash=CASH,
            gate=AloneGate(RiskGate(config.portfolio_config()), pair),
            maker_fee_rate=sim.maker_fee_rate,
            taker_fee_rate=sim.taker_fee_rate,
            participation=sim.participation,
        )
        for pair, candles in series.items()
    }

    # Assert
    store = runtime.store
    assert isinstance(store, MemoryStore)
    entry_times: dict[str, float] = {}
    exit_times: dict[str, float] = {}
    for record in store.orders.values():
        times = [float(f.time or 0) for f in record.order.fills]
        if not times:
            continue
        if record.order.side is OrderSide.BUY:
            entry_times[record.position_id] = min(times)
        else:
            exit_times[record.position_id] = max(times)
    total = 0
    for pair, result in backtests.items():
        paper = [p for p in store.positions.values() if p.pair == pair and p.entry_size > 0]
        paper.sort(key=lambda p: p.position_id)
        assert [row(p) for p in paper] == [row(p) for p in result.traded], pair
        for position in result.traded:
            pid = position.position_id
            assert result.entry_times[pid] == entry_times[pid], pid
            if pid in result.exit_times:
                assert result.exit_times[pid] == exit_times[pid], pid
        total += len(paper)
    assert total >= 10, "too few trades for the comparison to mean much"
