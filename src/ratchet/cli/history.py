"""``ratchet history``: fills and a P&L summary with win rate, per quote currency.

``--from`` / ``--to`` take ISO dates (``2018-01-26``: the whole day) or datetimes
(``2018-01-26T09:30``, UTC unless an offset is given); both ends are inclusive. A trade counts
in the range when its last sell fill (its close) does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table

from ratchet.cli.figures import Span, cell, is_trade, iso, short_time, summarize
from ratchet.cli.records import fill_record, summary_record, trade_record
from ratchet.cli.state_db import (
    EXIT_BAD_INPUT,
    ConfigOption,
    DbOption,
    JsonOption,
    PaperOption,
    check_pair,
    console,
    fail,
    open_state,
    print_json,
)
from ratchet.cli.store_view import read_view

FORMS = "an ISO date (2018-01-26) or datetime (2018-01-26T09:30, UTC unless an offset is given)"


@dataclass(frozen=True, slots=True)
class Window:
    """Unix seconds ``start <= t < end``; None is open-ended."""

    start: int | None = None
    end: int | None = None

    def holds(self, time: int | None) -> bool:
        """True when ``time`` is inside (an unknown time is inside only an unbounded window)."""
        if time is None:
            return self.start is None and self.end is None
        return (self.start is None or time >= self.start) and (self.end is None or time < self.end)


def parse_when(option: str, value: str, *, end: bool) -> int:
    """``value`` as Unix seconds; a date ends at the next midnight when ``end``.

    Raises:
        typer.Exit: not an ISO date or datetime (exit 2).
    """
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return int((midnight + timedelta(days=1 if end else 0)).timestamp())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option}: expected {FORMS}, got {value!r}", EXIT_BAD_INPUT) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    return int(seconds) + 1 if end else int(seconds)  # the end is inclusive to the second


def window(start: str | None, stop: str | None) -> Window:
    """The window of ``--from`` / ``--to``; an empty one is exit 2."""
    found = Window(
        parse_when("--from", start, end=False) if start is not None else None,
        parse_when("--to", stop, end=True) if stop is not None else None,
    )
    if found.start is not None and found.end is not None and found.start >= found.end:
        raise fail(f"--from {start} is after --to {stop}", EXIT_BAD_INPUT)
    return found


def history_command(
    pair: Annotated[str | None, typer.Option("--pair", help="Only this pair.")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="From this UTC date or datetime (inclusive).")
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--to", help="To this UTC date or datetime (inclusive).")
    ] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    paper: PaperOption = False,
    config: ConfigOption = None,
) -> None:
    """Fills, and per quote currency: trades, wins, win rate, realised P&L and fees.

    A trade is a position that is over and had a fill; the win rate is wins (realised P&L > 0)
    over trades. Dates and datetimes are UTC, both ends inclusive.

    Example: ratchet history --paper --pair TRX-BTC --from 2018-01-26 --to 2018-01-27T12:00
    """
    span = window(start, stop)
    with open_state(db, paper, config) as database:
        wanted = check_pair(database, pair)
        view = read_view(database, wanted)
        where = database.display_url
    fills = [f for f in view.fills if span.holds(f.fill.time)]
    trades = [
        p
        for p in view.positions
        if is_trade(p) and span.holds(_closed_at(view.spans.get(p.position_id)))
    ]
    summaries = summarize(trades)
    if json_out:
        print_json(
            {
                "pair": wanted,
                "from": iso(span.start),
                "to": iso(span.end - 1) if span.end is not None else None,
                "summary": [summary_record(s) for s in summaries],
                "trades": [trade_record(p, view.spans.get(p.position_id)) for p in trades],
                "fills": [fill_record(f) for f in fills],
            }
        )
        return
    table = Table(title="fills", header_style="bold")
    for column in ("time", "pair", "side", "price", "size", "fee", "liquidity", "order"):
        table.add_column(column, no_wrap=True)
    for view_fill in fills:
        fill = view_fill.fill
        table.add_row(
            short_time(fill.time),
            view_fill.pair,
            view_fill.side,
            format(fill.price, "f"),
            format(fill.size, "f"),
            format(fill.fee, "f"),
            fill.liquidity,
            view_fill.client_order_id,
        )
    summary = Table(title="P&L by quote currency", caption=where, header_style="bold")
    for column in ("quote", "trades", "wins", "losses", "win rate", "realised P&L", "fees"):
        summary.add_column(column, justify="left" if column == "quote" else "right")
    for s in summaries:
        rate = "-" if s.win_rate_pct is None else f"{s.win_rate_pct}%"
        summary.add_row(
            s.quote_currency,
            str(s.trades),
            str(s.wins),
            str(s.losses),
            rate,
            cell(s.realized_pnl),
            cell(s.fees),
        )
    if not summaries:
        summary.add_row("(no trades)", *[""] * 6)
    console().print(Group(table, summary))


def _closed_at(span: Span | None) -> int | None:
    """When a trade ended: its last sell fill (its first fill if it never sold)."""
    if span is None:
        return None
    return span.closed if span.closed is not None else span.opened
