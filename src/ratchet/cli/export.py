"""``ratchet export``: trades, positions or metrics from the state database as CSV, JSON or SQL.

trades    one row per round trip (a position that is over and had a fill): entry and exit
          prices, sizes, fees, realised P&L
positions every position, with P&L at the last known price for open ones
metrics   per quote currency: trades, wins, win rate, realised P&L, fees, deployed capital
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ratchet.cli.export_formats import ExportFormat, render
from ratchet.cli.figures import Summary, is_trade, summarize
from ratchet.cli.records import Record, position_record, summary_record, trade_record
from ratchet.cli.state_db import (
    EXIT_BAD_INPUT,
    ConfigOption,
    DbOption,
    PaperOption,
    fail,
    open_state,
)
from ratchet.cli.store_view import StoreView, read_view
from ratchet.domain.money import Product
from ratchet.domain.position import Position, TrailPolicy


class What(StrEnum):
    """What ``ratchet export`` writes."""

    TRADES = "trades"
    POSITIONS = "positions"
    METRICS = "metrics"


_ONE = Decimal(1)
_EXAMPLE_POSITION = Position("X-Y#0", Product("X-Y", _ONE, _ONE, _ONE), TrailPolicy(_ONE))
_EXAMPLE_SUMMARY = Summary("Y", 0, 0, _ONE, _ONE, 0, _ONE, _ONE)
EXAMPLES: dict[What, Record] = {
    What.TRADES: trade_record(_EXAMPLE_POSITION),
    What.POSITIONS: position_record(_EXAMPLE_POSITION),
    What.METRICS: summary_record(_EXAMPLE_SUMMARY),
}
"""A record of each kind: its keys are the export's columns."""


def records_of(what: What, view: StoreView) -> list[Record]:
    """The rows of one export, oldest position first (metrics: by quote currency)."""
    if what is What.TRADES:
        return [
            trade_record(p, view.spans.get(p.position_id)) for p in view.positions if is_trade(p)
        ]
    if what is What.POSITIONS:
        return [
            position_record(
                p,
                view.spans.get(p.position_id),
                view.last.get(p.pair),
                view.confirmed.get(p.position_id),
            )
            for p in view.positions
        ]
    return [summary_record(s) for s in summarize(view.positions, view.last)]


def export_command(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv, json or sql.")],
    what: Annotated[What, typer.Option("--what", help="trades, positions or metrics.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
    ] = None,
    db: DbOption = None,
    paper: PaperOption = False,
    config: ConfigOption = None,
) -> None:
    """Export trades, positions or metrics; SQL is CREATE TABLE + INSERTs that sqlite3 loads.

    Money is exact decimal text in every format. Example:
    ratchet export --paper --format sql --what trades --out trades.sql
    """
    if out is not None and not out.parent.is_dir():
        raise fail(f"--out: no folder {out.parent}", EXIT_BAD_INPUT)
    with open_state(db, paper, config) as database:
        records = records_of(what, read_view(database))
    document = render(fmt, what.value, EXAMPLES[what], records)
    if out is None:
        typer.echo(document, nl=False)
        return
    try:
        out.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}", EXIT_BAD_INPUT) from None
    typer.echo(f"wrote {len(records)} {what.value} rows to {out} ({fmt.value})")
