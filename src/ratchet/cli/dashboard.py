"""Rich renderings of a running engine: the live dashboard and the closing summary."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ratchet.domain.position import Position
from ratchet.engine.runtime import Runtime

ZERO = Decimal(0)


def _short(value: Decimal | None, places: int = 8) -> str:
    return "" if value is None else f"{value:.{places}f}"


def render_dashboard(runtime: Runtime, progress: float | None = None) -> Group:
    """Portfolio figures, then positions, stops and P&L per pair (``progress``: of a replay)."""
    when = datetime.fromtimestamp(runtime.now(), UTC).strftime("%Y-%m-%d %H:%M")
    replay = f" · replay {progress:5.1f}%" if progress is not None else ""
    header = Text(
        f"market time {when} UTC{replay} · events {runtime.stats.events} · "
        f"commits {runtime.stats.commits}",
        style="bold",
    )
    metrics = runtime.portfolio.metrics()
    rate = f"{100 * metrics.win_rate:.0f}%" if metrics.win_rate is not None else "-"
    figures = Text(
        f"deployed {_short(metrics.deployed)} {metrics.quote_currency} "
        f"({metrics.deployed_pct:.1f}% of capital) · realised {_short(metrics.realized_pnl)} · "
        f"unrealised {_short(metrics.unrealized_pnl)} · win rate {rate} "
        f"({metrics.closed_trades} closed) · top concentration {metrics.top_concentration_pct:.0f}%"
    )
    table = Table(header_style="bold", expand=False)
    for column in (
        "pair",
        "state",
        "quantity",
        "entry",
        "last",
        "stop (desired)",
        "stop (resting)",
        "unrealised",
        "realised",
    ):
        table.add_column(column, justify="left" if column in ("pair", "state") else "right")
    realised = _realised_by_pair(runtime.history.closed)
    for pair, trader in sorted(runtime.traders.items()):
        position = trader.position
        last = runtime.last_prices.get(pair)
        state = (
            position.status.name if position else ("ENTRY ASKED" if not trader.is_idle else "idle")
        )
        table.add_row(
            pair,
            state,
            _short(position.quantity if position else None, 4),
            _short(position.entry_price if position else None),
            _short(last),
            _short(trader.stops.desired),
            _short(trader.stops.confirmed),
            _short(position.unrealized_pnl(last) if position and last else None),
            _short(realised.get(pair, ZERO)),
        )
    return Group(header, figures, table)


def _realised_by_pair(closed: list[Position]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for position in closed:
        totals[position.pair] = totals.get(position.pair, ZERO) + position.realized_pnl
    return totals


def render_summary(runtime: Runtime) -> Table:
    """Per pair and in total: trades, wins, realised P&L, fees, stop moves, unprotected time."""
    closed: dict[str, list[Position]] = {}
    for position in runtime.history.closed:
        closed.setdefault(position.pair, []).append(position)
    table = Table(title="trading summary (this run)", header_style="bold")
    for column in (
        "pair",
        "trades",
        "win rate",
        "realised P&L",
        "fees",
        "stop moves",
        "max unprotected (market s)",
    ):
        table.add_column(column, justify="left" if column == "pair" else "right")
    total_trades = total_wins = 0
    total_pnl = total_fees = ZERO
    for pair, trader in sorted(runtime.traders.items()):
        positions = closed.get(pair, [])
        wins = sum(1 for p in positions if p.realized_pnl > 0)
        pnl = sum((p.realized_pnl for p in positions), ZERO)
        fees = sum((p.entry_fees + p.exit_fees for p in positions), ZERO)
        moves = runtime.history.stop_moves.get(pair, 0)
        worst = max(trader.stops.unprotected, default=0.0)
        rate = f"{100 * wins / len(positions):.0f}%" if positions else "-"
        table.add_row(
            pair, str(len(positions)), rate, _short(pnl), _short(fees), str(moves), f"{worst:.1f}"
        )
        total_trades += len(positions)
        total_wins += wins
        total_pnl += pnl
        total_fees += fees
    rate = f"{100 * total_wins / total_trades:.0f}%" if total_trades else "-"
    table.add_row(
        "total",
        str(total_trades),
        rate,
        _short(total_pnl),
        _short(total_fees),
        "",
        "",
        style="bold",
    )
    return table
