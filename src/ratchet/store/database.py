"""Open the state database by URL: SQLite in WAL mode, SQLCipher with a key, or PostgreSQL.

=========================================  ==============================================
URL                                        what opens
=========================================  ==============================================
``sqlite:///state/ratchet.db`` (default)   a file (its folder is created, owner-only)
the same with ``key=...``                  the file encrypted with SQLCipher (``sqlcipher3``)
``sqlite://``                              a private in-memory database (tests)
``postgresql+psycopg://user:pw@host/db``   PostgreSQL through psycopg 3
=========================================  ==============================================

Every SQLite connection runs ``PRAGMA key`` first (SQLCipher), then ``busy_timeout`` (30 s),
``journal_mode=WAL``, ``synchronous`` and ``foreign_keys=ON``. ``synchronous=NORMAL`` is the
default: in WAL mode a commit then survives any crash or kill of the process, and the file is
never corrupted; only a power cut or OS crash may roll back the last few commits, which the
restart reconciliation repairs from the exchange's truth. ``synchronous="FULL"`` fsyncs every
commit (durable through a power cut too, slower: see ``bench/store.py``). Writes start with
``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of failing with
"database is locked" when a read lock cannot be upgraded; the engine has one writer thread.
The key is a parameter: reading ``RATCHET_DB_KEY`` is the composition root's job.
"""

from __future__ import annotations

import contextlib
import importlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import QueuePool, StaticPool

from ratchet.store.errors import StoreConfigError, StoreError, one_line

DEFAULT_URL = "sqlite:///state/ratchet.db"
BUSY_TIMEOUT_MS = 30_000
WRITE = "ratchet_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
WRONG_KEY = "cannot open the database: wrong key or not a ratchet database"
NEEDS_KEY = (
    "cannot open the database: it is encrypted (set RATCHET_DB_KEY) or not a SQLite database"
)
URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"

Synchronous = Literal["NORMAL", "FULL"]
Backend = Literal["sqlite", "postgresql"]


def parse_url(text: str) -> URL:
    """A supported database URL, normalised (``postgresql://`` -> ``postgresql+psycopg://``).

    Raises:
        StoreConfigError: not a URL, or a backend/driver ratchet does not support.
    """
    scheme = text.partition("://")[0] or text[:20]
    try:
        url = make_url(text)
    except ArgumentError:
        raise StoreConfigError(f"bad database URL {scheme!r}...: expected {URL_FORMS}") from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return url.set(drivername="sqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return url.set(drivername="postgresql+psycopg")
    raise StoreConfigError(f"unsupported database URL scheme {url.drivername!r}: use {URL_FORMS}")


class Database:
    """An open database: an SQLAlchemy engine plus how it was opened.

    Use :meth:`write` for a transaction that changes something and :meth:`read` for a
    consistent read; both hand out a :class:`~sqlalchemy.engine.Connection` inside a
    transaction that commits on success and rolls back on any exception.
    """

    def __init__(self, engine: Engine, url: URL, *, encrypted: bool = False) -> None:
        self.engine = engine
        self.url = url
        self.encrypted = encrypted

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        key: str | None = None,
        synchronous: Synchronous = "NORMAL",
        create: bool = True,
    ) -> Database:
        """Open (and for SQLite with ``create``: create) the database at ``url``.

        Raises:
            StoreConfigError: bad URL, missing file (``create=False``), a key for PostgreSQL,
                an empty key, or a wrong key / a file that is not a (ratchet) database.
            StoreError: the server cannot be reached or refuses the login.
        """
        parsed = parse_url(url or DEFAULT_URL)
        if key is not None and not key:
            raise StoreConfigError("the database key is empty; unset it or give a real key")
        if parsed.drivername == "sqlite":
            engine = _sqlite_engine(parsed, key, synchronous, create)
            database = cls(engine, parsed, encrypted=key is not None)
        else:
            if key is not None:
                raise StoreConfigError(
                    "RATCHET_DB_KEY encrypts SQLite files only; PostgreSQL encrypts at the "
                    "server (unset the key)"
                )
            database = cls(create_engine(parsed, pool_pre_ping=True), parsed)
        database.verify()
        return database

    # -- facts ---------------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        """``sqlite`` (plain or SQLCipher) or ``postgresql``."""
        return "sqlite" if self.engine.dialect.name == "sqlite" else "postgresql"

    @property
    def path(self) -> Path | None:
        """The SQLite file (None for PostgreSQL and in-memory SQLite)."""
        if self.backend != "sqlite" or self.url.database in (None, "", ":memory:"):
            return None
        return Path(str(self.url.database))

    @property
    def display_url(self) -> str:
        """The URL with any password masked (safe to print and log)."""
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        state = "encrypted" if self.encrypted else "plain"
        return f"Database({self.display_url}, {self.backend}, {state})"

    # -- transactions ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        with self.write_connection() as connection, connection.begin():
            yield connection

    def write_connection(self) -> Connection:
        """A connection whose every transaction writes (for a writer that keeps one open)."""
        connection = self.engine.connect()
        connection.execution_options(**{WRITE: True})
        return connection

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction: a consistent snapshot of everything it selects."""
        with self.engine.connect() as connection:
            if self.backend == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection

    def verify(self) -> None:
        """Connect once, so a wrong key or an unreachable server is reported now."""
        try:
            with self.read() as connection:
                connection.exec_driver_sql("SELECT 1").all()
        except StoreError:
            self.close()
            raise
        except DBAPIError as exc:
            self.close()
            raise StoreError(f"cannot connect to {self.display_url}: {one_line(exc)}") from None

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


# -- SQLite and SQLCipher ---------------------------------------------------------------------
def _sqlite_engine(url: URL, key: str | None, synchronous: Synchronous, create: bool) -> Engine:
    memory = url.database in (None, "", ":memory:")
    path = ":memory:" if memory else str(url.database)
    if not memory:
        file = Path(path)
        if not create and not file.is_file():
            raise StoreConfigError(f"no database at {file}")
        if create and not file.parent.is_dir():
            file.parent.mkdir(parents=True, mode=0o700)
    module: Any = sqlcipher_module() if key is not None else sqlite3
    engine = create_engine(
        url,
        module=module,
        creator=_connector(module, path, key, synchronous),
        poolclass=StaticPool if memory else QueuePool,
    )
    event.listen(engine, "begin", _begin)
    return engine


def sqlcipher_module() -> Any:
    """The SQLCipher DB-API module (a wheel that bundles SQLCipher itself)."""
    try:
        return importlib.import_module("sqlcipher3.dbapi2")
    except ImportError:
        raise StoreConfigError(
            "a database key needs the sqlcipher3 package (pip install sqlcipher3)"
        ) from None


def _connector(
    module: Any, path: str, key: str | None, synchronous: Synchronous
) -> Callable[[], Any]:
    """A function that opens one configured DB-API connection (the engine's ``creator``)."""

    def connect() -> Any:
        try:
            connection = module.connect(path, check_same_thread=False, isolation_level=None)
        except module.Error as exc:
            raise StoreConfigError(f"cannot open the database {path}: {one_line(exc)}") from None
        try:
            if key is not None:
                connection.execute("PRAGMA cipher_log_level = NONE")  # errors are ours to report
                connection.execute(f"PRAGMA key = {quote_literal(key)}")
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except module.DatabaseError:
                raise StoreConfigError(WRONG_KEY if key is not None else NEEDS_KEY) from None
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {synchronous}")
            connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            connection.close()
            raise
        return connection

    return connect


def quote_literal(text: str) -> str:
    """``text`` as an SQL string literal (for the PRAGMAs that take no parameters)."""
    if "\x00" in text:
        raise StoreConfigError("the database key must not contain NUL characters")
    return "'" + text.replace("'", "''") + "'"


def _begin(connection: Connection) -> None:
    """Start SQLite transactions ourselves: IMMEDIATE for writes, deferred for reads.

    Sent straight to the driver: this runs once per commit, on the hot path.
    """
    write = connection.get_execution_options().get(WRITE, False)
    driver: Any = connection.connection.driver_connection
    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
