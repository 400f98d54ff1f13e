"""``ratchet orders``: the orders in the state database, newest first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ratchet.cli.figures import short_time
from ratchet.cli.records import order_record
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
from ratchet.store.queries import list_orders

DEFAULT_LIMIT = 100
COLUMNS = (
    ("created", "created_at"),
    ("order", "client_order_id"),
    ("pair", "pair"),
    ("side", "side"),
    ("type", "type"),
    ("status", "status"),
    ("size", "size"),
    ("limit", "limit_price"),
    ("stop", "stop_price"),
    ("filled", "filled_size"),
    ("avg price", "average_price"),
    ("fees", "fees"),
)


def orders_command(
    open_only: Annotated[
        bool,
        typer.Option("--open/--all", help="Only orders still working (default), or all."),
    ] = True,
    pair: Annotated[str | None, typer.Option("--pair", help="Only this pair's orders.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many (the newest).")
    ] = DEFAULT_LIMIT,
    json_out: JsonOption = False,
    db: DbOption = None,
    paper: PaperOption = False,
    config: ConfigOption = None,
) -> None:
    """Orders with their status, prices and fills, newest first.

    Example: ratchet orders --all --pair ETH-BTC --limit 20 --paper
    """
    with open_state(db, paper, config) as database:
        wanted = check_pair(database, pair)
        found = list_orders(database, open_only=open_only, pair=wanted, limit=limit)
        where = database.display_url
    records = [order_record(r) for r in found]
    if json_out:
        print_json({"orders": records})
        return
    kind = "open orders" if open_only else "orders"
    title = f"{kind} of {wanted}" if wanted else kind
    table = Table(title=title, caption=where, header_style="bold")
    for label, _ in COLUMNS:
        table.add_column(label, no_wrap=True)
    for record, values in zip(found, records, strict=True):
        cells = ["" if values[key] is None else str(values[key]) for _, key in COLUMNS]
        cells[0] = short_time(record.created_at)
        table.add_row(*cells)
    if not found:
        table.add_row(f"(no {kind})", *[""] * (len(COLUMNS) - 1))
    console().print(table)
    if len(found) == limit:
        typer.echo(f"the newest {limit} shown; --limit N shows more")
