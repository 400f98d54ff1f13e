"""EngineLock: one holder per database, its info readable by others, freed when it dies."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratchet.store.lock import EngineLock, EngineRunning, info_path, lock_path

HOLDER = """
import sys
from ratchet.store.lock import EngineLock
lock = EngineLock.acquire(sys.argv[1], web_url=sys.argv[2] or None)
print("holding", flush=True)
sys.stdin.read()
lock.release()
"""


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'ratchet.db'}"


@pytest.fixture
def holder(url: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of ``url`` (web API at http://127.0.0.1:9)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, "http://127.0.0.1:9"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "holding"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


@pytest.mark.parametrize(
    ("db_url", "expected"),
    [
        ("sqlite:////srv/ratchet/state.db", Path("/srv/ratchet/state.db.lock")),
        ("sqlite:///state/paper.db", Path("state/paper.db.lock").absolute()),
        ("postgresql+psycopg://bot@db:5432/trading", Path("state/engine-trading.lock").absolute()),
        ("postgresql://bot@db/live", Path("state/engine-live.lock").absolute()),
        ("sqlite://", None),
    ],
)
def test_the_lock_file_is_derived_from_the_database_url(db_url: str, expected: Path | None) -> None:
    assert lock_path(db_url) == expected


def test_the_holder_writes_who_it_is_owner_only_and_removes_it_on_release(url: str) -> None:
    lock = EngineLock.acquire(url, web_url="http://127.0.0.1:8080")
    assert lock.path is not None
    written = info_path(lock.path)

    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    data = json.loads(written.read_text())
    assert data["pid"] == os.getpid()
    assert data["web_url"] == "http://127.0.0.1:8080"
    holder = EngineLock.read_holder(url)
    assert holder is not None
    assert (holder.pid, holder.web_url) == (os.getpid(), "http://127.0.0.1:8080")

    lock.release()
    assert not written.exists()
    assert EngineLock.read_holder(url) is None


def test_a_second_acquire_is_refused_with_the_holders_info(url: str) -> None:
    with EngineLock.acquire(url), pytest.raises(EngineRunning) as refused:
        EngineLock.acquire(url)

    assert refused.value.info is not None
    assert refused.value.info.pid == os.getpid()
    assert f"pid {os.getpid()}" in str(refused.value)
    with EngineLock.acquire(url) as again:  # released by the with block: free again
        assert again.info.pid == os.getpid()


def test_another_process_holding_the_lock_is_seen_and_refuses_us(
    url: str, holder: subprocess.Popen[str]
) -> None:
    seen = EngineLock.read_holder(url)
    assert seen is not None
    assert (seen.pid, seen.web_url) == (holder.pid, "http://127.0.0.1:9")

    with pytest.raises(EngineRunning) as refused:
        EngineLock.acquire(url)
    assert refused.value.info == seen

    assert holder.stdin is not None
    holder.stdin.close()  # the holder releases and exits
    assert holder.wait(timeout=10) == 0
    assert EngineLock.read_holder(url) is None


def test_a_killed_holder_leaves_a_stale_file_that_blocks_nobody(
    url: str, holder: subprocess.Popen[str]
) -> None:
    path = lock_path(url)
    assert path is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert info_path(path).exists()  # it had no chance to clean up

    assert EngineLock.read_holder(url) is None
    with EngineLock.acquire(url, web_url=None) as lock:
        data = json.loads(info_path(path).read_text())
        assert data == {"pid": os.getpid(), "started_at": lock.info.started_at, "web_url": None}


def test_an_in_memory_database_needs_no_lock() -> None:
    with EngineLock.acquire("sqlite://") as first, EngineLock.acquire("sqlite://") as second:
        assert first.path is None and second.path is None
    assert EngineLock.read_holder("sqlite://") is None
