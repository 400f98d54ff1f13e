"""``ratchet db``: migrate, inspect, encrypt and back up the state database.

The database is ``--url`` (or ``RATCHET_DB_URL``, default ``sqlite:///state/ratchet.db``); an
encrypted SQLite file is opened with the key in ``RATCHET_DB_KEY``. Exit codes: 0 ok, 1 the
operation failed (unknown/newer schema, server down), 2 bad input (URL, key, paths).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from ratchet.store import schema
from ratchet.store.backup import backup_database
from ratchet.store.database import DEFAULT_URL, Database, parse_url
from ratchet.store.encrypt import encrypt_database, row_counts
from ratchet.store.errors import StoreConfigError, StoreError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
KEY_VARIABLE = "RATCHET_DB_KEY"

db_app = typer.Typer(
    help="The state database: migrations, status, encryption at rest, backups.",
    no_args_is_help=True,
)

Url = Annotated[
    str,
    typer.Option("--url", envvar="RATCHET_DB_URL", help="sqlite:///PATH or postgresql+psycopg://"),
]


def _key() -> str | None:
    """The database key from the environment (an empty value counts as unset)."""
    return os.environ.get(KEY_VARIABLE) or None


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo("error: " + " ".join(str(message).split("\n")), err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """Turn store errors into one-line messages and exit codes."""
    try:
        yield
    except StoreConfigError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    except StoreError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None


@db_app.command("migrate")
def migrate_command(
    url: Url = DEFAULT_URL,
    to: Annotated[
        str, typer.Option("--to", help="Target revision (default: the newest).")
    ] = "head",
) -> None:
    """Create the schema, or upgrade it to the newest revision (never down)."""
    with _reported():
        database = Database.open(url, key=_key())
        try:
            before, after = schema.migrate(database, to)
        finally:
            database.close()
    if before == after:
        typer.echo(f"{database.display_url}: schema already at {after}")
    else:
        typer.echo(f"{database.display_url}: migrated {before or 'empty'} -> {after}")


@db_app.command("status")
def status_command(url: Url = DEFAULT_URL) -> None:
    """Show where the database is, whether it is encrypted, its schema revision and row counts."""
    with _reported():
        database = Database.open(url, key=_key(), create=False)
        try:
            found = schema.status(database)
            counts = row_counts(database)
        finally:
            database.close()
    kind = "SQLCipher (encrypted)" if database.encrypted else database.backend
    typer.echo(f"database  {database.display_url}  [{kind}]")
    typer.echo(f"schema    {found.describe()}")
    if counts:
        typer.echo("rows      " + ", ".join(f"{name} {count}" for name, count in counts.items()))


@db_app.command("encrypt")
def encrypt_command(
    out: Annotated[Path, typer.Option("--out", help="Where to write the encrypted copy.")],
    url: Url = DEFAULT_URL,
) -> None:
    """Write an encrypted (SQLCipher) copy of a plain SQLite database, keyed by RATCHET_DB_KEY."""
    key = _key()
    if key is None:
        raise _fail(f"{KEY_VARIABLE} is not set: export the key to encrypt with", EXIT_BAD_INPUT)
    with _reported():
        parsed = parse_url(url)
        if parsed.drivername != "sqlite" or parsed.database in (None, "", ":memory:"):
            raise StoreConfigError("only a SQLite database file can be encrypted")
        source = Path(str(parsed.database))
        counts = encrypt_database(source, out, key)
    typer.echo(
        f"encrypted {source} -> {out}: {sum(counts.values())} rows in {len(counts)} tables; "
        f"open it with {KEY_VARIABLE} set and --url sqlite:///{out}"
    )


@db_app.command("backup")
def backup_command(
    out: Annotated[Path, typer.Argument(help="The backup file to write.")],
    url: Url = DEFAULT_URL,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """Copy the database to OUT while the engine runs, and verify the copy.

    SQLite and SQLCipher: one consistent snapshot, encrypted with the same key
    (RATCHET_DB_KEY) as the source. PostgreSQL: use pg_dump.
    """
    with _reported():
        report = backup_database(url, out, _key(), force=force)
    kind = "SQLCipher, same key" if report.encrypted else "SQLite"
    typer.echo(
        f"backed up {report.source} -> {report.out} [{kind}]: {report.size} bytes "
        f"in {report.seconds:.2f} s"
    )
    typer.echo(f"schema    {report.revision or 'empty'}")
    typer.echo(f"integrity {report.integrity}")
    rows = ", ".join(f"{name} {count}" for name, count in report.counts.items())
    typer.echo(f"rows      {rows or 'none'} (equal to the source)")
