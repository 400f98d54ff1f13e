"""Backtest statistics on small cases worked out by hand, and their invariants."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ratchet.backtest.stats import (
    PERIODS_PER_YEAR,
    TradeOutcome,
    combined_curve,
    compute,
    drawdown_series,
    max_drawdown,
    profit_factor,
    returns,
    sharpe,
    sortino,
)

D = Decimal
ANNUAL = math.sqrt(PERIODS_PER_YEAR)


def test_max_drawdown_is_the_deepest_fall_from_a_running_peak() -> None:
    curve = [D(110), D(99), D(120), D(90), D(125)]
    # 110 -> 99 is 10 %, 120 -> 90 is 25 %: the deeper one counts
    assert max_drawdown(curve, D(100)) == 0.25
    assert drawdown_series(curve, D(100)) == [0.0, 0.1, 0.0, 0.25, 0.0]


def test_a_fall_below_the_starting_cash_is_a_drawdown_from_the_cash() -> None:
    assert max_drawdown([D(80), D(90)], D(100)) == 0.2


def test_returns_are_simple_returns_from_the_cash_on() -> None:
    assert returns([D(110), D(99)], D(100)) == [0.1, float(D(99) / D(110) - 1)]


def test_sharpe_is_mean_over_sample_stdev_annualised() -> None:
    # mean 0.01, sample stdev sqrt((0.01² + 0.01²) / 1) = 0.01·√2
    assert math.isclose(sharpe([0.02, 0.0]) or 0, (1 / math.sqrt(2)) * ANNUAL)


def test_sortino_divides_by_the_downside_deviation_over_all_returns() -> None:
    # mean 0.01; downside sqrt(0.02² / 3) = 0.02/√3
    assert math.isclose(sortino([0.02, -0.02, 0.03]) or 0, (math.sqrt(3) / 2) * ANNUAL)


def test_ratios_are_undefined_without_spread_or_losses() -> None:
    assert sharpe([0.01]) is None
    assert sharpe([0.01, 0.01]) is None  # no spread
    assert sortino([0.01, 0.02]) is None  # no downside
    assert profit_factor([D(1), D(2)]) is None  # nothing lost


def test_profit_factor_is_gross_profit_over_gross_loss() -> None:
    assert profit_factor([D(3), D(-1), D(-2), D(4)]) == 7 / 3


def test_compute_counts_trades_wins_fees_and_exposure() -> None:
    trades = [
        TradeOutcome(D("2.5"), D("0.1")),
        TradeOutcome(D("-1"), D("0.2")),
        TradeOutcome(None, D("0.05")),  # still open
    ]
    stats = compute(trades, [D(100), D(102), D("101.5")], D(100), exposed=2, candles=3)
    assert (stats.trades, stats.closed, stats.wins) == (3, 2, 1)
    assert stats.win_rate == 0.5
    assert stats.realized_pnl == D("1.5")
    assert stats.net_pnl == D("1.5")
    assert stats.fees == D("0.35")
    assert stats.exposure == 2 / 3
    assert stats.profit_factor == 2.5
    assert stats.final_equity == D("101.5")


def test_a_run_without_candles_or_trades_has_neutral_stats() -> None:
    stats = compute([], [], D(10), exposed=0, candles=0)
    assert stats.final_equity == D(10) and stats.net_pnl == 0
    assert stats.win_rate is None and stats.sharpe is None and stats.max_drawdown == 0


def test_combined_curves_hold_each_level_through_the_others_gaps() -> None:
    a = ([0, 300, 600], [D(11), D(12), D(13)], D(10))
    b = ([300, 900], [D(21), D(22)], D(20))
    times, total = combined_curve([a, b])
    assert times == [0, 300, 600, 900]
    # b counts its cash before its first point, then holds 21 through its gap at 600
    assert total == [D(11 + 20), D(12 + 21), D(13 + 21), D(13 + 22)]


levels = st.decimals(min_value=1, max_value=10**6, places=4, allow_nan=False)


@given(st.lists(levels, max_size=60), levels)
def test_drawdown_is_a_fraction_and_the_max_of_the_series(
    curve: list[Decimal], cash: Decimal
) -> None:
    worst = max_drawdown(curve, cash)
    assert 0 <= worst < 1
    assert worst == max(drawdown_series(curve, cash), default=0.0)


@given(st.lists(levels, max_size=60), levels)
def test_a_curve_that_never_falls_has_no_drawdown(curve: list[Decimal], cash: Decimal) -> None:
    rising = sorted([cash, *curve])
    assert max_drawdown(rising[1:], rising[0]) == 0


pnls = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)


@given(st.lists(pnls, max_size=40))
def test_profit_factor_above_one_exactly_when_the_trades_made_money(trades: list[Decimal]) -> None:
    factor = profit_factor(trades)
    if factor is None:
        assert all(p >= 0 for p in trades)
    else:
        assert (factor > 1) == (sum(trades) > 0)
        assert (factor < 1) == (sum(trades) < 0)


@given(st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=2, max_size=60))
def test_sharpe_and_sortino_take_the_sign_of_the_mean(period: list[float]) -> None:
    mean = math.fsum(period) / len(period)
    for ratio in (sharpe(period), sortino(period)):
        if ratio is not None and abs(mean) > 1e-12:
            assert (ratio > 0) == (mean > 0)
