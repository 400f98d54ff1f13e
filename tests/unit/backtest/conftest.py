"""A real backtest of two bundled pairs, shared by the backtest tests (run once per module)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ratchet.backtest.runner import PairResult, run_all
from ratchet.domain.candles import Candle
from ratchet.engine.settings import TraderSettings
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles

PAIRS = ("ETH-BTC", "TRX-BTC")


@pytest.fixture(scope="module")
def demo_series() -> dict[str, list[Candle]]:
    """Two bundled pairs' candles (4 days each)."""
    return {pair_of(f): read_candles(f) for f in demo_candle_files() if pair_of(f) in PAIRS}


@pytest.fixture(scope="module")
def demo_results(demo_series: dict[str, list[Candle]]) -> dict[str, PairResult]:
    """Their backtest with 10 BTC each."""
    return run_all(demo_series, TraderSettings(), cash=Decimal(10))
