"""The writer's hot path (``Repository.write_many`` on :mod:`ratchet.store.prepared`), on every
backend: values converted as SQLAlchemy converts them, refused ones refused with nothing
written, upserts and ignored duplicates as before."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from ratchet.domain.orders import Accepted, Submitted
from ratchet.domain.position import PositionStatus
from ratchet.ports import AuditEntry, SignalRecord, StateBatch, StopChange
from ratchet.store import codec, schema
from ratchet.store.codec import EncodedBatch
from ratchet.store.database import Database
from ratchet.store.errors import StoreError
from ratchet.store.prepared import PreparedInsert
from ratchet.store.repository import Repository
from ratchet.store.tables import (
    audit_log,
    fills,
    orders,
    position_sequences,
    positions,
    products,
    signals,
    stop_history,
)

TINY = Decimal("0.00005000")
HUGE = Decimal("123456789.123456789")
WRITTEN = (products, positions, position_sequences, orders, fills, stop_history, signals, audit_log)


@pytest.fixture
def database(store_target: Any) -> Iterator[Database]:
    """The target's database, at the newest schema."""
    opened = store_target.open()
    schema.ensure(opened, migrate_if_behind=True)
    yield opened
    opened.close()


@pytest.fixture
def repository(database: Database) -> Iterator[Repository]:
    """A repository that keeps its connection, as the store's writer thread does."""
    kept = Repository(database, keep_connection=True)
    yield kept
    kept.close()


def full_batch(build: SimpleNamespace, now: float = 1_767_225_600.5) -> EncodedBatch:
    """One decision's rows in every part: product, position, order, fill, stop, signal, audit."""
    position = build.position_in(PositionStatus.PENDING_ENTRY, 7)
    pid = position.position_id
    order = build.entry_order(pid, size=HUGE, limit_price=TINY)
    for event in (Submitted(), Accepted("ex-1"), build.fill("t-1", "0.00005000", price="0.05")):
        order.apply(event)
    return codec.encode_batch(
        StateBatch(
            orders=[build.record(order, pid)],
            positions=[position],
            stops=[StopChange(pid, now, TINY, None, order.client_order_id, "trail")],
            signals=[
                SignalRecord(
                    "ETH-BTC", 1_767_225_600, HUGE, 28.5, -0.1, 0.2, None, True, None, False, True
                )
            ],
            audit=[AuditEntry(now, "engine", "entry", pid, "placed")],
        ),
        now,
    )


def counts(database: Database) -> list[int]:
    """Rows in each table the writer writes."""
    with database.read() as connection:
        return [
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in WRITTEN
        ]


def raw(database: Database, table: Table) -> list[tuple[Any, ...]]:
    """A table's rows as the database holds them (money as text), without generated ids."""
    columns = ", ".join(c.name for c in table.columns if c.name != "id")
    order = ", ".join(c.name for c in table.primary_key.columns)
    with database.read() as connection:
        found = connection.exec_driver_sql(f"SELECT {columns} FROM {table.name} ORDER BY {order}")
        return [tuple(row) for row in found]


def with_value(rows: tuple[codec.Row, ...], column: str, value: Any) -> tuple[codec.Row, ...]:
    """``rows`` with ``column`` of the last row set to ``value``."""
    return (*rows[:-1], {**rows[-1], column: value})


@pytest.mark.parametrize(
    "bad", [0.00005, Decimal("NaN"), Decimal("-Infinity"), "0.00005", 5], ids=repr
)
def test_a_money_column_refuses_all_but_a_finite_decimal_and_the_whole_group_writes_nothing(
    database: Database, repository: Repository, build: SimpleNamespace, bad: Any
) -> None:
    # Arrange: a good batch, then one whose signal's close (the last money column written
    # before the audit rows) is bad: everything before it has been sent already
    good = full_batch(build)
    later = dataclasses.replace(good, signals=with_value(good.signals, "close", bad))

    # Act
    with pytest.raises(StoreError) as refused:
        repository.write_many([good, later])
    after = counts(database)
    repository.write_many([good])  # the kept connection is usable again

    # Assert
    assert str(refused.value) == (
        f"commit failed, nothing was written: money columns take finite Decimals only, got {bad!r}"
    )
    assert isinstance(refused.value.__cause__, StatementError)
    assert isinstance(refused.value.__cause__.orig, TypeError)
    assert after == [0] * len(WRITTEN)
    assert counts(database) == [1, 1, 1, 1, 1, 1, 1, 1]


def test_a_batch_comes_back_digit_for_digit(
    database: Database, repository: Repository, build: SimpleNamespace
) -> None:
    # Arrange
    batch = full_batch(build)

    # Act
    repository.write_many([batch])

    # Assert: the stored text is str(Decimal), and it reads back as the same Decimal
    [order] = raw(database, orders)
    assert order[orders.columns.keys().index("size")] == "123456789.123456789"
    assert order[orders.columns.keys().index("limit_price")] == "0.00005000"
    [stop] = raw(database, stop_history)
    assert stop[1:3] == (batch.stops[0]["time"], "0.00005000")
    [fill] = raw(database, fills)
    assert fill[2:5] == ("0.05", "0.00005000", "0.00000266")
    with database.read() as connection:
        back = connection.execute(select(orders.c.size, orders.c.limit_price)).one()
        close = connection.execute(select(signals.c.close)).scalar_one()
    assert (str(back.size), str(back.limit_price), str(close)) == (
        str(HUGE),
        "0.00005000",
        str(HUGE),
    )


def test_the_prepared_path_stores_what_sqlalchemy_execute_stores(
    database: Database, build: SimpleNamespace
) -> None:
    # Arrange: the same rows, once through Connection.execute and once prepared
    batch = full_batch(build)
    parts = [
        (products, batch.products),
        (positions, batch.positions),
        (orders, batch.orders),
        (fills, batch.fills),
        (stop_history, batch.stops),
        (signals, batch.signals),
        (audit_log, batch.audit),
    ]

    def write(prepared: bool) -> list[list[tuple[Any, ...]]]:
        with database.write() as connection:
            for table, rows in parts:
                if prepared:
                    PreparedInsert(table.insert(), database.engine.dialect).execute(
                        connection, rows
                    )
                else:
                    connection.execute(table.insert(), list(rows))
        stored = [raw(database, table) for table, _ in parts]
        with database.write() as connection:
            for table, _ in reversed(parts):
                connection.execute(delete(table))
        return stored

    # Act
    through_execute = write(prepared=False)
    through_prepared = write(prepared=True)

    # Assert: equal values, and on SQLite equal storage classes too (REAL stays REAL, ...)
    assert through_prepared == through_execute
    assert all(through_execute)
    if database.backend == "sqlite":
        with database.write() as connection:
            for table, rows in [
                *parts[:2],
                (orders, [*batch.orders, {**batch.orders[0], "client_order_id": "x"}]),
            ]:
                PreparedInsert(table.insert(), database.engine.dialect).execute(connection, rows)
            kinds = connection.execute(
                text("SELECT typeof(size), typeof(post_only), typeof(created_at) FROM orders")
            ).all()
        assert [tuple(k) for k in kinds] == [("text", "integer", "real")] * 2


def test_a_later_snapshot_replaces_the_order_and_position_but_keeps_their_creation_time(
    database: Database, repository: Repository, build: SimpleNamespace
) -> None:
    # Arrange
    first = full_batch(build, now=100.0)
    middle = dataclasses.replace(
        full_batch(build, now=200.0),
        orders=with_value(first.orders, "created_at", 200.0),
    )
    last = dataclasses.replace(
        full_batch(build, now=300.0),
        orders=({**first.orders[0], "created_at": 300.0, "updated_at": 301.0, "status": "FILLED"},),
    )

    # Act: one call, then two batches grouped in one
    repository.write_many([first])
    repository.write_many([middle, last])

    # Assert
    with database.read() as connection:
        order = connection.execute(
            select(orders.c.status, orders.c.created_at, orders.c.updated_at)
        ).one()
        position = connection.execute(select(positions.c.created_at, positions.c.updated_at)).one()
    assert tuple(order) == ("FILLED", first.orders[0]["created_at"], 301.0)
    assert tuple(position) == (100.0, 300.0)
    assert counts(database)[:5] == [1, 1, 1, 1, 1]


def test_a_fill_with_a_known_trade_id_is_ignored_within_a_group_and_later(
    database: Database, repository: Repository, build: SimpleNamespace
) -> None:
    # Arrange: the same trade id three times, the first with its true size
    batch = full_batch(build)
    again = dataclasses.replace(batch, fills=with_value(batch.fills, "size", Decimal("9")))

    # Act
    repository.write_many([batch, again])
    repository.write_many([again])

    # Assert
    assert [row[:4] for row in raw(database, fills)] == [
        ("t-1", batch.fills[0]["client_order_id"], "0.05", "0.00005000")
    ]


def test_committed_position_numbers_raise_the_counter_never_lower_it(
    repository: Repository, build: SimpleNamespace
) -> None:
    # Arrange: position 7 committed, then 3 (the counter stays at 7)
    seven = full_batch(build)
    three = build.position_in(PositionStatus.PENDING_ENTRY, 3)
    lower = codec.encode_batch(StateBatch(positions=[three]), 1.0)

    # Act
    repository.write_many([seven, lower])
    following = repository.next_position_sequence("ETH-BTC")

    # Assert
    assert following == 8


def test_a_constraint_failure_is_a_store_error_and_the_connection_recovers(
    database: Database, repository: Repository, build: SimpleNamespace
) -> None:
    # Arrange: the audit row is fine, the stop names a position nobody stored
    batch = full_batch(build)
    orphan = EncodedBatch(
        stops=with_value(batch.stops, "position_id", "ETH-BTC#000099"), audit=batch.audit
    )

    # Act
    with pytest.raises(StoreError, match=r"^commit failed, nothing was written: ") as failed:
        repository.write_many([orphan])
    after = counts(database)
    repository.write_many([batch])

    # Assert
    assert isinstance(failed.value.__cause__, IntegrityError)
    assert after == [0] * len(WRITTEN)
    assert counts(database) == [1, 1, 1, 1, 1, 1, 1, 1]


def test_a_dropped_postgresql_connection_fails_one_write_and_the_next_reconnects(
    pg_database: str, build: SimpleNamespace
) -> None:
    # Arrange: the writer's kept connection is killed by the server
    database = Database.open(pg_database)
    schema.ensure(database, migrate_if_behind=True)
    repository = Repository(database, keep_connection=True)
    repository.write_many([full_batch(build)])
    with database.engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        admin.commit()
    later = full_batch(build, now=2_000_000_000.0)

    # Act
    with pytest.raises(StoreError, match=r"^commit failed, nothing was written: ") as failed:
        repository.write_many([later])
    repository.write_many([later])
    repository.close()
    stored = counts(database)
    database.close()

    # Assert
    assert failed.value.__cause__ is not None
    assert getattr(failed.value.__cause__, "connection_invalidated", False)
    assert stored == [1, 1, 1, 1, 1, 2, 2, 2]
