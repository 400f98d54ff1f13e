"""Which state database the read-only commands read, and how they open it.

``--db URL`` (or ``--paper``, short for ``sqlite:///state/paper.db``, what ``make run``
writes), else ``RATCHET_DB_URL``, else the ``store.url`` of ``--config FILE``, else
``sqlite:///state/ratchet.db``. An encrypted SQLite file is opened with ``RATCHET_DB_KEY``.
Reading never creates anything: a missing file is an error (exit 2), a database without the
current schema too (exit 1).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from ratchet.config import ConfigError, load_config
from ratchet.store import schema
from ratchet.store.database import DEFAULT_URL, Database, parse_url
from ratchet.store.errors import StoreConfigError, StoreError, one_line
from ratchet.store.queries import known_pairs

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
URL_VARIABLE = "RATCHET_DB_URL"
KEY_VARIABLE = "RATCHET_DB_KEY"
PAPER_URL = "sqlite:///state/paper.db"

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=f"Database URL (sqlite:///PATH or postgresql+psycopg://...). Default: "
        f"${URL_VARIABLE}, else --config's store.url, else {DEFAULT_URL}.",
        show_default=False,
    ),
]
PaperOption = Annotated[
    bool, typer.Option("--paper", help=f"Read the paper run's database ({PAPER_URL}).")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="YAML configuration whose store.url names the database."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Machine-readable JSON (money as exact strings).")
]


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` (one line) on stderr; the Exit to raise with ``code``."""
    typer.echo("error: " + " ".join(str(message).split("\n")), err=True)
    return typer.Exit(code)


def database_url(
    db: str | None,
    paper: bool,
    config: Path | None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The URL to read, by the precedence of the module docstring.

    Raises:
        typer.Exit: both --db and --paper, or a bad --config file (exit 2).
    """
    env = os.environ if environ is None else environ
    if db is not None and paper:
        raise fail("give either --db or --paper, not both", EXIT_BAD_INPUT)
    if db is not None:
        return db
    if paper:
        return PAPER_URL
    if env.get(URL_VARIABLE):
        return env[URL_VARIABLE]
    if config is not None:
        try:
            return load_config(config).store.url
        except ConfigError as exc:
            for problem in exc.problems:
                typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    return DEFAULT_URL


@contextlib.contextmanager
def open_state(db: str | None, paper: bool, config: Path | None) -> Iterator[Database]:
    """Open the state database for reading; store errors become one line and an exit code."""
    url = database_url(db, paper, config)
    with reported():
        _check_file(url)
        database = Database.open(url, key=os.environ.get(KEY_VARIABLE) or None, create=False)
        try:
            schema.ensure(database, migrate_if_behind=False)
            yield database
        finally:
            database.close()


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn store and database errors into one line: 2 for a bad name or key, 1 otherwise."""
    try:
        yield
    except StoreConfigError as exc:
        raise fail(str(exc), EXIT_BAD_INPUT) from None
    except StoreError as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    except SQLAlchemyError as exc:  # a read that failed (locked, corrupt, server gone)
        raise fail(f"cannot read the database: {one_line(exc)}", EXIT_FAILED) from None


def _check_file(url: str) -> None:
    parsed = parse_url(url)
    if parsed.drivername != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(str(parsed.database))
    if not path.is_file():
        raise StoreConfigError(
            f"no database at {path}: name one with --db URL, --config FILE or --paper "
            f"(`ratchet run --paper` writes {PAPER_URL.removeprefix('sqlite:///')})"
        )


def check_pair(database: Database, pair: str | None) -> str | None:
    """``pair`` upper-cased, if the database knows it; an unknown pair is exit 2."""
    if pair is None:
        return None
    wanted = pair.strip().upper()
    known = known_pairs(database)
    if wanted not in known:
        listed = ", ".join(known) if known else "none yet"
        raise fail(f"unknown pair {pair!r}: the database knows {listed}", EXIT_BAD_INPUT)
    return wanted


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout."""
    typer.echo(json.dumps(value, indent=2))


def console() -> Console:
    """A console for tables: the terminal's width, or a wide one when output is piped."""
    screen = Console()
    return screen if screen.is_terminal else Console(width=200)
