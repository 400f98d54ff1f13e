"""The entry rule: at least 2 of 3 confirmations (RSI, MACD, VWAP) on a closed candle.

Defaults: RSI below 30 (oversold), MACD line above its signal line (momentum turning up),
close above the session VWAP (buyers in control). A confirmation whose indicator is still
warming up is *unknown*, and no signal is given until all three are known — the engine never
enters on a half-formed picture. Every decision carries which confirmations held, so an
operator can see why the engine did or did not enter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ratchet.domain.candles import Candle
from ratchet.domain.indicators import IndicatorParams, IndicatorSet, IndicatorValues

_new = tuple.__new__  # a named tuple from all its fields, at half the cost of the class call


@dataclass(frozen=True, slots=True)
class SignalRules:
    """The thresholds of the three confirmations and how many must hold.

    ``macd_min_histogram`` is the margin by which the MACD line must exceed its signal line;
    ``vwap_min_premium_pct`` the percentage by which the close must exceed the VWAP.
    """

    rsi_below: float = 30.0
    macd_min_histogram: float = 0.0
    vwap_min_premium_pct: float = 0.0
    min_confirmations: int = 2

    def __post_init__(self) -> None:
        if not 0.0 < self.rsi_below < 100.0:
            raise ValueError(f"rsi_below must be between 0 and 100, got {self.rsi_below}")
        if not 1 <= self.min_confirmations <= 3:
            raise ValueError(f"min_confirmations must be 1, 2 or 3, got {self.min_confirmations}")
        if self.macd_min_histogram < 0.0 or self.vwap_min_premium_pct < 0.0:
            raise ValueError("macd_min_histogram and vwap_min_premium_pct must be >= 0")


class SignalDecision(NamedTuple):
    """The verdict on one closed candle.

    Each ``*_ok`` is ``True``/``False`` when its indicator is ready and ``None`` while it warms
    up; ``enter`` is True only when all are known and enough of them hold.
    """

    candle: Candle
    values: IndicatorValues
    rsi_ok: bool | None
    macd_ok: bool | None
    vwap_ok: bool | None
    enter: bool
    rules: SignalRules

    @property
    def confirmations(self) -> int:
        """How many confirmations held."""
        return (self.rsi_ok is True) + (self.macd_ok is True) + (self.vwap_ok is True)

    @property
    def warming_up(self) -> bool:
        """True while at least one indicator has no value yet."""
        return self.rsi_ok is None or self.macd_ok is None or self.vwap_ok is None

    def reasons(self) -> list[str]:
        """One human-readable line per confirmation, then the verdict."""
        rules, values = self.rules, self.values
        lines = []
        if values.rsi is None:
            lines.append("rsi: warming up")
        else:
            verb = "<" if self.rsi_ok else ">="
            lines.append(f"rsi: {values.rsi:.2f} {verb} {rules.rsi_below:g}")
        if values.macd is None:
            lines.append("macd: warming up")
        else:
            verb = "above" if self.macd_ok else "not above"
            lines.append(
                f"macd: line {values.macd.line:.10g} {verb} signal {values.macd.signal:.10g}"
                + (f" by > {rules.macd_min_histogram:g}" if rules.macd_min_histogram else "")
            )
        if values.vwap is None:
            lines.append("vwap: no volume yet this session")
        else:
            verb = "above" if self.vwap_ok else "not above"
            premium = f" by > {rules.vwap_min_premium_pct:g}%" if rules.vwap_min_premium_pct else ""
            lines.append(f"vwap: close {self.candle.close} {verb} vwap {values.vwap:.10g}{premium}")
        if self.warming_up:
            lines.append("no signal: indicators warming up")
        else:
            verdict = "enter" if self.enter else "no entry"
            lines.append(
                f"{verdict}: {self.confirmations} of 3 held, {rules.min_confirmations} needed"
            )
        return lines


def decide(candle: Candle, values: IndicatorValues, rules: SignalRules) -> SignalDecision:
    """Apply the rules to one closed candle's indicator values."""
    rsi = values.rsi
    rsi_ok = None if rsi is None else rsi < rules.rsi_below
    macd = values.macd
    macd_ok = None if macd is None else macd.histogram > rules.macd_min_histogram
    vwap = values.vwap
    vwap_ok = (
        None if vwap is None else values.close > vwap * (1.0 + rules.vwap_min_premium_pct / 100.0)
    )
    enter = (
        rsi_ok is not None
        and macd_ok is not None
        and vwap_ok is not None
        and rsi_ok + macd_ok + vwap_ok >= rules.min_confirmations
    )
    return _new(SignalDecision, (candle, values, rsi_ok, macd_ok, vwap_ok, enter, rules))


class SignalEngine:
    """One pair's signal state: feed closed candles, get a decision for each."""

    __slots__ = ("indicators", "rules")

    def __init__(self, rules: SignalRules | None = None, params: IndicatorParams | None = None):
        self.rules = rules or SignalRules()
        self.indicators = IndicatorSet(params)

    def on_candle_closed(self, candle: Candle) -> SignalDecision:
        """Update the indicators with a closed candle and decide on it."""
        return decide(candle, self.indicators.update(candle), self.rules)
