"""One WAL SQLite file under many writers and readers, and an event loop that never waits."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from ratchet.domain.orders import Submitted
from ratchet.domain.position import PositionStatus
from ratchet.ports import AuditEntry, StateBatch
from ratchet.store import queries, schema
from ratchet.store.database import Database
from ratchet.store.repository import Repository
from ratchet.store.sql_store import SqlStore
from ratchet.store.tables import audit_log, fills, orders, positions

COMMITS = 120  # per writer
THREAD_WRITERS = 4
PROCESS_WRITERS = 2

# A writer in another process, through the async store (its own writer thread).
PROCESS_WRITER = """
import asyncio, sys
from decimal import Decimal
from ratchet.domain.ids import ClientOrderId, OrderRole, position_id
from ratchet.domain.money import Product
from ratchet.domain.orders import Fill, Order, OrderSide, OrderType, Submitted
from ratchet.domain.position import Position, TrailPolicy
from ratchet.ports import AuditEntry, OrderRecord, StateBatch
from ratchet.store.sql_store import SqlStore

url, name, commits = sys.argv[1], sys.argv[2], int(sys.argv[3])
product = Product("ETH-BTC", Decimal("0.00000001"), Decimal("0.00000001"), Decimal("0.0001"))

async def main():
    store = await SqlStore.open(url)
    numbers = []
    for i in range(commits):
        seq = await store.next_position_sequence("ETH-BTC")
        numbers.append(seq)
        pid = position_id("ETH-BTC", seq)
        position = Position(pid, product, TrailPolicy(Decimal("2")))
        order = Order(str(ClientOrderId("rt", pid, OrderRole.ENTRY, 1)), "ETH-BTC",
                      OrderSide.BUY, OrderType.LIMIT, Decimal("1"), Decimal("0.05"))
        order.apply(Submitted())
        order.apply(Fill(f"{name}-{i}", Decimal("0.05"), Decimal("0.5")))
        await store.commit(StateBatch(
            orders=[OrderRecord(order, pid, 1.0, 1.0)], positions=[position],
            audit=[AuditEntry(float(i), name, "write", pid)]))
        if i % 10 == 0:
            await store.load({})
    await store.close()
    print(" ".join(map(str, numbers)))

asyncio.run(main())
"""


def _thread_writer(
    url: str, name: str, build: SimpleNamespace, numbers: list[int], errors: list[BaseException]
) -> None:
    """Commit COMMITS batches through an engine of its own (like a second process would)."""
    try:
        database = Database.open(url)
        repository = Repository(database)
        for i in range(COMMITS):
            seq = repository.next_position_sequence("ETH-BTC")
            numbers.append(seq)
            position = build.position_in(PositionStatus.PENDING_ENTRY, seq)
            order = build.entry_order(position.position_id)
            order.apply(Submitted())
            order.apply(build.fill(f"{name}-{i}", "0.5"))
            repository.commit(
                StateBatch(
                    orders=[build.record(order, position.position_id)],
                    positions=[position],
                    audit=[AuditEntry(float(i), name, "write", position.position_id)],
                )
            )
        database.close()
    except BaseException as exc:
        errors.append(exc)


def _reader(url: str, done: threading.Event, reads: list[int], errors: list[BaseException]) -> None:
    """Load the state and list orders over and over while the writers run."""
    try:
        database = Database.open(url)
        repository = Repository(database)
        while not done.is_set():
            repository.load({})
            queries.list_orders(database, limit=20)
            reads.append(1)
        database.close()
    except BaseException as exc:
        errors.append(exc)


def test_many_writers_and_readers_on_one_wal_file_never_lock_out_or_lose_a_row(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    url = f"sqlite:///{tmp_path / 'hammer.db'}"
    database = Database.open(url)
    schema.migrate(database)
    errors: list[BaseException] = []
    numbers: list[int] = []
    reads: list[int] = []
    done = threading.Event()
    writers = [
        threading.Thread(target=_thread_writer, args=(url, f"thread{n}", build, numbers, errors))
        for n in range(THREAD_WRITERS)
    ]
    readers = [threading.Thread(target=_reader, args=(url, done, reads, errors)) for _ in range(2)]

    # Act
    children = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_WRITER, url, f"process{n}", str(COMMITS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESS_WRITERS)
    ]
    for thread in [*writers, *readers]:
        thread.start()
    for thread in writers:
        thread.join(timeout=300)
    outputs = [child.communicate(timeout=300) for child in children]
    done.set()
    for thread in readers:
        thread.join(timeout=60)

    # Assert
    assert errors == []
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert "locked" not in err
        numbers.extend(int(n) for n in out.split())
    writes = (THREAD_WRITERS + PROCESS_WRITERS) * COMMITS
    assert sorted(numbers) == list(range(1, writes + 1))  # no number given twice
    with database.read() as connection:
        counts = [
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (positions, orders, fills, audit_log)
        ]
    database.close()
    assert counts == [writes] * 4
    assert reads


async def test_commits_do_not_block_the_event_loop(
    tmp_path: Path, build: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    # Arrange: a ticker that wants to run every millisecond
    store = await SqlStore.open(f"sqlite:///{tmp_path / 'lag.db'}")
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    await store.commit(StateBatch(positions=[position]))
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - started - 0.001)

    task = asyncio.create_task(ticker())
    batches = 600

    # Act: one commit per order transition, as the engine makes them
    for n in range(batches):
        order = build.entry_order(position.position_id, n + 1)
        order.apply(Submitted())
        trade = build.fill(f"lag-{n}", "1")
        order.apply(trade)
        await store.commit(
            StateBatch(
                orders=[build.record(order, position.position_id)],
                fills=[(order.client_order_id, trade)],
            )
        )
    stop.set()
    await task
    await store.close()

    # Assert
    worst = max(lags)
    with capsys.disabled():
        print(
            f"\n  event loop lag during {batches} commits: max {worst * 1000:.1f} ms, "
            f"p99 {statistics.quantiles(lags, n=100)[98] * 1000:.2f} ms, "
            f"mean {statistics.fmean(lags) * 1000:.2f} ms over {len(lags)} ticks"
        )
    assert len(lags) > batches / 4  # the ticker really ran while the commits went on
    assert worst < 0.05


def test_position_numbers_stay_unique_when_several_instances_take_them_at_once(
    store_target: Any,
) -> None:
    # Arrange: four engines (own connections each) on one database, any backend
    database = store_target.open()
    schema.migrate(database)
    database.close()
    taken: list[int] = []
    errors: list[BaseException] = []

    def take() -> None:
        try:
            own = store_target.open()
            repository = Repository(own)
            taken.extend(repository.next_position_sequence("ETH-BTC") for _ in range(25))
            repository.close()
            own.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(4)]

    # Act
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Assert
    assert errors == []
    assert sorted(taken) == list(range(1, 101))


async def test_a_cancelled_commit_is_still_written_whole(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange: two commits queued on the writer thread, the second one waiting its turn
    store = await SqlStore.open(f"sqlite:///{tmp_path / 'cancel.db'}")
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    first = build.entry_order(position.position_id, 1)
    second = build.entry_order(position.position_id, 2)
    running = asyncio.create_task(
        store.commit(
            StateBatch(orders=[build.record(first, position.position_id)], positions=[position])
        )
    )
    waiting = asyncio.create_task(
        store.commit(StateBatch(orders=[build.record(second, position.position_id)]))
    )
    await asyncio.sleep(0)

    # Act
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await running
    state = await store.load(build.PRODUCTS)
    await store.close()

    # Assert
    assert {r.order.client_order_id for r in state.orders} == {
        first.client_order_id,
        second.client_order_id,
    }
