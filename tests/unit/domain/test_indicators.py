"""Streaming RSI, MACD and session VWAP against TA-Lib and numpy on six real pairs."""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.domain.candles import SECONDS_PER_DAY, Candle
from ratchet.domain.indicators import (
    IndicatorParams,
    IndicatorSet,
    IndicatorValues,
    Macd,
    Rsi,
    SessionVwap,
)

DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "candles"
PAIRS = ("ADA-BTC", "DASH-BTC", "ETH-BTC", "LTC-BTC", "TRX-BTC", "XLM-BTC")
FIELDS = ("open", "high", "low", "close", "volume")

RELATIVE = 1e-9
# MACD values are differences of two EMAs of the price, so around a crossing they pass through
# zero and a relative bound alone is meaningless (catastrophic cancellation). Below an absolute
# floor of 1e-12 × the median close (1e-16 BTC for ADA, 1e-13 BTC for DASH: far below the 1e-8
# quote increment, so no real error can hide under it) values count as equal.
FLOOR_PER_PRICE = 1e-12


@cache
def _load(pair: str) -> tuple[Candle, ...]:
    path = DATA_DIR / f"{pair}-5m.csv"
    if not path.is_file():
        pytest.skip(f"real candle data not found at {path} (shared test data absent)")
    with path.open(newline="") as handle:
        return tuple(
            Candle(int(row["start"]), *(Decimal(row[name]) for name in FIELDS))
            for row in csv.DictReader(handle)
        )


@cache
def _streamed(pair: str) -> tuple[IndicatorValues, ...]:
    indicators = IndicatorSet()
    return tuple(indicators.update(candle) for candle in _load(pair))


def _column(candles: tuple[Candle, ...], name: str) -> np.ndarray:
    return np.array([float(getattr(candle, name)) for candle in candles])


def _assert_matches_talib(ours: list[float | None], talibs: np.ndarray, floor: float) -> None:
    """Our ``None`` exactly where TA-Lib has NaN; elsewhere equal within 1e-9 relative."""
    warming = np.array([value is None for value in ours])
    np.testing.assert_array_equal(warming, np.isnan(talibs), err_msg="warm-up positions differ")
    actual = np.array([np.nan if value is None else value for value in ours])
    np.testing.assert_allclose(actual[~warming], talibs[~warming], rtol=RELATIVE, atol=floor)


def _floor(candles: tuple[Candle, ...]) -> float:
    return FLOOR_PER_PRICE * float(np.median(_column(candles, "close")))


# -- TA-Lib cross-checks on real data --------------------------------------------------------


@pytest.mark.parametrize("pair", PAIRS)
def test_rsi_matches_talib_on_real_pair(pair: str) -> None:
    # Arrange
    candles = _load(pair)
    # Act
    ours = [values.rsi for values in _streamed(pair)]
    # Assert
    expected = talib.RSI(_column(candles, "close"), timeperiod=14)
    assert ours[13] is None and ours[14] is not None
    _assert_matches_talib(ours, expected, floor=1e-12)  # RSI is on a 0..100 scale


@pytest.mark.parametrize("pair", PAIRS)
def test_macd_line_signal_and_histogram_match_talib_on_real_pair(pair: str) -> None:
    # Arrange
    candles = _load(pair)
    # Act
    ours = [values.macd for values in _streamed(pair)]
    # Assert
    expected = talib.MACD(_column(candles, "close"), fastperiod=12, slowperiod=26, signalperiod=9)
    assert ours[32] is None and ours[33] is not None
    for index, column in enumerate(expected):
        part = [None if value is None else value[index] for value in ours]
        _assert_matches_talib(part, column, floor=_floor(candles))


def _numpy_session_vwap(candles: tuple[Candle, ...]) -> np.ndarray:
    """The definition, vectorised: cumulative (typical price × volume) / volume per UTC day."""
    high, low, close = (_column(candles, name) for name in ("high", "low", "close"))
    volume = _column(candles, "volume")
    weighted = (high + low + close) / 3.0 * volume
    days = np.array([candle.start for candle in candles]) // SECONDS_PER_DAY
    cut = np.flatnonzero(np.diff(days)) + 1
    cum_weighted = np.concatenate([np.cumsum(part) for part in np.split(weighted, cut)])
    cum_volume = np.concatenate([np.cumsum(part) for part in np.split(volume, cut)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cum_volume > 0, cum_weighted / cum_volume, np.nan)


@pytest.mark.parametrize("pair", PAIRS)
def test_session_vwap_matches_numpy_definition_on_real_pair(pair: str) -> None:
    # Arrange
    candles = _load(pair)
    expected = _numpy_session_vwap(candles)
    # Act
    ours = np.array([np.nan if v.vwap is None else v.vwap for v in _streamed(pair)])
    # Assert
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("pair", PAIRS)
def test_session_vwap_restarts_at_first_candle_of_each_utc_day(pair: str) -> None:
    # Arrange
    candles = _load(pair)
    firsts = [i for i in range(1, len(candles)) if candles[i].day != candles[i - 1].day]
    # Act
    values = _streamed(pair)
    # Assert: the first candle of a session is the whole session, so VWAP = its typical price
    assert len(firsts) >= 19  # the data spans 20 days
    for i in firsts:
        candle = candles[i]
        typical = (float(candle.high) + float(candle.low) + float(candle.close)) / 3.0
        assert values[i].vwap == pytest.approx(typical, rel=1e-12)


# -- hand-built cases ------------------------------------------------------------------------


def _candle(start: int, close: str, volume: str = "1", spread: str = "0") -> Candle:
    price, width = Decimal(close), Decimal(spread)
    return Candle(start, price, price + width, price - width, price, Decimal(volume))


def test_vwap_resets_at_midnight_utc() -> None:
    # Arrange
    midnight = 20 * SECONDS_PER_DAY
    vwap = SessionVwap()
    vwap.update(midnight - 600, 3.0, 1.0, 2.0, 10.0)
    before = vwap.update(midnight - 300, 6.0, 4.0, 5.0, 10.0)
    # Act
    after = vwap.update(midnight, 9.0, 9.0, 9.0, 1.0)
    # Assert
    assert before == pytest.approx(3.5)
    assert after == 9.0


def test_vwap_is_none_until_the_session_trades_volume() -> None:
    # Arrange
    vwap = SessionVwap()
    # Act
    first = vwap.update(0, 2.0, 1.0, 1.5, 0.0)
    needs = vwap.needs
    second = vwap.update(300, 2.0, 1.0, 1.5, 4.0)
    # Assert
    assert (first, needs, second, vwap.needs) == (None, 1, 1.5, 0)


def test_rsi_of_flat_market_is_50_where_talib_says_0() -> None:
    # Arrange: documented deviation — TA-Lib's 0 would read as "oversold" on a market that
    # did not move
    closes = np.full(40, 0.0000533)
    rsi = Rsi(14)
    # Act
    ours = [rsi.update(close) for close in closes]
    # Assert
    assert ours[14:] == [50.0] * 26
    assert np.all(talib.RSI(closes, timeperiod=14)[14:] == 0.0)


def test_rsi_needs_15_closes_and_macd_34() -> None:
    # Arrange
    indicators = IndicatorSet()
    assert indicators.warmup_needs() == {"rsi": 15, "macd": 34, "vwap": 1}
    # Act
    values = [indicators.update(_candle(300 * i, f"1.{i:03d}")) for i in range(34)]
    # Assert
    assert [v.rsi is None for v in values].index(False) == 14
    assert [v.macd is None for v in values].index(False) == 33
    assert not values[32].ready and values[33].ready
    assert indicators.warmup_needs() == {"rsi": 0, "macd": 0, "vwap": 0}


def test_needs_counts_down_one_per_close() -> None:
    # Arrange
    rsi, macd = Rsi(5), Macd(3, 6, 4)
    # Act
    counts = []
    for i in range(10):
        counts.append((rsi.needs, macd.needs))
        rsi.update(1.0 + i)
        macd.update(1.0 + i)
    # Assert
    assert counts == [
        (6, 9),
        (5, 8),
        (4, 7),
        (3, 6),
        (2, 5),
        (1, 4),
        (0, 3),
        (0, 2),
        (0, 1),
        (0, 0),
    ]
    assert rsi.value is not None and macd.value is not None


@pytest.mark.parametrize("offset", [0, -300], ids=["same-start", "earlier"])
def test_indicator_set_refuses_candle_not_after_previous(offset: int) -> None:
    # Arrange
    indicators = IndicatorSet()
    indicators.update(_candle(600, "1.0"))
    # Act / Assert
    with pytest.raises(ValueError, match="not after the previous one"):
        indicators.update(_candle(600 + offset, "2.0"))
    assert indicators.update(_candle(900, "1.0")).vwap == 1.0  # the refusal changed nothing


@pytest.mark.parametrize("period", [1, 0, -14])
def test_rsi_with_invalid_period_raises(period: int) -> None:
    with pytest.raises(ValueError, match="RSI period"):
        Rsi(period)


@pytest.mark.parametrize(
    ("fast", "slow", "signal"), [(12, 12, 9), (26, 12, 9), (1, 26, 9), (12, 26, 1), (0, 26, 9)]
)
def test_macd_with_invalid_periods_raises(fast: int, slow: int, signal: int) -> None:
    with pytest.raises(ValueError, match="MACD needs"):
        Macd(fast, slow, signal)


def test_indicator_set_with_invalid_params_raises() -> None:
    with pytest.raises(ValueError, match="RSI period"):
        IndicatorSet(IndicatorParams(rsi_period=1))
    with pytest.raises(ValueError, match="MACD needs"):
        IndicatorSet(IndicatorParams(macd_fast=30, macd_slow=26))


# -- custom periods on random walks ----------------------------------------------------------


@st.composite
def _random_walks(draw: st.DrawFn) -> np.ndarray:
    """Prices on a 1e-8 grid that move every step (so RSI's averages are never both zero)."""
    steps = draw(st.lists(st.integers(-40, 40).filter(bool), min_size=20, max_size=120))
    start = draw(st.integers(5_000, 50_000_000))
    return (start + np.cumsum([0, *steps])).clip(1) * 1e-8


@settings(max_examples=60, deadline=None)
@given(
    closes=_random_walks(),
    rsi_period=st.integers(2, 20),
    fast=st.integers(2, 10),
    extra=st.integers(1, 12),
    signal=st.integers(2, 9),
)
def test_custom_periods_match_talib_on_random_walks(
    closes: np.ndarray, rsi_period: int, fast: int, extra: int, signal: int
) -> None:
    # Arrange
    rsi, macd = Rsi(rsi_period), Macd(fast, fast + extra, signal)
    floor = FLOOR_PER_PRICE * float(np.median(closes))
    # Act
    ours_rsi = [rsi.update(float(close)) for close in closes]
    ours_macd = [macd.update(float(close)) for close in closes]
    # Assert
    _assert_matches_talib(ours_rsi, talib.RSI(closes, timeperiod=rsi_period), floor=1e-12)
    expected = talib.MACD(closes, fastperiod=fast, slowperiod=fast + extra, signalperiod=signal)
    for index, column in enumerate(expected):
        part = [None if value is None else value[index] for value in ours_macd]
        _assert_matches_talib(part, column, floor=floor)
