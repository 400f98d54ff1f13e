"""``ratchet user``: the users of the web GUI (argon2id hashes in the state database).

``ratchet user add NAME --role admin|operator|viewer`` prompts for the password twice (hidden),
or reads one line from standard input with ``--password-stdin`` (for scripts: never put a
password on the command line). A weak or empty password is refused with the reason (exit 2).
The database is ``--db`` (or ``RATCHET_DB_URL``, default ``sqlite:///state/ratchet.db``); an
encrypted one is opened with ``RATCHET_DB_KEY``; its schema is created or upgraded if needed.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from sqlalchemy import select

from ratchet.store import schema
from ratchet.store.database import DEFAULT_URL, Database
from ratchet.store.errors import StoreConfigError, StoreError
from ratchet.store.tables import users
from ratchet.web.users import Role, UserError, add_user, check_password, check_username

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
KEY_VARIABLE = "RATCHET_DB_KEY"

user_app = typer.Typer(help="Users of the web GUI: add, list.", no_args_is_help=True)

Db = Annotated[
    str,
    typer.Option("--db", envvar="RATCHET_DB_URL", help="sqlite:///PATH or postgresql+psycopg://"),
]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _open(url: str) -> Database:
    try:
        database = Database.open(url, key=os.environ.get(KEY_VARIABLE) or None)
    except StoreConfigError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    except StoreError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None
    try:
        schema.ensure(database, migrate_if_behind=True)
    except StoreError as exc:
        database.close()
        raise _fail(str(exc), EXIT_FAILED) from None
    return database


def _read_password(name: str, from_stdin: bool) -> str:
    """The password: one line of stdin, or typed twice (asked again on a terminal if refused)."""
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    interactive = sys.stdin.isatty()
    while True:
        first = _ask(f"password for {name}")
        try:
            check_password(first, name)
        except UserError as exc:
            if not interactive:
                return first  # refused by the caller with the same message
            typer.echo(f"{exc}; try again", err=True)
            continue
        if _ask("repeat it") == first:
            return first
        if not interactive:
            raise _fail("the two passwords differ", EXIT_BAD_INPUT)
        typer.echo("the two passwords differ; try again", err=True)


def _ask(text: str) -> str:
    return str(typer.prompt(text, hide_input=True, default="", show_default=False))


@user_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="Username (lowercase letters, digits, . _ -).")],
    role: Annotated[Role, typer.Option("--role", help="viewer reads; operator trades; admin all.")],
    db: Db = DEFAULT_URL,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Reset the password and role of an existing user.")
    ] = False,
) -> None:
    """Add a user of the web GUI (the password is asked twice, hidden)."""
    try:
        check_username(name)
    except UserError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    password = _read_password(name, password_stdin)
    try:
        check_password(password, name)
    except UserError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    database = _open(db)
    try:
        add_user(database, name, password, role, replace=replace)
    except UserError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    finally:
        database.close()
    verb = "updated" if replace else "added"
    typer.echo(f"{verb} user {name} (role {role.value}) in {database.display_url}")


@user_app.command("list")
def list_command(db: Db = DEFAULT_URL) -> None:
    """List the users and their roles (never their hashes)."""
    database = _open(db)
    try:
        with database.read() as connection:
            rows = connection.execute(
                select(users.c.username, users.c.role).order_by(users.c.username)
            ).all()
    finally:
        database.close()
    if not rows:
        typer.echo("no users yet: add one with `ratchet user add NAME --role admin`")
    for row in rows:
        typer.echo(f"{row.username}\t{row.role}")
