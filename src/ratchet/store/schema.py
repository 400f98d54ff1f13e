"""Schema revisions: Alembic run programmatically, and the check the engine makes at start.

There is no ``alembic.ini``: :func:`alembic_config` points Alembic at the ``migrations`` folder
inside this package and hands it the connection of an already-open :class:`Database` (so an
encrypted database migrates like a plain one). Revisions are named ``v1``, ``v2``, ...

The engine runs only on a schema it knows. A database at a revision this ratchet does not have
is refused with :class:`SchemaError` (newer: "upgrade ratchet"; otherwise "unknown"); a database
behind the head is migrated when the caller allows it, else refused with the command to run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from ratchet.store.database import Database
from ratchet.store.errors import SchemaError, StoreError, one_line

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
MIGRATION_LOCK = 0x7261_7463  # PostgreSQL advisory lock id: one migration at a time
_NUMBER = re.compile(r"v(\d+)")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for ratchet's migrations, running on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this ratchet knows."""
    head = _script().get_current_head()
    assert head is not None, "ratchet ships at least one migration"
    return head


def known_revisions() -> tuple[str, ...]:
    """Every revision this ratchet knows, oldest first."""
    return tuple(reversed([script.revision for script in _script().walk_revisions()]))


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema is compared with this ratchet's head."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """True when the database is at the head revision."""
        return self.current == self.head

    def describe(self) -> str:
        """One line for ``ratchet db status``."""
        if self.current is None:
            return f"empty (no schema yet; `ratchet db migrate` creates {self.head})"
        if self.up_to_date:
            return f"{self.current} (up to date)"
        return f"{self.current} (behind {self.head}; run `ratchet db migrate`)"


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in the database, or None when it has none."""
    return MigrationContext.configure(connection).get_current_revision()


def check(connection: Connection) -> SchemaStatus:
    """The database's schema status; refuses a revision or a content this ratchet does not know.

    Raises:
        SchemaError: a newer or unknown revision, or tables but no revision (not ratchet's).
    """
    current = current_revision(connection)
    head = head_revision()
    if current is None:
        foreign = [name for name in inspect(connection).get_table_names() if name != VERSION_TABLE]
        if foreign:
            raise SchemaError(
                f"the database has tables ({', '.join(sorted(foreign)[:3])}, ...) but no ratchet "
                "schema revision: not a ratchet database"
            )
    elif current not in known_revisions():
        raise SchemaError(refusal(current, head))
    return SchemaStatus(current, head)


def refusal(current: str, head: str) -> str:
    """Why a database at ``current`` cannot be run by a ratchet whose head is ``head``."""
    mine, theirs = _NUMBER.fullmatch(head), _NUMBER.fullmatch(current)
    if mine and theirs and int(theirs[1]) > int(mine[1]):
        return (
            f"database schema is at revision {current}, this ratchet knows up to {head}; "
            "upgrade ratchet"
        )
    return (
        f"database schema is at unknown revision {current!r}, this ratchet knows "
        f"{', '.join(known_revisions())}; not a ratchet database"
    )


def status(database: Database) -> SchemaStatus:
    """The schema status of ``database`` (read only)."""
    try:
        with database.read() as connection:
            return check(connection)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the schema revision: {one_line(exc)}") from exc


def migrate(database: Database, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade ``database`` to ``target`` in one transaction; return (before, after).

    Raises:
        SchemaError: the database is newer/unknown, or ``target`` is not a known revision
            at or after the current one (ratchet never migrates down).
        StoreError: the database refused the DDL (nothing of the migration is kept).
    """
    goal = head_revision() if target == "head" else target
    if goal not in known_revisions():
        raise SchemaError(
            f"unknown target revision {target!r}; known: {', '.join(known_revisions())}"
        )
    try:
        with database.write() as connection:
            before = _upgrade(connection, goal)
            after = current_revision(connection)
    except SQLAlchemyError as exc:
        raise StoreError(f"migration to {goal} failed: {one_line(exc)}") from exc
    return before, after


def _upgrade(connection: Connection, goal: str) -> str | None:
    """Upgrade to ``goal`` inside the caller's transaction; return the revision before."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    before = check(connection).current
    order = known_revisions()
    if before is not None and order.index(goal) < order.index(before):
        raise SchemaError(f"the database is at {before}, after {goal}; ratchet never migrates down")
    if before != goal:
        try:
            command.upgrade(alembic_config(connection), goal)
        except CommandError as exc:
            raise SchemaError(f"migration to {goal} failed: {one_line(exc)}") from exc
    return before


def ensure(database: Database, *, migrate_if_behind: bool) -> SchemaStatus:
    """What the engine calls at start: the schema at head, or a :class:`SchemaError`.

    An empty or older database is migrated when ``migrate_if_behind``, else refused.
    """
    found = status(database)
    if found.up_to_date:
        return found
    if not migrate_if_behind:
        at = found.current or "empty"
        raise SchemaError(
            f"database schema is at revision {at}, this ratchet needs {found.head}; "
            "run `ratchet db migrate`"
        )
    migrate(database)
    return status(database)
