"""A backtest's results as data: trade rows, stats per pair and in total, the JSON document.

The JSON is deterministic: Decimals as strings, keys sorted by the writer, pairs in name order,
trades in position order — the same inputs give byte-identical output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ratchet.backtest.runner import PairResult
from ratchet.backtest.stats import Stats, TradeOutcome, combined_curve, compute
from ratchet.domain.position import PositionStatus


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One trade (a position whose entry filled), as reports show it."""

    pair: str
    position_id: str
    status: str
    entry_time: float | None
    entry_price: Decimal | None
    entry_size: Decimal
    entry_value: Decimal
    entry_fees: Decimal
    exit_time: float | None
    exit_price: Decimal | None
    exit_size: Decimal
    exit_value: Decimal
    exit_fees: Decimal
    realized_pnl: Decimal | None
    stop: Decimal | None

    @property
    def fees(self) -> Decimal:
        """Entry plus exit fees."""
        return self.entry_fees + self.exit_fees


@dataclass(frozen=True, slots=True)
class Summary:
    """Trades and stats of every pair, and the total over all of them."""

    trades: dict[str, list[TradeRow]]
    stats: dict[str, Stats]
    total: Stats
    total_times: list[int]
    total_equity: list[Decimal]


def trade_rows(result: PairResult) -> list[TradeRow]:
    """The trades of one pair's run, in position order."""
    rows = []
    for p in result.traded:
        closed = p.status is PositionStatus.CLOSED
        rows.append(
            TradeRow(
                pair=result.pair,
                position_id=p.position_id,
                status=p.status.name,
                entry_time=result.entry_times.get(p.position_id),
                entry_price=p.entry_price,
                entry_size=p.entry_size,
                entry_value=p.entry_value,
                entry_fees=p.entry_fees,
                exit_time=result.exit_times.get(p.position_id),
                exit_price=p.exit_value / p.exit_size if p.exit_size else None,
                exit_size=p.exit_size,
                exit_value=p.exit_value,
                exit_fees=p.exit_fees,
                realized_pnl=p.realized_pnl if closed else None,
                stop=p.stop,
            )
        )
    return rows


def summarize(results: Mapping[str, PairResult]) -> Summary:
    """Stats per pair (pairs in name order) and in total (the summed equity curves)."""
    trades: dict[str, list[TradeRow]] = {}
    stats: dict[str, Stats] = {}
    for pair in sorted(results):
        result = results[pair]
        rows = trade_rows(result)
        trades[pair] = rows
        stats[pair] = compute(
            [TradeOutcome(r.realized_pnl, r.fees) for r in rows],
            result.equity,
            result.cash,
            exposed=result.exposed,
            candles=len(result.equity),
        )
    every = [TradeOutcome(r.realized_pnl, r.fees) for rows in trades.values() for r in rows]
    ordered = [results[pair] for pair in sorted(results)]
    times, curve = combined_curve([(r.starts, r.equity, r.cash) for r in ordered])
    total = compute(
        every,
        curve,
        sum((r.cash for r in ordered), Decimal(0)),
        exposed=sum(r.exposed for r in ordered),
        candles=sum(len(r.equity) for r in ordered),
    )
    return Summary(trades, stats, total, times, curve)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 10)


def stats_json(stats: Stats) -> dict[str, Any]:
    """One Stats as JSON-ready values (Decimals as strings, ratios rounded to 1e-10)."""
    return {
        "trades": stats.trades,
        "closed": stats.closed,
        "wins": stats.wins,
        "win_rate": _ratio(stats.win_rate),
        "realized_pnl": str(stats.realized_pnl),
        "net_pnl": str(stats.net_pnl),
        "fees": str(stats.fees),
        "final_equity": str(stats.final_equity),
        "max_drawdown": _ratio(stats.max_drawdown),
        "exposure": _ratio(stats.exposure),
        "sharpe": _ratio(stats.sharpe),
        "sortino": _ratio(stats.sortino),
        "profit_factor": _ratio(stats.profit_factor),
    }


def trade_json(row: TradeRow) -> dict[str, Any]:
    """One trade as JSON-ready values."""
    return {
        "position_id": row.position_id,
        "status": row.status,
        "entry_time": _iso(row.entry_time),
        "entry_size": str(row.entry_size),
        "entry_price": _text(row.entry_price),
        "entry_fees": str(row.entry_fees),
        "exit_time": _iso(row.exit_time),
        "exit_size": str(row.exit_size),
        "exit_value": str(row.exit_value),
        "exit_price": _text(row.exit_price),
        "exit_fees": str(row.exit_fees),
        "realized_pnl": _text(row.realized_pnl),
        "stop": _text(row.stop),
    }


def report_json(
    results: Mapping[str, PairResult], summary: Summary, settings: Mapping[str, str]
) -> dict[str, Any]:
    """Every trade and stat, per pair and in total, and the settings of the run."""
    pairs = {
        pair: {
            "trades": [trade_json(row) for row in summary.trades[pair]],
            "stats": stats_json(summary.stats[pair]),
            "equity": str(results[pair].equity_now),
            "fills": results[pair].fills,
            "candles": len(results[pair].equity),
        }
        for pair in summary.trades
    }
    return {"pairs": pairs, "total": stats_json(summary.total), "settings": dict(settings)}
