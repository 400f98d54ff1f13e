"""``SqlStore``: the engine's ``Store`` port on SQL, with all disk work on one writer thread.

Never block the loop: each call snapshots its input on the caller's thread (cheap: rows of
plain values), then awaits the dedicated writer thread, which owns the database. The thread is
the one writer of this process; writes from other processes (a command while the engine runs)
queue on SQLite's busy timeout behind ``BEGIN IMMEDIATE`` or on PostgreSQL's row locks.

A commit that was called completes even if the awaiting task is cancelled (the job on the
writer thread is shielded): the batch is wholly written or, on an error, not at all.

Group commit: batches queue in order, and the writer takes every batch waiting when it comes
round and writes them in one transaction (in order: the same as one after the other), so a
burst of small batches costs one transaction, not one each. When that transaction fails, each
batch is tried again alone, so a bad batch fails only its own caller. A batch that nothing
waits for (``urgent=False``: no command depends on it) may wait up to ``GROUP_WINDOW`` seconds
for company; an urgent one goes at once and takes everything queued before it along.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from ratchet.domain.money import Product
from ratchet.ports import StateBatch, Store, StoredState
from ratchet.store import schema
from ratchet.store.codec import EncodedBatch, encode_batch
from ratchet.store.database import Database, Synchronous
from ratchet.store.errors import StoreError
from ratchet.store.repository import Repository

T = TypeVar("T")
GROUP_WINDOW = 0.05
"""Seconds a write that nothing waits for may wait for others to share its transaction."""


class SqlStore:
    """The durable :class:`~ratchet.ports.Store` on SQLite, SQLCipher or PostgreSQL.

    Open it with :meth:`open` (which checks, and if allowed migrates, the schema); every
    method is one transaction on the writer thread; :meth:`close` waits for the writes queued.
    """

    def __init__(
        self,
        repository: Repository,
        executor: ThreadPoolExecutor,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repository = repository
        self._executor = executor
        self._clock = clock
        self._closed = False
        self._queued: deque[tuple[EncodedBatch, Future[None]]] = deque()
        self._queue_lock = threading.Lock()
        self._drain_queued = False  # a drain job is on the writer thread's queue
        self._later: asyncio.TimerHandle | None = None  # the drain of the non-urgent ones
        self.groups = 0  # transactions the queued batches were written in

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        key: str | None = None,
        migrate: bool = True,
        synchronous: Synchronous = "NORMAL",
        clock: Callable[[], float] = time.time,
    ) -> SqlStore:
        """Open the database at ``url`` on a new writer thread and check its schema.

        Raises:
            StoreConfigError: bad URL, wrong key, ... (see :meth:`Database.open`).
            SchemaError: a newer or unknown schema, or one behind while ``migrate`` is False.
        """
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ratchet-store")

        def start() -> Repository:
            database = Database.open(url, key=key, synchronous=synchronous)
            try:
                schema.ensure(database, migrate_if_behind=migrate)
            except BaseException:
                database.close()
                raise
            return Repository(database, clock=clock, keep_connection=True)

        try:
            repository = await asyncio.get_running_loop().run_in_executor(executor, start)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(repository, executor, clock=clock)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"SqlStore({self.repository.database!r}, {state})"

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        """Run ``work`` on the writer thread; once queued it runs even if the caller is
        cancelled (shielded), so a cancelled commit is still wholly written or wholly not."""
        if self._closed:
            raise StoreError("the store is closed")
        job = self._executor.submit(work, *args)
        return await asyncio.shield(asyncio.wrap_future(job))

    # -- the Store port -------------------------------------------------------------------------
    async def commit(self, batch: StateBatch) -> None:
        """Write ``batch`` in one transaction (snapshotted now, written on the writer thread)."""
        if batch:
            await asyncio.shield(self.submit(batch))

    def submit(self, batch: StateBatch, *, urgent: bool = True) -> asyncio.Future[None]:
        """Snapshot ``batch`` now; write it on the writer thread after every earlier write
        (with the batches queued beside it, in one transaction). Not ``urgent``: it may wait
        up to :data:`GROUP_WINDOW` for others."""
        if self._closed:
            raise StoreError("the store is closed")
        encoded = encode_batch(batch, self._clock())
        written: Future[None] = Future()
        with self._queue_lock:
            self._queued.append((encoded, written))
            waiting = self._drain_queued
        if urgent:
            self._start_drain()
        elif not waiting and self._later is None:
            self._later = asyncio.get_running_loop().call_later(GROUP_WINDOW, self._start_drain)
        return asyncio.wrap_future(written)

    def _start_drain(self) -> None:
        """Put a drain job on the writer thread's queue, unless one is there already."""
        if self._later is not None:
            self._later.cancel()
            self._later = None
        with self._queue_lock:
            start = bool(self._queued) and not self._drain_queued
            self._drain_queued = self._drain_queued or start
        if start:
            self._executor.submit(self._drain)

    def _drain(self) -> None:
        """On the writer thread: write every batch queued so far, in one transaction."""
        with self._queue_lock:
            taken = list(self._queued)
            self._queued.clear()
            self._drain_queued = False
        # a write cancelled before it started is not written (as an executor job would not be)
        group = [(rows, done) for rows, done in taken if done.set_running_or_notify_cancel()]
        if not group:
            return
        self.groups += 1
        try:
            self.repository.write_many([rows for rows, _ in group])
        except Exception as exc:
            if len(group) == 1:
                group[0][1].set_exception(exc)
            else:
                self._write_alone(group)
            return
        except BaseException as exc:  # the thread is going down: nobody may wait forever
            for _, done in group:
                done.set_exception(exc)
            raise
        for _, done in group:
            done.set_result(None)

    def _write_alone(self, group: list[tuple[EncodedBatch, Future[None]]]) -> None:
        """After a group failed: each batch on its own, so that only a bad one fails."""
        for rows, done in group:
            try:
                self.repository.write(rows)
            except Exception as exc:
                done.set_exception(exc)
            else:
                done.set_result(None)

    async def load(self, products: dict[str, Product]) -> StoredState:
        """What a restart hydrates (see :meth:`Repository.load`)."""
        return await self._run(self.repository.load, dict(products))

    async def next_position_sequence(self, pair: str) -> int:
        """The next position number of ``pair``, durable and monotonic across restarts."""
        return await self._run(self.repository.next_position_sequence, pair)

    def _shut(self) -> None:
        self.repository.close()
        self.repository.database.close()

    async def close(self) -> None:
        """Finish the queued writes, close the database and stop the writer thread."""
        if self._closed:
            return
        self._start_drain()  # what waits for company goes now, before the database closes
        await self._run(self._shut)
        self._closed = True
        self._executor.shutdown(wait=True)


if TYPE_CHECKING:

    def _implements_the_port(store: SqlStore) -> Store:
        return store  # mypy checks here that SqlStore matches the Store Protocol
