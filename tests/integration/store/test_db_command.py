"""``ratchet db migrate / status / encrypt`` as a user runs them: a real process, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import text

from ratchet.domain.position import PositionStatus
from ratchet.ports import StateBatch
from ratchet.store import schema
from ratchet.store.database import Database
from ratchet.store.encrypt import row_counts
from ratchet.store.repository import Repository

KEY = "a key for the command tests"


def ratchet(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ratchet ARGS`` with no database settings but those given."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RATCHET_DB_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ratchet", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line, checked to be exactly one line starting with ``error:``."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _with_rows(url: str, build: SimpleNamespace, key: str | None = None) -> dict[str, int]:
    database = Database.open(url, key=key)
    schema.migrate(database)
    position = build.position_in(PositionStatus.OPEN, 1)
    made = build.orders_in_every_status(position.position_id)
    Repository(database).commit(
        StateBatch(
            orders=[build.record(o, position.position_id) for o in made], positions=[position]
        )
    )
    counts = row_counts(database)
    database.close()
    return counts


def test_migrate_creates_the_default_database_and_status_reports_it(tmp_path: Path) -> None:
    # Act
    migrated = ratchet("db", "migrate", cwd=tmp_path)
    again = ratchet("db", "migrate", cwd=tmp_path)
    status = ratchet("db", "status", cwd=tmp_path)

    # Assert
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == "sqlite:///state/ratchet.db: migrated empty -> v2"
    assert (tmp_path / "state" / "ratchet.db").is_file()
    assert again.returncode == 0
    assert "schema already at v2" in again.stdout
    assert status.returncode == 0, status.stderr
    assert "v2 (up to date)" in status.stdout
    assert "orders 0" in status.stdout


def test_the_url_can_come_from_the_environment(tmp_path: Path) -> None:
    # Act
    result = ratchet(
        "db", "migrate", cwd=tmp_path, env={"RATCHET_DB_URL": "sqlite:///elsewhere/x.db"}
    )

    # Assert
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere" / "x.db").is_file()


def test_a_bad_or_unsupported_url_exits_2_with_one_line(tmp_path: Path) -> None:
    # Act
    garbage = ratchet("db", "migrate", "--url", "not a url", cwd=tmp_path)
    mysql = ratchet("db", "status", "--url", "mysql://root:pw@localhost/x", cwd=tmp_path)

    # Assert
    assert garbage.returncode == 2
    assert "bad database URL" in one_line_error(garbage)
    assert mysql.returncode == 2
    assert "unsupported database URL scheme 'mysql'" in one_line_error(mysql)
    assert "pw" not in mysql.stderr


def test_status_of_a_missing_database_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    # Act
    result = ratchet("db", "status", "--url", "sqlite:///nothing/here.db", cwd=tmp_path)

    # Assert
    assert result.returncode == 2
    assert one_line_error(result) == "error: no database at nothing/here.db"
    assert not (tmp_path / "nothing").exists()


def test_an_unreachable_postgresql_server_exits_1_without_showing_the_password(
    tmp_path: Path,
) -> None:
    # Act
    result = ratchet("db", "status", "--url", "postgresql://me:hunter2@127.0.0.1:9/x", cwd=tmp_path)

    # Assert
    assert result.returncode == 1
    assert "cannot connect to postgresql+psycopg://me:***@127.0.0.1:9/x" in one_line_error(result)
    assert "hunter2" not in result.stderr


def test_encrypt_without_a_key_exits_2(tmp_path: Path, build: SimpleNamespace) -> None:
    # Arrange
    _with_rows(f"sqlite:///{tmp_path / 'plain.db'}", build)

    # Act
    result = ratchet("db", "encrypt", "--url", "sqlite:///plain.db", "--out", "x.db", cwd=tmp_path)

    # Assert
    assert result.returncode == 2
    assert "RATCHET_DB_KEY is not set" in one_line_error(result)
    assert not (tmp_path / "x.db").exists()


def test_encrypt_converts_a_plain_database_that_then_opens_only_with_the_key(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    expected = _with_rows(f"sqlite:///{tmp_path / 'plain.db'}", build)
    keyed = {"RATCHET_DB_KEY": KEY}

    # Act
    converted = ratchet(
        "db",
        "encrypt",
        "--url",
        "sqlite:///plain.db",
        "--out",
        "secret.db",
        cwd=tmp_path,
        env=keyed,
    )
    with_key = ratchet("db", "status", "--url", "sqlite:///secret.db", cwd=tmp_path, env=keyed)
    wrong_key = ratchet(
        "db", "status", "--url", "sqlite:///secret.db", cwd=tmp_path, env={"RATCHET_DB_KEY": "no"}
    )
    no_key = ratchet("db", "status", "--url", "sqlite:///secret.db", cwd=tmp_path)
    overwrite = ratchet(
        "db",
        "encrypt",
        "--url",
        "sqlite:///plain.db",
        "--out",
        "secret.db",
        cwd=tmp_path,
        env=keyed,
    )

    # Assert
    assert converted.returncode == 0, converted.stderr
    assert f"{sum(expected.values())} rows" in converted.stdout
    assert with_key.returncode == 0, with_key.stderr
    assert "SQLCipher (encrypted)" in with_key.stdout
    assert f"orders {expected['orders']}" in with_key.stdout
    assert wrong_key.returncode == 2
    assert one_line_error(wrong_key) == (
        "error: cannot open the database: wrong key or not a ratchet database"
    )
    assert no_key.returncode == 2
    assert "encrypted (set RATCHET_DB_KEY)" in one_line_error(no_key)
    assert overwrite.returncode == 2
    assert "refusing to overwrite" in one_line_error(overwrite)
    database = Database.open(f"sqlite:///{tmp_path / 'secret.db'}", key=KEY, create=False)
    assert row_counts(database) == expected
    database.close()


def test_status_and_migrate_refuse_a_newer_schema_with_exit_1(tmp_path: Path) -> None:
    # Arrange
    assert ratchet("db", "migrate", cwd=tmp_path).returncode == 0
    database = Database.open(f"sqlite:///{tmp_path / 'state' / 'ratchet.db'}")
    with database.write() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'v9'"))
    database.close()

    # Act
    status = ratchet("db", "status", cwd=tmp_path)
    migrate = ratchet("db", "migrate", cwd=tmp_path)

    # Assert
    for result in (status, migrate):
        assert result.returncode == 1
        assert one_line_error(result) == (
            "error: database schema is at revision v9, this ratchet knows up to v2; upgrade ratchet"
        )


def test_migrate_and_status_on_postgresql_by_url(tmp_path: Path, pg_database: str) -> None:
    # Act
    migrated = ratchet("db", "migrate", "--url", pg_database, cwd=tmp_path)
    status = ratchet("db", "status", "--url", pg_database, cwd=tmp_path)
    keyed = ratchet("db", "status", "--url", pg_database, cwd=tmp_path, env={"RATCHET_DB_KEY": KEY})

    # Assert
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated empty -> v2" in migrated.stdout
    assert status.returncode == 0, status.stderr
    assert "[postgresql]" in status.stdout
    assert "v2 (up to date)" in status.stdout
    password = Database.open(pg_database).url.password
    if password:
        assert str(password) not in migrated.stdout + status.stdout
    assert keyed.returncode == 2
    assert "encrypts SQLite files only" in one_line_error(keyed)
