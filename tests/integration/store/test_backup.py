"""``ratchet db backup``: an online backup of SQLite and SQLCipher files while a writer commits.

Consistency is checked through the writer itself: every commit puts one position, its order and
one audit entry numbered 0, 1, 2, ... in ONE transaction, so a consistent copy holds the entries
0..k-1 with no gap and exactly k positions and k orders of the writer — a torn copy would not.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from ratchet.domain.orders import Submitted
from ratchet.domain.position import PositionStatus
from ratchet.ports import AuditEntry, StateBatch
from ratchet.store import schema
from ratchet.store.backup import backup_database
from ratchet.store.database import Database
from ratchet.store.encrypt import row_counts
from ratchet.store.errors import StoreConfigError
from ratchet.store.repository import Repository
from ratchet.store.tables import audit_log

KEY = "a key for the backup tests"
WRITER = "backup-writer"
MIN_CONCURRENT_COMMITS = 40


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


def _commit_step(repository: Repository, build: SimpleNamespace, i: int) -> None:
    """One transaction: a new position, its entry order and audit entry number ``i``."""
    seq = repository.next_position_sequence("ETH-BTC")
    position = build.position_in(PositionStatus.PENDING_ENTRY, seq)
    order = build.entry_order(position.position_id)
    order.apply(Submitted())
    repository.commit(
        StateBatch(
            orders=[build.record(order, position.position_id)],
            positions=[position],
            audit=[AuditEntry(float(i), WRITER, "write", position.position_id)],
        )
    )


class Writer(threading.Thread):
    """Commits steps until told to stop; counts them."""

    def __init__(self, url: str, key: str | None, build: SimpleNamespace) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.build = url, key, build
        self.commits = 0
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            database = Database.open(self.url, key=self.key)
            repository = Repository(database)
            while not self.stop.is_set():
                _commit_step(repository, self.build, self.commits)
                self.commits += 1
            database.close()
        except BaseException as exc:
            self.errors.append(exc)


def _new_database(url: str, key: str | None, build: SimpleNamespace, steps: int = 20) -> None:
    database = Database.open(url, key=key)
    schema.migrate(database)
    repository = Repository(database)
    for i in range(steps):
        _commit_step(repository, build, -1 - i)  # negative numbers: not the writer's
    database.close()


def _writer_entries(database: Database) -> list[int]:
    with database.read() as connection:
        rows = connection.execute(
            select(audit_log.c.time).where(audit_log.c.actor == WRITER, audit_log.c.time >= 0)
        )
        return sorted(int(row[0]) for row in rows)


@pytest.mark.parametrize("key", [None, KEY], ids=["sqlite", "sqlcipher"])
def test_backups_taken_while_a_writer_commits_are_consistent_and_open(
    tmp_path: Path, build: SimpleNamespace, key: str | None
) -> None:
    # Arrange
    url = f"sqlite:///{tmp_path / 'state' / 'ratchet.db'}"
    _new_database(url, key, build)
    writer = Writer(url, key, build)
    writer.start()
    while writer.commits < 5 and writer.is_alive():
        time.sleep(0.01)
    first_commit = writer.commits

    # Act: back up again and again while the writer goes on
    reports = []
    overlapped = 0  # backups during which the writer committed
    deadline = time.monotonic() + 60
    while len(reports) < 3 or writer.commits - first_commit < MIN_CONCURRENT_COMMITS:
        assert time.monotonic() < deadline, "the writer made too few commits"
        before = writer.commits
        reports.append(backup_database(url, tmp_path / f"backup-{len(reports)}.db", key))
        overlapped += writer.commits > before
    writer.stop.set()
    writer.join(timeout=30)

    # Assert
    assert writer.errors == []
    assert writer.commits - first_commit >= MIN_CONCURRENT_COMMITS
    assert overlapped >= 1, "no commit landed while a backup ran"
    source = Database.open(url, key=key, create=False)
    final = row_counts(source)
    source.close()
    for report in reports:
        copy = Database.open(f"sqlite:///{report.out}", key=key, create=False)
        try:
            assert schema.migrate(copy) == ("v2", "v2")  # opens, known schema, nothing to do
            entries = _writer_entries(copy)
            counts = row_counts(copy)
        finally:
            copy.close()
        assert report.integrity == "ok"
        assert report.revision == "v2"
        assert counts == report.counts
        assert entries == list(range(len(entries)))  # a prefix of the commits, no gap
        assert counts["positions"] == counts["orders"] == 20 + len(entries)
        assert counts["audit_log"] <= final["audit_log"]
        assert report.out.stat().st_size == report.size
        assert stat.S_IMODE(report.out.stat().st_mode) == 0o600
    assert reports[-1].counts["audit_log"] > reports[0].counts["audit_log"]
    assert final["audit_log"] > reports[0].counts["audit_log"]
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert left == sorted(f"backup-{n}.db" for n in range(len(reports)))  # no -wal, no partial


def test_an_encrypted_backup_opens_with_the_key_only(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    url = f"sqlite:///{tmp_path / 'ratchet.db'}"
    _new_database(url, KEY, build)
    out = tmp_path / "copy.db"

    # Act
    report = backup_database(url, out, KEY)

    # Assert
    assert report.encrypted
    raw = out.read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    assert b"ETH-BTC" not in raw
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(out).execute("SELECT count(*) FROM sqlite_master").fetchone()
    with pytest.raises(StoreConfigError, match="encrypted"):
        Database.open(f"sqlite:///{out}", create=False)
    with pytest.raises(StoreConfigError, match="wrong key"):
        Database.open(f"sqlite:///{out}", key="not the key", create=False)
    copy = Database.open(f"sqlite:///{out}", key=KEY, create=False)
    assert row_counts(copy) == report.counts
    assert report.counts["positions"] == 20
    copy.close()


def test_the_command_backs_up_and_prints_the_verification(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    db = tmp_path / "ratchet.db"
    _new_database(f"sqlite:///{db}", None, build, steps=3)

    # Act
    result = ratchet("db", "backup", "copy.db", "--url", f"sqlite:///{db}", cwd=tmp_path)

    # Assert
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"backed up sqlite:///{db} -> copy.db [SQLite]")
    assert "schema    v2" in lines
    assert "integrity ok" in lines
    assert "positions 3" in lines[-1] and "orders 3" in lines[-1]
    assert "audit_log 3" in lines[-1] and lines[-1].endswith("(equal to the source)")
    copy = Database.open(f"sqlite:///{tmp_path / 'copy.db'}", create=False)
    assert row_counts(copy)["positions"] == 3
    copy.close()


def test_the_command_uses_the_key_from_the_environment(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    db = tmp_path / "ratchet.db"
    _new_database(f"sqlite:///{db}", KEY, build, steps=2)
    url = f"sqlite:///{db}"

    # Act
    keyed = ratchet(
        "db", "backup", "copy.db", "--url", url, cwd=tmp_path, env={"RATCHET_DB_KEY": KEY}
    )
    unkeyed = ratchet("db", "backup", "other.db", "--url", url, cwd=tmp_path)
    status = ratchet(
        "db", "status", "--url", "sqlite:///copy.db", cwd=tmp_path, env={"RATCHET_DB_KEY": KEY}
    )

    # Assert
    assert keyed.returncode == 0, keyed.stderr
    assert "[SQLCipher, same key]" in keyed.stdout
    assert unkeyed.returncode == 2
    assert "encrypted (set RATCHET_DB_KEY)" in one_line_error(unkeyed)
    assert not (tmp_path / "other.db").exists()
    assert status.returncode == 0, status.stderr
    assert "SQLCipher (encrypted)" in status.stdout and "positions 2" in status.stdout


def test_an_existing_file_is_never_overwritten_without_force(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    db = tmp_path / "ratchet.db"
    _new_database(f"sqlite:///{db}", None, build, steps=2)
    out = tmp_path / "precious.db"
    out.write_bytes(b"yesterday's backup")
    (tmp_path / "precious.db-wal").write_bytes(b"its stale WAL")
    url = f"sqlite:///{db}"

    # Act
    refused = ratchet("db", "backup", str(out), "--url", url, cwd=tmp_path)
    kept = out.read_bytes()
    forced = ratchet("db", "backup", str(out), "--url", url, "--force", cwd=tmp_path)

    # Assert
    assert refused.returncode == 2
    assert "exists; refusing to overwrite it (--force replaces it)" in one_line_error(refused)
    assert kept == b"yesterday's backup"
    assert forced.returncode == 0, forced.stderr
    assert not (tmp_path / "precious.db-wal").exists()
    copy = Database.open(f"sqlite:///{out}", create=False)
    assert row_counts(copy)["positions"] == 2
    copy.close()


@pytest.mark.parametrize(
    ("out", "url", "message"),
    [
        ("missing/copy.db", None, "the folder missing does not exist"),
        (".", None, "is a folder"),
        ("ratchet.db", None, "is the database itself"),
        ("copy.db", "sqlite:///nowhere.db", "no database at nowhere.db"),
        ("copy.db", "sqlite://", "in-memory database"),
        ("copy.db", "postgresql+psycopg://ratchet@127.0.0.1:1/ratchet", "pg_dump"),
        ("copy.db", "mysql://x@y/z", "unsupported database URL scheme"),
    ],
    ids=["no-folder", "a-folder", "the-source", "no-source", "memory", "postgresql", "mysql"],
)
def test_bad_paths_and_urls_are_one_line_errors_with_exit_code_2(
    tmp_path: Path, build: SimpleNamespace, out: str, url: str | None, message: str
) -> None:
    # Arrange
    _new_database(f"sqlite:///{tmp_path / 'ratchet.db'}", None, build, steps=1)
    before = sorted(p.name for p in tmp_path.iterdir())

    # Act
    result = ratchet("db", "backup", out, "--url", url or "sqlite:///ratchet.db", cwd=tmp_path)

    # Assert
    assert result.returncode == 2
    assert message in one_line_error(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
