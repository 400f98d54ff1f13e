"""Records written as CSV, JSON or SQL (``CREATE TABLE`` + ``INSERT`` that sqlite3 loads).

Money is exact decimal text in every format (TEXT columns in SQL), counts are integers, a
missing value is an empty CSV cell, JSON ``null`` or SQL ``NULL``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence, Set
from enum import StrEnum

from ratchet.cli.records import Record


class ExportFormat(StrEnum):
    """The formats ``ratchet export`` writes."""

    CSV = "csv"
    JSON = "json"
    SQL = "sql"


def render(fmt: ExportFormat, table: str, example: Record, records: list[Record]) -> str:
    """``records`` as one document of format ``fmt``.

    ``example`` is a record of the same kind: its keys are the columns (in order), its integer
    values mark the INTEGER columns of SQL.
    """
    columns = list(example)
    if fmt is ExportFormat.CSV:
        return to_csv(columns, records)
    if fmt is ExportFormat.JSON:
        return json.dumps([{c: r[c] for c in columns} for r in records], indent=2) + "\n"
    integers = {name for name, value in example.items() if isinstance(value, int)}
    return to_sql(table, columns, integers, records)


def to_csv(columns: Sequence[str], records: list[Record]) -> str:
    """A header line, then one line per record (``None`` as an empty cell)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if record[c] is None else record[c] for c in columns])
    return out.getvalue()


def to_sql(table: str, columns: Sequence[str], integers: Set[str], records: list[Record]) -> str:
    """One transaction: ``CREATE TABLE`` (INTEGER for ``integers``, TEXT otherwise), INSERTs."""
    definitions = ", ".join(
        f"{identifier(c)} {'INTEGER' if c in integers else 'TEXT'}" for c in columns
    )
    lines = ["BEGIN TRANSACTION;", f"CREATE TABLE {identifier(table)} ({definitions});"]
    names = ", ".join(identifier(c) for c in columns)
    for record in records:
        values = ", ".join(literal(record[c]) for c in columns)
        lines.append(f"INSERT INTO {identifier(table)} ({names}) VALUES ({values});")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def identifier(name: str) -> str:
    """An SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | int | None) -> str:
    """An SQL literal: NULL, an integer, or a single-quoted string."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"
