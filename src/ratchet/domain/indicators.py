"""Streaming indicators: RSI (Wilder), MACD (EMA) and session VWAP — O(1) work per candle.

Indicators are signals, not money, so they use float. Each has an explicit warm-up: ``value``
is ``None`` until enough candles were seen, and ``needs`` says how many more it wants. The
per-candle records are named tuples: they are built once per candle on the hot path, where a
frozen dataclass costs twice as much.

The arithmetic follows TA-Lib's, so the values agree with it to the last bits:

* RSI(n): the first average gain/loss is the mean of the first n changes; then
  ``avg = (avg * (n - 1) + x) / n``. The first value comes with the (n + 1)-th close.
  When both averages are zero (a flat market) the RSI is 50 (neutral); TA-Lib says 0 there,
  which would read as "oversold" and buy a market that did not move.
* MACD(fast, slow, signal): both EMAs start on the same candle, the slow-th one, each seeded
  with the simple mean of its own last ``period`` closes; ``ema += (x - ema) * 2 / (period + 1)``.
  The signal line is the EMA of the MACD line, seeded the same way. First value at candle
  ``slow + signal - 1``.
* VWAP: typical price ``(high + low + close) / 3`` weighted by volume, summed from 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ratchet.domain.candles import SECONDS_PER_DAY, Candle

_new = tuple.__new__
"""Builds a named tuple from a tuple of all its fields: half the cost of calling the class
(which goes through a generated ``__new__``), on the path of every closed candle."""


class Rsi:
    """Wilder's relative strength index, one close at a time."""

    __slots__ = ("_avg_gain", "_avg_loss", "_count", "_keep", "_period", "_prev", "value")

    def __init__(self, period: int = 14) -> None:
        if period < 2:
            raise ValueError(f"RSI period must be >= 2, got {period}")
        self._period = period
        self._keep = float(period - 1)
        self._prev = 0.0
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self._count = 0
        self.value: float | None = None

    @property
    def needs(self) -> int:
        """How many more closes before the first value."""
        return max(0, self._period + 1 - self._count)

    def update(self, close: float) -> float | None:
        """Feed one close; return the RSI (``None`` while warming up)."""
        count = self._count = self._count + 1
        if count == 1:
            self._prev = close
            return None
        change = close - self._prev
        self._prev = close
        period = self._period
        if count <= period + 1:  # building the first averages: plain sums
            if change < 0.0:
                self._avg_loss -= change
            else:
                self._avg_gain += change
            if count <= period:
                return None
            self._avg_gain /= period
            self._avg_loss /= period
        else:
            gain = self._avg_gain * self._keep
            loss = self._avg_loss * self._keep
            if change < 0.0:
                loss -= change
            else:
                gain += change
            self._avg_gain = gain / period
            self._avg_loss = loss / period
        total = self._avg_gain + self._avg_loss
        self.value = 100.0 * (self._avg_gain / total) if total != 0.0 else 50.0
        return self.value


class _SeededEma:
    """An EMA seeded by the mean of the ``period`` inputs that end on its first output."""

    __slots__ = ("_period", "_seen", "_sum", "k", "value")

    def __init__(self, period: int) -> None:
        self._period = period
        self.k = 2.0 / (period + 1)  # the smoothing factor
        self._sum = 0.0
        self._seen = 0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        value = self.value
        if value is not None:
            value = self.value = (x - value) * self.k + value
            return value
        self._sum += x
        self._seen += 1
        if self._seen == self._period:
            self.value = self._sum / self._period
        return self.value


class MacdValue(NamedTuple):
    """MACD line, signal line and histogram (line − signal)."""

    line: float
    signal: float
    histogram: float


class Macd:
    """MACD(fast, slow, signal) on closes, one at a time (TA-Lib's alignment of the EMAs).

    The three EMAs warm up as :class:`_SeededEma` objects; once all have a value, their
    values are kept here and stepped inline (three calls fewer on every candle after that)."""

    __slots__ = (
        "_count",
        "_fast",
        "_fast_from",
        "_fast_value",
        "_signal",
        "_signal_value",
        "_slow",
        "_slow_value",
        "_warmup",
        "value",
    )

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        if not 2 <= fast < slow or signal < 2:
            raise ValueError(
                f"MACD needs 2 <= fast < slow and signal >= 2, got {fast}/{slow}/{signal}"
            )
        self._fast = _SeededEma(fast)
        self._slow = _SeededEma(slow)
        self._signal = _SeededEma(signal)
        self._fast_from = slow - fast  # the fast EMA starts so that it ends its seed with the slow
        self._warmup = slow + signal - 1
        self._count = 0
        self._fast_value = self._slow_value = self._signal_value = 0.0  # set once warm
        self.value: MacdValue | None = None

    @property
    def needs(self) -> int:
        """How many more closes before the first value."""
        return max(0, self._warmup - self._count)

    def update(self, close: float) -> MacdValue | None:
        """Feed one close; return the MACD value (``None`` while warming up)."""
        self._count += 1
        if self.value is not None:  # warm: each EMA's step, as _SeededEma.update takes it
            fast = self._fast_value = (close - self._fast_value) * self._fast.k + self._fast_value
            slow = self._slow_value = (close - self._slow_value) * self._slow.k + self._slow_value
            line = fast - slow
            signal = self._signal_value = (
                line - self._signal_value
            ) * self._signal.k + self._signal_value
            self.value = _new(MacdValue, (line, signal, line - signal))
            return self.value
        slow_or_none = self._slow.update(close)
        if self._count <= self._fast_from:
            return None
        fast_or_none = self._fast.update(close)
        if slow_or_none is None or fast_or_none is None:
            return None
        line = fast_or_none - slow_or_none
        signal_or_none = self._signal.update(line)
        if signal_or_none is None:
            return None
        self._fast_value, self._slow_value = fast_or_none, slow_or_none
        self._signal_value = signal_or_none
        self.value = _new(MacdValue, (line, signal_or_none, line - signal_or_none))
        return self.value


class SessionVwap:
    """Volume-weighted average typical price since 00:00 UTC of the candle's day."""

    __slots__ = ("_day", "_pv", "_volume", "value")

    def __init__(self) -> None:
        self._day = -1
        self._pv = 0.0
        self._volume = 0.0
        self.value: float | None = None

    @property
    def needs(self) -> int:
        """1 until the session has traded some volume, then 0."""
        return 0 if self.value is not None else 1

    def update(
        self, start: int, high: float, low: float, close: float, volume: float
    ) -> float | None:
        """Feed one candle; return the VWAP of its session so far (``None`` before any volume)."""
        day = start // SECONDS_PER_DAY
        if day != self._day:
            self._day = day
            self._pv = 0.0
            self._volume = 0.0
            self.value = None
        self._pv += (high + low + close) / 3.0 * volume
        self._volume += volume
        if self._volume > 0.0:
            self.value = self._pv / self._volume
        return self.value


@dataclass(frozen=True, slots=True)
class IndicatorParams:
    """Periods of the three indicators (defaults: RSI 14, MACD 12/26/9)."""

    rsi_period: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9


class IndicatorValues(NamedTuple):
    """The indicators after one closed candle; ``None`` marks one still warming up."""

    start: int
    close: float
    rsi: float | None
    macd: MacdValue | None
    vwap: float | None

    @property
    def ready(self) -> bool:
        """True when all three indicators have a value."""
        return self.rsi is not None and self.macd is not None and self.vwap is not None


class IndicatorSet:
    """RSI, MACD and VWAP of one pair, fed closed candles in time order."""

    __slots__ = ("_last_start", "macd", "params", "rsi", "vwap")

    def __init__(self, params: IndicatorParams | None = None) -> None:
        self.params = params or IndicatorParams()
        self.rsi = Rsi(self.params.rsi_period)
        self.macd = Macd(self.params.macd_fast, self.params.macd_slow, self.params.macd_signal)
        self.vwap = SessionVwap()
        self._last_start = -1

    def update(self, candle: Candle) -> IndicatorValues:
        """Feed one closed candle (strictly after the previous one); return the new values."""
        start = candle.start
        if start <= self._last_start:
            raise ValueError(f"candle {start} is not after the previous one ({self._last_start})")
        self._last_start = start
        high, low, close, volume = candle.figures
        return _new(
            IndicatorValues,
            (
                start,
                close,
                self.rsi.update(close),
                self.macd.update(close),
                self.vwap.update(start, high, low, close, volume),
            ),
        )

    @property
    def last_start(self) -> int:
        """Start of the newest candle taken (-1 before the first)."""
        return self._last_start

    def warmup_needs(self) -> dict[str, int]:
        """For each indicator, how many more candles it needs before its first value."""
        return {"rsi": self.rsi.needs, "macd": self.macd.needs, "vwap": self.vwap.needs}
