"""The backtest runner's records: one point per candle, trade times, exposure."""

from __future__ import annotations

import dataclasses
import statistics
from decimal import Decimal

import pytest

from ratchet.backtest.runner import PairResult, median_close, run_pair
from ratchet.domain.candles import CANDLE_SECONDS, TICK_OFFSETS, Candle
from ratchet.domain.position import Position
from ratchet.engine.settings import TraderSettings


def test_every_candle_gets_one_equity_point_marked_at_its_close(
    demo_series: dict[str, list[Candle]], demo_results: dict[str, PairResult]
) -> None:
    for pair, result in demo_results.items():
        candles = demo_series[pair]
        assert result.starts == [c.start for c in candles]
        assert result.closes == [c.close for c in candles]
        assert len(result.equity) == len(result.stops) == len(candles)
        assert result.equity[-1] == result.equity_now  # the last point is the final account


def test_equity_is_the_cash_until_the_first_entry_fills(
    demo_results: dict[str, PairResult],
) -> None:
    for result in demo_results.values():
        first = min(result.entry_times.values())
        before = [e for t, e in zip(result.starts, result.equity, strict=True) if t + 300 <= first]
        assert before and all(e == result.cash for e in before)


def test_trades_have_their_times_in_order_and_a_stop_means_exposure(
    demo_results: dict[str, PairResult],
) -> None:
    for result in demo_results.values():
        assert result.traded, "the bundled days trade"
        for position in result.traded:
            assert position.position_id in result.entry_times
        for position in result.closed:
            assert (
                result.entry_times[position.position_id] <= result.exit_times[position.position_id]
            )
        with_stop = sum(1 for s in result.stops if s is not None)
        assert with_stop <= result.exposed <= len(result.equity)


def test_entries_reach_the_market_only_after_the_next_candle_opened(
    demo_results: dict[str, PairResult],
) -> None:
    # the trader learns of a close when the next candle's first trade arrives (as from the
    # live feed), so no entry can fill on the candle whose close signalled it: an entry's first
    # fill is at a leg time, never at a candle's end before the next candle's open
    for result in demo_results.values():
        starts = set(result.starts)
        for when in result.entry_times.values():
            offset = int(when) % CANDLE_SECONDS
            assert offset in TICK_OFFSETS
            assert int(when) - offset in starts


def test_unlimited_participation_fills_entries_in_one_go(
    demo_series: dict[str, list[Candle]],
) -> None:
    candles = demo_series["ETH-BTC"]
    capped = run_pair("ETH-BTC", candles, TraderSettings(), cash=Decimal(10_000))
    free = run_pair(
        "ETH-BTC", candles, TraderSettings(), cash=Decimal(10_000), participation=Decimal(10**9)
    )
    # 9,500 BTC per entry is far more than a quarter of a leg's volume, so capped entries fill
    # only in part; unlimited ones buy the whole budget
    assert max(p.entry_value for p in capped.traded) < Decimal(9_000)
    assert min(p.entry_value for p in free.traded) > Decimal(9_000)


def test_the_shortcuts_for_quiet_candles_change_nothing(
    demo_series: dict[str, list[Candle]], demo_results: dict[str, PairResult]
) -> None:
    """Candles that can reach nothing skip their middle legs and ticks; a replay that hands
    the trader every leg of every candle gives the same trades, fills and curves."""
    for pair, candles in demo_series.items():
        slow = run_pair(pair, candles, TraderSettings(), cash=Decimal(10), every_leg=True)
        fast = demo_results[pair]
        assert fast.traded, "the comparison covers trades"
        assert _fields(slow.positions) == _fields(fast.positions)
        assert (slow.entry_times, slow.exit_times) == (fast.entry_times, fast.exit_times)
        assert (slow.equity, slow.stops, slow.exposed) == (fast.equity, fast.stops, fast.exposed)
        assert (slow.fills, slow.final_quote, slow.final_base) == (
            fast.fills,
            fast.final_quote,
            fast.final_base,
        )


def _fields(positions: dict[str, Position]) -> dict[str, tuple[object, ...]]:
    """Each position's fields (a Position compares by identity: it is the live object)."""
    return {
        pid: tuple(getattr(p, f.name) for f in dataclasses.fields(p))
        for pid, p in positions.items()
    }


def test_the_median_close_is_statistics_median_of_the_closes(
    demo_series: dict[str, list[Candle]],
) -> None:
    # the product's increments are chosen from it: the fast sort must give the same Decimal
    for candles in demo_series.values():
        for part in (candles, candles[1:], candles[:1], candles[:2], candles[7:300]):
            want = statistics.median(candle.close for candle in part)
            got = median_close(part)
            assert (got, str(got)) == (want, str(want))
    with pytest.raises(ValueError, match="no candles"):
        median_close([])
