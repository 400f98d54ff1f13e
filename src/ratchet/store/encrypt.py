"""Convert a plain SQLite state database into a SQLCipher one (``ratchet db encrypt``).

SQLCipher's own ``sqlcipher_export`` copies schema and rows into a new, keyed file; the copy is
then opened with the key like the engine would and every table's row count compared with the
source. The source is only read; on any failure the half-made copy is removed.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from ratchet.store.database import Database, sqlcipher_module
from ratchet.store.errors import StoreConfigError, StoreError, one_line
from ratchet.store.tables import DATA_TABLES


def row_counts(database: Database) -> dict[str, int]:
    """The number of rows in every data table that ``database`` has."""
    count = select(func.count())
    try:
        with database.read() as connection:
            present = set(inspect(connection).get_table_names())
            return {
                table.name: int(connection.execute(count.select_from(table)).scalar_one())
                for table in DATA_TABLES
                if table.name in present
            }
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot count the rows: {one_line(exc)}") from exc


def encrypt_database(source: Path, out: Path, key: str) -> dict[str, int]:
    """Write an encrypted copy of the plain database ``source`` to ``out``; return its counts.

    Raises:
        StoreConfigError: no plain database at ``source``, ``out`` exists, or an empty key.
        StoreError: the copy failed or does not hold the same rows (the copy is removed).
    """
    if not key:
        raise StoreConfigError("RATCHET_DB_KEY is empty; set the key to encrypt with")
    if out.exists():
        raise StoreConfigError(f"{out} exists; refusing to overwrite it")
    plain = Database.open(f"sqlite:///{source}", create=False)
    try:
        expected = row_counts(plain)
    finally:
        plain.close()
    module = sqlcipher_module()
    try:
        connection = module.connect(str(source), isolation_level=None)
        try:
            connection.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(out), key))
            connection.execute("BEGIN")  # one snapshot of the source, even if it is in use
            connection.execute("SELECT sqlcipher_export('encrypted')")
            connection.execute("COMMIT")
            connection.execute("DETACH DATABASE encrypted")
        finally:
            connection.close()
        copy = Database.open(f"sqlite:///{out}", key=key, create=False)
        try:
            found = row_counts(copy)
        finally:
            copy.close()
    except module.Error as exc:
        _remove(out)
        raise StoreError(f"encryption failed: {one_line(exc)}") from None
    except BaseException:
        _remove(out)
        raise
    if found != expected:
        _remove(out)
        raise StoreError(f"the encrypted copy does not hold the same rows ({found} != {expected})")
    return found


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
