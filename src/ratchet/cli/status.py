"""``ratchet status [PAIR]``: positions from the state database, or one pair in detail."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ratchet.cli.figures import cell, short_time, unrealized
from ratchet.cli.records import fill_record, order_record, position_record, stop_record
from ratchet.cli.state_db import (
    ConfigOption,
    DbOption,
    JsonOption,
    PaperOption,
    check_pair,
    console,
    open_state,
    print_json,
)
from ratchet.cli.store_view import StoreView, read_view
from ratchet.domain.position import Position
from ratchet.store.database import Database
from ratchet.store.queries import list_orders, stop_changes

POSITION_COLUMNS = (
    "pair",
    "position",
    "status",
    "entry",
    "quantity",
    "stop desired",
    "stop confirmed",
    "realised",
    "unrealised",
    "last",
    "last from",
)


def status_command(
    pair: Annotated[
        str | None, typer.Argument(help="Show this pair's current position in detail.")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every position, not only each pair's latest.")
    ] = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    paper: PaperOption = False,
    config: ConfigOption = None,
) -> None:
    """Positions: entry, quantity, stops (desired and confirmed), realised and unrealised P&L.

    Unrealised P&L is at the last known price: the newer of the last recorded candle close
    and the last fill (the "last from" column says which). With PAIR: that pair's current (or
    latest) position with its orders, fills and stop history.

    Example: ratchet status --paper ETH-BTC
    """
    with open_state(db, paper, config) as database:
        wanted = check_pair(database, pair)
        view = read_view(database, wanted)
        if wanted is None:
            chosen = view.positions if every else view.latest_per_pair()
            _show_list(view, chosen, json_out, database.display_url)
        else:
            _show_pair(database, view, wanted, json_out)


def _show_list(view: StoreView, chosen: list[Position], json_out: bool, where: str) -> None:
    records = [
        position_record(
            p,
            view.spans.get(p.position_id),
            view.last.get(p.pair),
            view.confirmed.get(p.position_id),
        )
        for p in chosen
    ]
    if json_out:
        print_json({"positions": records})
        return
    table = Table(title="positions", caption=where, header_style="bold")
    for column in POSITION_COLUMNS:
        table.add_column(
            column,
            justify="left" if column in ("pair", "position", "status", "last from") else "right",
            no_wrap=True,
        )
    for position in chosen:
        table.add_row(*_position_cells(view, position))
    if not chosen:
        table.add_row("(no positions yet)", *[""] * (len(POSITION_COLUMNS) - 1))
    console().print(table)


def _position_cells(view: StoreView, position: Position) -> list[str]:
    last = view.last.get(position.pair)
    final = position.status.is_final
    return [
        position.pair,
        position.position_id,
        position.status.value,
        cell(position.entry_price),
        format(position.quantity, "f"),
        "" if final else cell(position.stop),
        "" if final else cell(view.confirmed.get(position.position_id)),
        cell(position.realized_pnl),
        cell(unrealized(position, last)),
        cell(last.price) if last else "",
        f"{last.source} {short_time(last.time)}" if last else "",
    ]


def _show_pair(database: Database, view: StoreView, pair: str, json_out: bool) -> None:
    current = next(iter(view.latest_per_pair()), None)
    if current is None:
        if json_out:
            print_json({"pair": pair, "position": None, "orders": [], "fills": [], "stops": []})
        else:
            typer.echo(f"{pair}: no position yet")
        return
    pid = current.position_id
    orders = [order_record(r) for r in list_orders(database, position_id=pid)]
    fills = [fill_record(f) for f in view.fills if f.position_id == pid]
    stops = [stop_record(s) for s in stop_changes(database, pid)]
    position = position_record(
        current, view.spans.get(pid), view.last.get(pair), view.confirmed.get(pid)
    )
    if json_out:
        print_json(
            {"pair": pair, "position": position, "orders": orders, "fills": fills, "stops": stops}
        )
        return
    console().print(
        Group(
            _facts(position),
            _records_table("orders", orders, ORDER_COLUMNS),
            _records_table("fills", fills, FILL_COLUMNS),
            _records_table("stop history", stops, STOP_COLUMNS),
        )
    )


FACTS = (
    ("status", "status"),
    ("opened", "opened_at"),
    ("closed", "closed_at"),
    ("quantity", "quantity"),
    ("entry price", "entry_price"),
    ("entry size / value / fees", ("entry_size", "entry_value", "entry_fees")),
    ("exit price", "exit_price"),
    ("exit size / value / fees", ("exit_size", "exit_value", "exit_fees")),
    ("stop desired / confirmed", ("stop_desired", "stop_confirmed")),
    ("high water / trail %", ("high_water", "trail_pct")),
    ("realised P&L", "realized_pnl"),
    ("last price", ("last_price", "last_price_source", "last_price_at")),
    ("unrealised P&L", "unrealized_pnl"),
)
ORDER_COLUMNS = (
    "created_at",
    "client_order_id",
    "side",
    "type",
    "status",
    "size",
    "limit_price",
    "stop_price",
    "filled_size",
    "average_price",
    "fees",
)
FILL_COLUMNS = ("time", "side", "price", "size", "fee", "liquidity", "client_order_id")
STOP_COLUMNS = ("time", "desired", "confirmed", "client_order_id", "reason")


def _facts(record: dict[str, str | int | None]) -> Table:
    table = Table(
        title=f"{record['pair']} position {record['position_id']}",
        show_header=False,
        title_style="bold",
    )
    table.add_column("", style="bold")
    table.add_column("")
    for label, keys in FACTS:
        names = (keys,) if isinstance(keys, str) else keys
        values = [str(record[name]) if record[name] is not None else "-" for name in names]
        table.add_row(label, " / ".join(values) if len(values) > 1 else values[0])
    return table


def _records_table(
    title: str, records: list[dict[str, str | int | None]], columns: tuple[str, ...]
) -> Table | Text:
    if not records:
        return Text(f"{title}: none")
    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column.replace("_", " "), no_wrap=True)
    for record in records:
        table.add_row(*("" if record[c] is None else str(record[c]) for c in columns))
    return table
