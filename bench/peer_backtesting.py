"""ratchet's default strategy in backtesting.py, for ``bench/backtest_vs_peers.py``.

Copied, with thanks, from the reference implementation in ``shared/peers/backtesting_bench.py``
(measured 2026-11-26; see ``shared/peers/README.md``): the same rules as ``peer_backtrader.py``,
with indicators in numpy/Python that copy backtrader's arithmetic bit for bit. Only the
packaging into functions is ours.
"""

from __future__ import annotations

import math
import time
from typing import Any

import backtesting
import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy

CASH = 10_000.0
ENTRY_FEE = 0.004
EXIT_FEE = 0.006
TRAIL = 0.02
TTL = 3


def _smooth(x: list[float], period: int, alpha: float, first: int) -> np.ndarray:
    """Exponential smoothing seeded with the mean of x[first:first+period] (fsum), NaN before."""
    n = len(x)
    out = [math.nan] * n
    seed = first + period - 1
    if seed >= n:
        return np.array(out)
    prev = math.fsum(x[first : seed + 1]) / period
    out[seed] = prev
    keep = 1.0 - alpha
    for i in range(seed + 1, n):
        prev = prev * keep + x[i] * alpha
        out[i] = prev
    return np.array(out)


def rsi_wilder(close: Any, period: int = 14) -> np.ndarray:
    """Wilder's RSI with backtrader's safediv."""
    c = np.asarray(close, dtype=float)
    d = np.diff(c)
    up = np.concatenate(([math.nan], np.maximum(d, 0.0))).tolist()
    dn = np.concatenate(([math.nan], np.maximum(-d, 0.0))).tolist()
    mu = _smooth(up, period, 1.0 / period, 1)
    md = _smooth(dn, period, 1.0 / period, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 100.0 - 100.0 / (1.0 + mu / md)
    r = np.where(md == 0.0, np.where(mu == 0.0, 50.0, 100.0), r)
    return np.where(np.isnan(mu), np.nan, r)


def macd(close: Any, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[Any, Any]:
    """MACD line and signal line."""
    c = np.asarray(close, dtype=float).tolist()
    line = _smooth(c, fast, 2.0 / (1 + fast), 0) - _smooth(c, slow, 2.0 / (1 + slow), 0)
    return line, _smooth(line.tolist(), signal, 2.0 / (1 + signal), slow - 1)


def session_vwap(index: Any, high: Any, low: Any, close: Any, volume: Any) -> np.ndarray:
    """VWAP of the typical price per UTC day (strict left-to-right sums)."""
    h, lo, c, v = (np.asarray(a, dtype=float) for a in (high, low, close, volume))
    pv = (h + lo + c) / 3.0 * v
    day = pd.DatetimeIndex(index).as_unit("s").asi8 // 86400
    cpv = np.empty_like(pv)
    cv = np.empty_like(v)
    starts = np.flatnonzero(np.diff(day, prepend=day[0] - 1))
    for a, b in zip(starts, np.append(starts[1:], len(day)), strict=True):
        cpv[a:b] = np.cumsum(pv[a:b])
        cv[a:b] = np.cumsum(v[a:b])
    with np.errstate(divide="ignore", invalid="ignore"):
        return cpv / cv


class Fees:
    """The side is told apart from broker state (see shared/peers/README.md, point 4)."""

    broker: Any = None

    def __call__(self, size: float, price: float) -> float:
        return abs(size) * price * (ENTRY_FEE if self.broker.trades else EXIT_FEE)


class Strat(Strategy):  # type: ignore[misc]
    """The strategy; ``n_entries`` counts filled entries (closed trades are in the stats)."""

    fees: Any = None

    def init(self) -> None:
        self.fees.broker = self._broker
        d = self.data
        self.rsi = self.I(rsi_wilder, d.Close, name="RSI")
        line, signal = macd(d.Close)
        self.macd = self.I(lambda: line, name="MACD")
        self.sig = self.I(lambda: signal, name="signal")
        self.vwap = self.I(session_vwap, d.index, d.High, d.Low, d.Close, d.Volume, name="VWAP")
        self.entry: Any = None
        self.entry_i = 0
        self.stop_px: float | None = None
        self.hh = 0.0
        self.n_entries = 0

    def next(self) -> None:
        i = len(self.data) - 1
        if self.position:
            if self.entry is not None:
                self.entry = None
                self.n_entries += 1
                self.hh = self.data.High[-1]
                self.stop_px = None
            else:
                self.hh = max(self.hh, self.data.High[-1])
            level = self.hh * (1.0 - TRAIL)
            if self.stop_px is None or level > self.stop_px:
                self.trades[-1].sl = level
                self.stop_px = level
            return
        self.stop_px = None
        if self.entry is not None:
            if i - self.entry_i >= TTL:
                self.entry.cancel()
                self.entry = None
            else:
                return
        close = self.data.Close[-1]
        votes = (
            int(self.rsi[-1] < 30.0)
            + int(self.macd[-1] > self.sig[-1])
            + int(close > self.vwap[-1])
        )
        if votes >= 2:
            size = math.floor(0.95 * self.equity / close)
            if size > 0:
                self.entry = self.buy(size=size, limit=close)
                self.entry_i = i


def run_pair(frame: pd.DataFrame) -> tuple[Any, int]:
    """One pair: backtesting.py's stats and the number of filled entries."""
    fees = Fees()
    test = Backtest(
        frame,
        Strat,
        cash=CASH,
        commission=fees,
        trade_on_close=False,
        exclusive_orders=False,
        finalize_trades=False,
    )
    stats = test.run(fees=fees)
    return stats, stats._strategy.n_entries


def run_all(frames: dict[str, pd.DataFrame]) -> tuple[float, dict[str, tuple[Any, int]]]:
    """Every pair, timed (construction and run, with backtesting.py's own statistics)."""
    started = time.perf_counter()
    results = {pair: run_pair(frame) for pair, frame in frames.items()}
    return time.perf_counter() - started, results


def version() -> str:
    """backtesting.py's version."""
    return str(backtesting.__version__)
