"""Online, consistent backups of a SQLite or SQLCipher state database (``ratchet db backup``).

The engine may be writing while the backup runs. One read transaction is opened on the source
and held: in WAL mode it sees one committed state and never blocks the writer. The rows are
counted in that transaction and the SQLite backup API copies the very same snapshot, in one step
(a step-wise backup restarts whenever another connection writes, and under a busy engine would
never finish). A SQLCipher database is copied page by page into a file keyed with the same key,
so the backup is encrypted exactly as the source is.

The copy is written to a hidden temporary file beside ``out`` (owner-only permissions), then
verified: it opens like the engine opens a database (with the key; for SQLCipher, a plain SQLite
open must fail), ``PRAGMA integrity_check`` says ``ok`` (SQLCipher: ``cipher_integrity_check``
too), its schema revision is one this ratchet knows, and every table holds as many rows as the
source did in the snapshot. It is switched to a self-contained single file (rollback journal,
no ``-wal``) and only then renamed onto ``out``; on any failure the temporary file is removed
and ``out`` is untouched. PostgreSQL is backed up with its own tool, ``pg_dump``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ratchet.store import schema
from ratchet.store.database import Database, parse_url, quote_literal, sqlcipher_module
from ratchet.store.encrypt import row_counts
from ratchet.store.errors import StoreConfigError, StoreError, one_line
from ratchet.store.tables import DATA_TABLES

PG_DUMP_HINT = (
    "PostgreSQL is backed up by the server's own tool: pg_dump --format=custom "
    "--file=ratchet.dump DATABASE (consistent while the engine writes; pg_restore restores it)"
)
SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What was copied where, and what the verification of the copy found."""

    source: str
    out: Path
    encrypted: bool
    revision: str | None
    integrity: str
    counts: dict[str, int]
    size: int
    seconds: float


def backup_database(url: str, out: Path, key: str | None, *, force: bool = False) -> BackupReport:
    """Copy the SQLite/SQLCipher database at ``url`` to ``out`` and verify the copy.

    Raises:
        StoreConfigError: a PostgreSQL or in-memory URL, a missing source, a wrong or missing
            key, or a bad ``out`` (exists without ``force``, a folder, no such folder, the source).
        StoreError: the copy failed or does not match the source (nothing is left at ``out``).
    """
    started = time.monotonic()
    parsed = parse_url(url)
    if parsed.drivername != "sqlite":
        raise StoreConfigError(PG_DUMP_HINT)
    if parsed.database in (None, "", ":memory:"):
        raise StoreConfigError("an in-memory database has nothing to back up")
    source_path = Path(str(parsed.database))
    _check_out(out, source_path, force=force)
    source = Database.open(url, key=key, create=False)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        expected = _copy_snapshot(source, partial, key)
        report = _verify(partial, key, expected)
        _make_standalone(partial, key)
        if force:
            _remove_side_files(out)
        _fsync(partial)
        partial.replace(out)
        _fsync(out.parent)
    except BaseException:
        _remove(partial)
        raise
    finally:
        source.close()
    return BackupReport(
        source=source.display_url,
        out=out,
        encrypted=key is not None,
        revision=report.revision,
        integrity=report.integrity,
        counts=report.counts,
        size=out.stat().st_size,
        seconds=time.monotonic() - started,
    )


def _check_out(out: Path, source: Path, *, force: bool) -> None:
    if out.is_dir():
        raise StoreConfigError(f"{out} is a folder; name the backup file to write")
    if not out.parent.is_dir():
        raise StoreConfigError(f"cannot write {out}: the folder {out.parent} does not exist")
    if source.exists() and out.exists() and out.resolve() == source.resolve():
        raise StoreConfigError(f"{out} is the database itself; choose another file")
    if out.exists() and not force:
        raise StoreConfigError(f"{out} exists; refusing to overwrite it (--force replaces it)")
    if not os.access(out.parent, os.W_OK):
        raise StoreConfigError(f"cannot write {out}: no write permission on {out.parent}")


@dataclass(frozen=True, slots=True)
class _Verified:
    revision: str | None
    integrity: str
    counts: dict[str, int]


def _copy_snapshot(source: Database, partial: Path, key: str | None) -> dict[str, int]:
    """Copy one snapshot of ``source`` into the new file ``partial``; the rows it held."""
    module: Any = sqlcipher_module() if key is not None else sqlite3
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(descriptor)
    pooled = source.engine.raw_connection()
    try:
        driver: Any = pooled.driver_connection
        target = module.connect(str(partial), isolation_level=None)
        try:
            if key is not None:
                target.execute("PRAGMA cipher_log_level = NONE")
                target.execute(f"PRAGMA key = {quote_literal(key)}")
            driver.execute("BEGIN")
            try:
                present = {
                    row[0]
                    for row in driver.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                expected = {
                    table.name: int(
                        driver.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
                    )
                    for table in DATA_TABLES
                    if table.name in present
                }
                driver.backup(target)  # the source's open read transaction: the same snapshot
            finally:
                driver.execute("COMMIT")
        finally:
            target.close()
    except module.Error as exc:
        raise StoreError(f"backup failed: {one_line(exc)}") from None
    finally:
        pooled.close()
    return expected


def _verify(partial: Path, key: str | None, expected: dict[str, int]) -> _Verified:
    """Open the copy as the engine would and compare it with the source's snapshot."""
    if key is not None and _plain_sqlite_reads(partial):
        raise StoreError("the backup is readable without the key; it should be encrypted")
    try:
        copy = Database.open(f"sqlite:///{partial}", key=key, create=False)
    except StoreConfigError as exc:
        raise StoreError(f"the backup does not open: {exc}") from None
    try:
        with copy.read() as connection:
            integrity = [str(r[0]) for r in connection.exec_driver_sql("PRAGMA integrity_check")]
            if key is not None:
                integrity += [
                    str(r[0]) for r in connection.exec_driver_sql("PRAGMA cipher_integrity_check")
                ]
        found = schema.status(copy)
        counts = row_counts(copy)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot check the backup: {one_line(exc)}") from None
    finally:
        copy.close()
    if integrity != ["ok"]:
        raise StoreError(f"the backup fails its integrity check: {'; '.join(integrity[:3])}")
    if counts != expected:
        raise StoreError(f"the backup does not hold the same rows ({counts} != {expected})")
    return _Verified(found.current, "ok", counts)


def _plain_sqlite_reads(path: Path) -> bool:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        return False
    finally:
        connection.close()
    return True


def _make_standalone(partial: Path, key: str | None) -> None:
    """Switch the copy to a rollback journal: one self-contained file, no ``-wal`` beside it."""
    module: Any = sqlcipher_module() if key is not None else sqlite3
    connection = module.connect(str(partial), isolation_level=None)
    try:
        if key is not None:
            connection.execute("PRAGMA cipher_log_level = NONE")
            connection.execute(f"PRAGMA key = {quote_literal(key)}")
        mode = connection.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    finally:
        connection.close()
    leftovers = [f"{partial.name}{suffix}" for suffix in SIDE_FILES if _side(partial, suffix)]
    if str(mode).lower() != "delete" or leftovers:
        raise StoreError(f"cannot finish the backup file (journal {mode}, left: {leftovers})")


def _side(path: Path, suffix: str) -> bool:
    return path.with_name(path.name + suffix).exists()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_side_files(path: Path) -> None:
    """Stale ``-wal``/``-shm`` files of a file about to be replaced would be applied to the new
    one on its next open; they belong to the old file, so they go with it."""
    for suffix in SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    _remove_side_files(path)
