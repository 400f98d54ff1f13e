"""ratchet's default strategy in backtrader, for ``bench/backtest_vs_peers.py``.

Copied, with thanks, from the reference implementation in ``shared/peers/backtrader_bench.py``
(measured 2026-11-26; see ``shared/peers/README.md`` for its interpretation choices): RSI(14,
Wilder) < 30, MACD(12,26,9) line > signal, close > session VWAP, 2 of 3 → a limit buy at the
close for floor(0.95 · cash / close) units, cancelled after 3 candles; a 2 % trailing stop from
the highest high (from the fill candle's high, applied from the next candle); 0.4 % fees on
buys and 0.6 % on sells. Only the data loading and the packaging into functions are ours.
"""

from __future__ import annotations

import math
import time
from datetime import UTC
from typing import Any

import backtrader as bt
import pandas as pd

CASH = 10_000.0
ENTRY_FEE = 0.004
EXIT_FEE = 0.006
TRAIL = 0.02
TTL = 3
FIRST_BAR = 34


class AsymComm(bt.CommInfoBase):  # type: ignore[misc]
    """0.4 % of notional on buys (entries), 0.6 % on sells (exits)."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True))

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return abs(size) * price * (ENTRY_FEE if size > 0 else EXIT_FEE)


class SessionVWAP(bt.Indicator):  # type: ignore[misc]
    """VWAP of the typical price, reset at 00:00 UTC."""

    lines = ("vwap",)

    def __init__(self) -> None:
        self._day: int | None = None
        self._pv = 0.0
        self._v = 0.0

    def _step(self, day: int, high: float, low: float, close: float, volume: float) -> float:
        if day != self._day:
            self._day, self._pv, self._v = day, 0.0, 0.0
        self._pv += (high + low + close) / 3.0 * volume
        self._v += volume
        return self._pv / self._v if self._v else float("nan")

    def next(self) -> None:
        d = self.data
        day = round(d.datetime[0] * 86400.0) // 86400
        self.lines.vwap[0] = self._step(day, d.high[0], d.low[0], d.close[0], d.volume[0])

    def once(self, start: int, end: int) -> None:
        d = self.data
        dt, high, low = d.datetime.array, d.high.array, d.low.array
        close, volume = d.close.array, d.volume.array
        dst = self.lines.vwap.array
        for i in range(start, end):
            day = round(dt[i] * 86400.0) // 86400
            dst[i] = self._step(day, high[i], low[i], close[i], volume[i])


class Strat(bt.Strategy):  # type: ignore[misc]
    """The strategy; ``tlog`` holds one dict per filled entry (times are candle starts)."""

    def __init__(self) -> None:
        self.rsi = bt.indicators.RSI(self.data.close, period=14, safediv=True)
        self.macd = bt.indicators.MACD(
            self.data.close, period_me1=12, period_me2=26, period_signal=9
        )
        self.vwap = SessionVWAP(self.data)
        self.entry: Any = None
        self.entry_bar = 0
        self.stop_order: Any = None
        self.stop_px: float | None = None
        self.hh = 0.0
        self.tlog: list[dict[str, Any]] = []

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            when = int(bt.num2date(order.executed.dt).replace(tzinfo=UTC).timestamp())
            if order.isbuy():
                self.tlog.append(
                    {
                        "entry_time": when,
                        "entry_price": order.executed.price,
                        "size": order.executed.size,
                    }
                )
            else:
                self.tlog[-1].update(exit_time=when, exit_price=order.executed.price)

    def next(self) -> None:
        n = len(self)
        if n <= FIRST_BAR:
            return
        d = self.data
        pos = self.position.size
        if pos:
            if self.entry is not None:  # the entry filled on this candle
                self.entry = None
                self.hh = d.high[0]
                self.stop_px = None
            elif d.high[0] > self.hh:
                self.hh = d.high[0]
            level = self.hh * (1.0 - TRAIL)
            if self.stop_px is None or level > self.stop_px:
                if self.stop_order is not None:
                    self.cancel(self.stop_order)
                self.stop_order = self.sell(exectype=bt.Order.Stop, price=level, size=pos)
                self.stop_px = level
            return
        if self.stop_order is not None:  # exited on this candle
            self.stop_order = None
            self.stop_px = None
        if self.entry is not None:
            if n - self.entry_bar >= TTL:
                self.cancel(self.entry)
                self.entry = None
            else:
                return
        close = d.close[0]
        votes = (
            (self.rsi[0] < 30.0)
            + (self.macd.macd[0] > self.macd.signal[0])
            + (close > self.vwap[0])
        )
        if votes >= 2:
            size = math.floor(0.95 * self.broker.getcash() / close)
            if size > 0:
                self.entry = self.buy(exectype=bt.Order.Limit, price=close, size=size)
                self.entry_bar = n


def run_pair(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], float]:
    """One pair: its filled entries (with exits) and the final account value."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(CASH)
    cerebro.broker.addcommissioninfo(AsymComm())
    cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None))
    cerebro.addstrategy(Strat)
    strat = cerebro.run()[0]
    return strat.tlog, cerebro.broker.getvalue()


def run_all(
    frames: dict[str, pd.DataFrame],
) -> tuple[float, dict[str, tuple[list[dict[str, Any]], float]]]:
    """Every pair, timed (set-up, feed, indicators and loop)."""
    started = time.perf_counter()
    results = {pair: run_pair(frame) for pair, frame in frames.items()}
    return time.perf_counter() - started, results


def version() -> str:
    """backtrader's version."""
    return str(bt.__version__)
