"""``EngineLock``: one engine per database, and a way for commands to know whether one runs.

An advisory, non-blocking ``flock`` on a file derived from the database URL:

=========================================  ==================================================
database URL                               lock file
=========================================  ==================================================
``sqlite:///PATH``                         ``PATH.lock``
``postgresql+psycopg://.../NAME``          ``state/engine-NAME.lock`` (working directory)
``sqlite://`` (in memory)                  none: a private database has nobody to exclude
=========================================  ==================================================

The holder writes ``{"pid", "started_at", "web_url"}`` to ``<lock file>.json`` (owner-only)
and removes it on release. The kernel drops the lock when its process ends, even by SIGKILL,
so a JSON file left behind by a crash never blocks anyone: only the ``flock`` counts.

For PostgreSQL the file excludes processes on this machine only (sharing a working
directory); engines on several machines sharing one database need the per-pair lease of the
design (a PostgreSQL advisory lock), which this is not.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from ratchet.store.database import parse_url

INFO_WAIT = 0.5  # how long a lock found held may go without its JSON before we give up waiting


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """Who holds the lock: its process id, when it started (Unix seconds), its web API."""

    pid: int
    started_at: float
    web_url: str | None = None

    def describe(self) -> str:
        """``pid 123, since 2024-05-01 12:00:00 UTC, web API at http://...`` (one line)."""
        since = datetime.fromtimestamp(self.started_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        web = f"web API at {self.web_url}" if self.web_url else "no web API"
        return f"pid {self.pid}, since {since}, {web}"


class EngineRunning(Exception):
    """Another process holds the lock; ``info`` is what it wrote (None if unreadable)."""

    def __init__(self, info: EngineInfo | None, path: Path) -> None:
        who = info.describe() if info else f"its holder wrote nothing to {info_path(path)}"
        super().__init__(f"an engine is running ({who}); lock {path}")
        self.info = info
        self.path = path


def lock_path(db_url: str) -> Path | None:
    """The lock file of the database at ``db_url`` (None: an in-memory database).

    Raises:
        StoreConfigError: not a supported database URL.
    """
    url = parse_url(db_url)
    if url.drivername == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        database = Path(str(url.database)).absolute()
        return database.with_name(database.name + ".lock")
    name = url.database or "postgres"
    return Path("state", f"engine-{name}.lock").absolute()


def info_path(lock: Path) -> Path:
    """Where the holder of ``lock`` writes its :class:`EngineInfo`."""
    return lock.with_name(lock.name + ".json")


class EngineLock:
    """The held lock of one database; release it (or leave the ``with`` block) when done."""

    def __init__(self, path: Path | None, fd: int | None, info: EngineInfo) -> None:
        self.path = path
        self.info = info
        self._fd = fd

    def __repr__(self) -> str:
        state = "held" if self._fd is not None else "released"
        return f"EngineLock({self.path}, {state})"

    @classmethod
    def acquire(cls, db_url: str, web_url: str | None = None) -> EngineLock:
        """Take the lock of ``db_url`` at once, or raise.

        Raises:
            EngineRunning: another process (or another lock in this one) holds it.
            StoreConfigError: not a supported database URL.
        """
        info = EngineInfo(os.getpid(), time.time(), web_url)
        path = lock_path(db_url)
        if path is None:
            return cls(None, None, info)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            taken, holder = _take(fd, fcntl.LOCK_EX, path)
            if not taken:
                raise EngineRunning(holder, path)
            _write_info(info_path(path), info)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, info)

    @staticmethod
    def read_holder(db_url: str) -> EngineInfo | None:
        """Who holds the lock of ``db_url`` now (None: nobody; pid 0: a holder that wrote
        nothing readable yet)."""
        path = lock_path(db_url)
        if path is None or not path.exists():
            return None
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            taken, holder = _take(fd, fcntl.LOCK_SH, path)
            if taken:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
            return holder or EngineInfo(0, 0.0)
        finally:
            os.close(fd)

    def release(self) -> None:
        """Remove the JSON and let go of the lock (the lock file stays: others may have it
        open, and a new file would split them onto two locks)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        assert self.path is not None
        with contextlib.suppress(FileNotFoundError):
            info_path(self.path).unlink()
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def publish(self, web_url: str) -> None:
        """Tell other processes where this engine's web API is (rewrites the holder JSON)."""
        self.info = EngineInfo(self.info.pid, self.info.started_at, web_url)
        if self.path is not None and self._fd is not None:
            _write_info(info_path(self.path), self.info)

    def __enter__(self) -> EngineLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _take(fd: int, mode: int, lock: Path) -> tuple[bool, EngineInfo | None]:
    """Take the lock (``mode``) at once, or find who holds it: (taken, the holder's info).

    A holder that has just taken the lock gets a moment to write its info (meanwhile the
    lock is tried again, in case it comes free); after that the info is None."""
    deadline = time.monotonic() + INFO_WAIT
    while True:
        if _try_lock(fd, mode):
            return True, None
        info = _read_info(info_path(lock))
        if info is not None and _alive(info.pid):
            return False, info
        if time.monotonic() >= deadline:
            return False, None
        time.sleep(0.02)


def _read_info(path: Path) -> EngineInfo | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        web_url = data.get("web_url")
        return EngineInfo(
            int(data["pid"]),
            float(data["started_at"]),
            str(web_url) if web_url else None,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_info(path: Path, info: EngineInfo) -> None:
    """Write the JSON owner-only, atomically (a reader never sees half of it)."""
    temporary = path.with_name(f"{path.name}.{info.pid}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(asdict(info), file)
    temporary.replace(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
