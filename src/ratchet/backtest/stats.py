"""Backtest statistics: per pair and in total, from trades and a per-candle equity curve.

Money (P&L, fees, equity) stays :class:`~decimal.Decimal`; ratios (win rate, drawdown, exposure,
Sharpe, Sortino, profit factor) are floats — statistics, not money.

* ``trades``: positions whose entry filled; ``closed``: those that also exited in full.
* ``win_rate``: closed trades with realised P&L > 0, over closed trades (None without any).
* ``realized_pnl``: sum over closed trades (fees included); ``net_pnl``: final equity − cash.
* ``fees``: entry and exit fees of every trade (closed or open).
* ``max_drawdown``: the largest fall of the equity curve from its running peak, as a fraction
  of that peak (0.25 = 25 %); the curve starts at the cash before the first candle.
* ``exposure``: the share of candles during which base was held.
* ``sharpe`` / ``sortino``: on the 5-minute simple returns of the equity curve, risk-free
  rate 0, annualised by ``sqrt(PERIODS_PER_YEAR)`` with ``PERIODS_PER_YEAR = 365 * 24 * 12 =
  105,120`` (crypto trades every day, around the clock). Sharpe is ``mean / stdev`` (sample
  standard deviation); Sortino is ``mean / downside deviation`` with the downside deviation
  ``sqrt(mean(min(r, 0)^2))`` over all returns. None when undefined (fewer than two returns,
  or a zero denominator).
* ``profit_factor``: gross profit over gross loss of closed trades; None when there is no loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
PERIODS_PER_YEAR = 365 * 24 * 12
"""Five-minute periods in a year of round-the-clock trading (the annualisation factor's square)."""


@dataclass(frozen=True, slots=True)
class TradeOutcome:
    """What stats need of one trade: its realised P&L (None while open) and its fees."""

    realized_pnl: Decimal | None
    fees: Decimal


@dataclass(frozen=True, slots=True)
class Stats:
    """The statistics of one pair or of the total (see the module docstring)."""

    trades: int
    closed: int
    wins: int
    win_rate: float | None
    realized_pnl: Decimal
    net_pnl: Decimal
    fees: Decimal
    final_equity: Decimal
    max_drawdown: float
    exposure: float
    sharpe: float | None
    sortino: float | None
    profit_factor: float | None


def max_drawdown(curve: Sequence[Decimal], start: Decimal) -> float:
    """The largest peak-to-trough fall of ``start, *curve``, as a fraction of the peak."""
    peak = start
    worst = 0.0
    for value in curve:
        if value > peak:
            peak = value
        elif peak > 0 and value < peak:
            worst = max(worst, float((peak - value) / peak))
    return worst


def drawdown_series(curve: Sequence[Decimal], start: Decimal) -> list[float]:
    """Per point of ``curve``: its fall below the running peak (from ``start``), a fraction."""
    peak = start
    out: list[float] = []
    for value in curve:
        peak = max(peak, value)
        out.append(float((peak - value) / peak) if peak > 0 else 0.0)
    return out


def returns(curve: Sequence[Decimal], start: Decimal) -> list[float]:
    """Simple returns between consecutive points of ``start, *curve`` (a zero level: 0)."""
    out: list[float] = []
    previous = start
    for value in curve:
        out.append(float(value / previous - 1) if previous else 0.0)
        previous = value
    return out


def sharpe(period_returns: Sequence[float]) -> float | None:
    """Annualised Sharpe ratio of per-period returns (risk-free 0); None when undefined."""
    n = len(period_returns)
    if n < 2:
        return None
    mean = math.fsum(period_returns) / n
    var = math.fsum((r - mean) ** 2 for r in period_returns) / (n - 1)
    if var <= 0:
        return None
    return mean / math.sqrt(var) * math.sqrt(PERIODS_PER_YEAR)


def sortino(period_returns: Sequence[float]) -> float | None:
    """Annualised Sortino ratio (target 0, downside over all returns); None when undefined."""
    n = len(period_returns)
    if n < 2:
        return None
    mean = math.fsum(period_returns) / n
    downside = math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in period_returns) / n)
    if downside <= 0:
        return None
    return mean / downside * math.sqrt(PERIODS_PER_YEAR)


def profit_factor(pnls: Sequence[Decimal]) -> float | None:
    """Gross profit over gross loss; None when nothing was lost (undefined or infinite)."""
    gain = sum((p for p in pnls if p > 0), ZERO)
    loss = -sum((p for p in pnls if p < 0), ZERO)
    return float(gain / loss) if loss > 0 else None


def compute(
    trades: Sequence[TradeOutcome],
    curve: Sequence[Decimal],
    cash: Decimal,
    *,
    exposed: int,
    candles: int,
) -> Stats:
    """The statistics of one run: its trades, equity curve (one point per candle) and cash."""
    pnls = [t.realized_pnl for t in trades if t.realized_pnl is not None]
    wins = sum(1 for p in pnls if p > 0)
    final = curve[-1] if curve else cash
    period = returns(curve, cash)
    return Stats(
        trades=len(trades),
        closed=len(pnls),
        wins=wins,
        win_rate=wins / len(pnls) if pnls else None,
        realized_pnl=sum(pnls, ZERO),
        net_pnl=final - cash,
        fees=sum((t.fees for t in trades), ZERO),
        final_equity=final,
        max_drawdown=max_drawdown(curve, cash),
        exposure=exposed / candles if candles else 0.0,
        sharpe=sharpe(period),
        sortino=sortino(period),
        profit_factor=profit_factor(pnls),
    )


def combined_curve(
    curves: Sequence[tuple[Sequence[int], Sequence[Decimal], Decimal]],
) -> tuple[list[int], list[Decimal]]:
    """The sum of several equity curves on the union of their times.

    Each curve is ``(times, values, cash)``; before its first point a curve counts its cash,
    and between its points (a gap in its data) its last value.
    """
    times = sorted({t for ts, _, _ in curves for t in ts})
    total = [ZERO] * len(times)
    index = {t: i for i, t in enumerate(times)}
    for ts, values, cash in curves:
        level = cash
        positions = [index[t] for t in ts]
        cursor = 0
        for i in range(len(times)):
            if cursor < len(positions) and positions[cursor] == i:
                level = values[cursor]
                cursor += 1
            total[i] += level
    return times, total
