"""How a SQLite database is opened: WAL, busy timeout, foreign keys, the default place."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ratchet.store.database import BUSY_TIMEOUT_MS, DEFAULT_URL, Database


def _pragma(database: Database, name: str) -> object:
    with database.read() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


@pytest.mark.parametrize("key", [None, "k3y"], ids=["sqlite", "sqlcipher"])
def test_a_sqlite_database_runs_in_wal_with_a_busy_timeout_and_foreign_keys(
    tmp_path: Path, key: str | None
) -> None:
    # Act
    database = Database.open(f"sqlite:///{tmp_path / 'x.db'}", key=key)

    # Assert
    assert _pragma(database, "journal_mode") == "wal"
    assert _pragma(database, "busy_timeout") == BUSY_TIMEOUT_MS
    assert _pragma(database, "foreign_keys") == 1
    assert _pragma(database, "synchronous") == 1  # NORMAL
    assert database.encrypted is (key is not None)
    database.close()


def test_full_synchronous_is_used_when_asked(tmp_path: Path) -> None:
    # Act
    database = Database.open(f"sqlite:///{tmp_path / 'x.db'}", synchronous="FULL")

    # Assert
    assert _pragma(database, "synchronous") == 2
    database.close()


def test_the_default_database_is_state_ratchet_db_in_an_owner_only_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    monkeypatch.chdir(tmp_path)

    # Act
    database = Database.open()

    # Assert
    assert database.display_url == DEFAULT_URL == "sqlite:///state/ratchet.db"
    assert database.path == Path("state/ratchet.db")
    assert (tmp_path / "state" / "ratchet.db").is_file()
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    database.close()
