"""The 2-of-3 entry rule: truth table, warm-up, thresholds, reasons, and a real-data recount."""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import cache
from itertools import combinations, product
from pathlib import Path

import numpy as np
import pytest
import talib

from ratchet.domain.candles import SECONDS_PER_DAY, Candle
from ratchet.domain.indicators import IndicatorValues, MacdValue
from ratchet.domain.signals import SignalEngine, SignalRules, decide

DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "candles"
PAIRS = ("ADA-BTC", "DASH-BTC", "ETH-BTC", "LTC-BTC", "TRX-BTC", "XLM-BTC")
FIELDS = ("open", "high", "low", "close", "volume")
START = 1_515_560_100  # 2018-01-10 04:55 UTC
CANDLE = Candle(START, *(Decimal(1),) * 5)  # close 1.0
INDICATORS = ("rsi", "macd", "vwap")


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


def _values(
    rsi: float | None = 25.0,
    histogram: float | None = 0.001,
    vwap: float | None = 0.99,
    close: float = 1.0,
) -> IndicatorValues:
    """Hand-built indicator values on a candle closing at ``close`` (defaults: all confirm)."""
    macd = None if histogram is None else MacdValue(0.01 + histogram, 0.01, histogram)
    return IndicatorValues(START, close, rsi, macd, vwap)


def _confirming(rsi_ok: bool, macd_ok: bool, vwap_ok: bool) -> IndicatorValues:
    return _values(
        rsi=25.0 if rsi_ok else 35.0,
        histogram=0.001 if macd_ok else -0.001,
        vwap=0.99 if vwap_ok else 1.01,
    )


# -- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("minimum", [1, 2, 3])
@pytest.mark.parametrize(
    ("rsi_ok", "macd_ok", "vwap_ok"), list(product([True, False], repeat=3)), ids=str
)
def test_enter_when_enough_of_three_confirmations_hold(
    rsi_ok: bool, macd_ok: bool, vwap_ok: bool, minimum: int
) -> None:
    # Arrange
    rules = SignalRules(min_confirmations=minimum)
    # Act
    decision = decide(CANDLE, _confirming(rsi_ok, macd_ok, vwap_ok), rules)
    # Assert
    assert (decision.rsi_ok, decision.macd_ok, decision.vwap_ok) == (rsi_ok, macd_ok, vwap_ok)
    assert decision.confirmations == rsi_ok + macd_ok + vwap_ok
    assert decision.enter is (rsi_ok + macd_ok + vwap_ok >= minimum)
    assert not decision.warming_up


def test_default_rule_is_two_of_three() -> None:
    truth = {
        combo: decide(CANDLE, _confirming(*combo), SignalRules()).enter
        for combo in product([True, False], repeat=3)
    }
    assert [combo for combo, enter in truth.items() if enter] == [
        (True, True, True),
        (True, True, False),
        (True, False, True),
        (False, True, True),
    ]


@pytest.mark.parametrize(
    "unknown",
    [set(c) for n in (1, 2, 3) for c in combinations(INDICATORS, n)],
    ids=lambda s: "+".join(sorted(s)),
)
def test_no_signal_while_any_indicator_is_warming_up(unknown: set[str]) -> None:
    # Arrange: the known confirmations all hold, even with min_confirmations=1
    values = _values(**{name: None for name in unknown if name != "macd"})
    if "macd" in unknown:
        values = values._replace(macd=None)
    # Act
    decision = decide(CANDLE, values, SignalRules(min_confirmations=1))
    # Assert
    assert decision.enter is False and decision.warming_up
    for name in INDICATORS:
        ok = getattr(decision, f"{name}_ok")
        assert ok is None if name in unknown else ok is True


def test_thresholds_are_strict() -> None:
    # Arrange: RSI exactly 30, histogram exactly 0, close exactly the VWAP
    values = _values(rsi=30.0, histogram=0.0, vwap=1.0)
    # Act
    decision = decide(CANDLE, values, SignalRules())
    # Assert
    assert (decision.rsi_ok, decision.macd_ok, decision.vwap_ok) == (False, False, False)


def test_custom_thresholds() -> None:
    # Arrange
    rules = SignalRules(rsi_below=40.0, macd_min_histogram=0.002, vwap_min_premium_pct=1.0)
    # Act
    loose = decide(CANDLE, _values(rsi=35.0, histogram=0.003, vwap=0.98), rules)
    tight = decide(CANDLE, _values(rsi=45.0, histogram=0.002, vwap=0.995), rules)
    # Assert: RSI 35 < 40; margin 0.003 > 0.002; close 1.0 is 2 % over 0.98 but 0.5 % over 0.995
    assert (loose.rsi_ok, loose.macd_ok, loose.vwap_ok, loose.enter) == (True, True, True, True)
    assert (tight.rsi_ok, tight.macd_ok, tight.vwap_ok, tight.enter) == (
        False,
        False,
        False,
        False,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rsi_below": 0.0},
        {"rsi_below": 100.0},
        {"rsi_below": -5.0},
        {"rsi_below": float("nan")},
        {"min_confirmations": 0},
        {"min_confirmations": 4},
        {"macd_min_histogram": -0.1},
        {"vwap_min_premium_pct": -1.0},
    ],
    ids=str,
)
def test_invalid_rules_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SignalRules(**kwargs)  # type: ignore[arg-type]


def test_boundary_rules_are_valid() -> None:
    assert SignalRules(rsi_below=0.5, min_confirmations=1).min_confirmations == 1
    assert SignalRules(rsi_below=99.5, min_confirmations=3).rsi_below == 99.5


# -- reasons ---------------------------------------------------------------------------------


def test_reasons_mention_each_indicator_and_the_verdict() -> None:
    # Arrange
    decision = decide(CANDLE, _confirming(True, False, True), SignalRules())
    # Act
    lines = decision.reasons()
    # Assert
    assert len(lines) == 4
    assert lines[0] == "rsi: 25.00 < 30"
    assert lines[1].startswith("macd: line") and "not above signal" in lines[1]
    assert lines[2].startswith("vwap: close 1 above vwap 0.99")
    assert lines[3] == "enter: 2 of 3 held, 2 needed"


def test_reasons_say_no_entry_and_show_margins() -> None:
    # Arrange
    rules = SignalRules(macd_min_histogram=0.002, vwap_min_premium_pct=1.5)
    decision = decide(CANDLE, _values(rsi=31.0), rules)
    # Act
    lines = decision.reasons()
    # Assert
    assert lines[0] == "rsi: 31.00 >= 30"
    assert lines[1].endswith("by > 0.002")
    assert lines[2].endswith("by > 1.5%")
    assert lines[3] == "no entry: 0 of 3 held, 2 needed"


def test_reasons_while_warming_up() -> None:
    decision = decide(CANDLE, IndicatorValues(START, 1.0, None, None, None), SignalRules())
    assert decision.reasons() == [
        "rsi: warming up",
        "macd: warming up",
        "vwap: no volume yet this session",
        "no signal: indicators warming up",
    ]


# -- real data -------------------------------------------------------------------------------


def _vectorised_entries(candles: tuple[Candle, ...]) -> np.ndarray:
    """Indices where RSI<30, MACD>signal, close>VWAP hold 2 of 3, all three defined."""
    high, low, close, volume = (
        np.array([float(getattr(c, name)) for c in candles])
        for name in ("high", "low", "close", "volume")
    )
    rsi = talib.RSI(close, timeperiod=14)
    line, signal, _ = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    days = np.array([c.start for c in candles]) // SECONDS_PER_DAY
    cut = np.flatnonzero(np.diff(days)) + 1
    weighted = (high + low + close) / 3.0 * volume
    cum_weighted = np.concatenate([np.cumsum(p) for p in np.split(weighted, cut)])
    cum_volume = np.concatenate([np.cumsum(p) for p in np.split(volume, cut)])
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(cum_volume > 0, cum_weighted / cum_volume, np.nan)
    defined = ~np.isnan(rsi) & ~np.isnan(line) & ~np.isnan(vwap)
    held = (rsi < 30).astype(int) + (line > signal) + (close > vwap)
    return np.flatnonzero(defined & (held >= 2))


@pytest.mark.parametrize("pair", PAIRS)
def test_signals_on_real_pair_match_vectorised_recount(pair: str) -> None:
    # Arrange
    candles = _load(pair)
    engine = SignalEngine()
    # Act
    decisions = [engine.on_candle_closed(candle) for candle in candles]
    # Assert
    ours = [i for i, decision in enumerate(decisions) if decision.enter]
    expected = _vectorised_entries(candles)
    assert len(ours) == len(expected) > 0
    assert ours == expected.tolist()
    assert all(d.warming_up and not d.enter for d in decisions[:33])
    assert not decisions[33].warming_up
