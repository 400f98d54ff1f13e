"""Pairs backtested on several forked workers give exactly what one process gives."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ratchet.backtest.parallel import can_fork, default_workers, run_pairs
from ratchet.backtest.runner import PairResult
from ratchet.domain.candles import Candle
from ratchet.engine.settings import TraderSettings


def fingerprint(result: PairResult) -> tuple[object, ...]:
    """Everything a report is made of."""
    return (
        [repr(position) for position in result.positions.values()],
        result.entry_times,
        result.exit_times,
        result.starts,  # left out of what a worker sends back, put back from the candles
        result.closes,
        result.equity,
        result.stops,
        result.exposed,
        result.fills,
        result.final_quote,
        result.final_base,
    )


@pytest.mark.skipif(not can_fork(), reason="no fork on this platform")
def test_two_workers_give_the_results_of_one_process_in_pair_order(
    demo_series: dict[str, list[Candle]],
) -> None:
    # Arrange
    settings = dict.fromkeys(demo_series, TraderSettings())
    seen: list[tuple[str, int]] = []
    # Act
    alone = run_pairs(demo_series, settings, workers=1, cash=Decimal(10))
    shared = run_pairs(
        demo_series,
        settings,
        workers=2,
        progress=lambda pair, candles: seen.append((pair, candles)),
        cash=Decimal(10),
    )
    # Assert
    assert list(shared) == list(alone) == sorted(demo_series)
    for pair in alone:
        assert fingerprint(shared[pair]) == fingerprint(alone[pair])
    assert sorted(seen) == sorted((pair, len(data)) for pair, data in demo_series.items())
    assert any(result.closed for result in alone.values()), "the demo days trade"


def test_each_pair_needs_settings_and_workers_must_be_positive(
    demo_series: dict[str, list[Candle]],
) -> None:
    settings = dict.fromkeys(demo_series, TraderSettings())
    with pytest.raises(ValueError, match="no trader settings for ETH-BTC"):
        run_pairs(demo_series, {"TRX-BTC": TraderSettings()})
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        run_pairs(demo_series, settings, workers=0)
    assert default_workers() >= 1
