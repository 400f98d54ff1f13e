"""``ratchet dashboard``: the portfolio from the state database, refreshing live.

Per quote currency: capital deployed in open positions (at entry cost), unrealised P&L at the
last known prices, realised P&L and win rate; per pair: its position, its share of what is
deployed (concentration), its P&L. It reads the store only, so it works beside a running engine
(each refresh is a fresh read) or on the database of a finished run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ratchet.cli.figures import (
    ZERO,
    Summary,
    cell,
    entry_cost,
    is_open,
    is_trade,
    short_time,
    summarize,
    text,
    unrealized,
    win_rate_pct,
)
from ratchet.cli.records import Record, summary_record
from ratchet.cli.state_db import (
    ConfigOption,
    DbOption,
    JsonOption,
    PaperOption,
    console,
    open_state,
    print_json,
)
from ratchet.cli.store_view import StoreView, read_view
from ratchet.store.database import Database


@dataclass(frozen=True, slots=True)
class PairFigures:
    """One pair's line of the dashboard."""

    pair: str
    quote_currency: str
    status: str
    quantity: Decimal
    entry_price: Decimal | None
    last_price: Decimal | None
    deployed: Decimal
    concentration_pct: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    trades: int
    wins: int

    def record(self) -> Record:
        """The line as a JSON record."""
        return {
            "pair": self.pair,
            "quote_currency": self.quote_currency,
            "status": self.status,
            "quantity": text(self.quantity),
            "entry_price": text(self.entry_price),
            "last_price": text(self.last_price),
            "deployed": text(self.deployed),
            "concentration_pct": text(self.concentration_pct),
            "unrealized_pnl": text(self.unrealized_pnl),
            "realized_pnl": text(self.realized_pnl),
            "trades": self.trades,
            "wins": self.wins,
        }


def pair_figures(view: StoreView, summaries: list[Summary]) -> list[PairFigures]:
    """Each pair's current position, its concentration and its realised P&L, by pair."""
    deployed_by_quote = {s.quote_currency: s.deployed for s in summaries}
    lines = []
    for current in view.latest_per_pair():
        trades = [p for p in view.positions if p.pair == current.pair and is_trade(p)]
        held = current if is_open(current) else None
        deployed = entry_cost(held) if held else ZERO
        total = deployed_by_quote.get(current.product.quote_currency, ZERO)
        last = view.last.get(current.pair)
        lines.append(
            PairFigures(
                pair=current.pair,
                quote_currency=current.product.quote_currency,
                status=current.status.value if held else "idle",
                quantity=current.quantity if held else ZERO,
                entry_price=held.entry_price if held else None,
                last_price=last.price if last else None,
                deployed=deployed,
                concentration_pct=(Decimal(100) * deployed / total).quantize(Decimal("0.1"))
                if total
                else None,
                unrealized_pnl=unrealized(held, last) if held else None,
                realized_pnl=sum((p.realized_pnl for p in trades), ZERO),
                trades=len(trades),
                wins=sum(1 for p in trades if p.realized_pnl > 0),
            )
        )
    return lines


def render_portfolio(view: StoreView, where: str) -> Group:
    """The summary per quote currency and the per-pair table."""
    summaries = summarize(view.positions, view.last)
    newest = max((last.time or 0 for last in view.last.values()), default=None)
    header = Text(
        f"{where} · last market data {short_time(newest) or '-'} UTC · "
        f"read {datetime.now(UTC).strftime('%H:%M:%S')} UTC",
        style="bold",
    )
    totals = Table(title="portfolio", header_style="bold")
    for column in ("quote", "open", "deployed", "unrealised", "realised", "trades", "win rate"):
        totals.add_column(column, justify="left" if column == "quote" else "right")
    for s in summaries:
        rate = "-" if s.win_rate_pct is None else f"{s.win_rate_pct}%"
        totals.add_row(
            s.quote_currency,
            str(s.open_positions),
            cell(s.deployed),
            cell(s.unrealized_pnl),
            cell(s.realized_pnl),
            str(s.trades),
            rate,
        )
    pairs = Table(title="pairs", header_style="bold")
    columns = ("pair", "state", "quantity", "entry", "last", "deployed", "share", "unrealised")
    for column in (*columns, "realised", "trades", "win rate"):
        pairs.add_column(column, justify="left" if column in ("pair", "state") else "right")
    for line in pair_figures(view, summaries):
        share = "-" if line.concentration_pct is None else f"{line.concentration_pct}%"
        rate = f"{win_rate_pct(line.wins, line.trades)}%" if line.trades else "-"
        pairs.add_row(
            line.pair,
            line.status,
            format(line.quantity, "f") if line.quantity else "",
            cell(line.entry_price),
            cell(line.last_price),
            cell(line.deployed) if line.deployed else "",
            share,
            cell(line.unrealized_pnl),
            cell(line.realized_pnl),
            str(line.trades),
            rate,
        )
    return Group(header, totals, pairs)


def dashboard_command(
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, help="Seconds between refreshes.")
    ] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Render once and exit.")] = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    paper: PaperOption = False,
    config: ConfigOption = None,
) -> None:
    """Portfolio summary, concentration per pair and a per-pair table, refreshed until Ctrl-C.

    Example: ratchet dashboard --paper --interval 1
    """
    with open_state(db, paper, config) as database:
        if json_out:
            view = read_view(database)
            summaries = summarize(view.positions, view.last)
            print_json(
                {
                    "summary": [summary_record(s) for s in summaries],
                    "pairs": [line.record() for line in pair_figures(view, summaries)],
                }
            )
        elif once:
            console().print(render_portfolio(read_view(database), database.display_url))
        else:
            _live(database, interval)


def _live(database: Database, interval: float) -> None:
    screen = console()
    where = database.display_url
    with Live(render_portfolio(read_view(database), where), console=screen) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(render_portfolio(read_view(database), where))
        except KeyboardInterrupt:
            pass
