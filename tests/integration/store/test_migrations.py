"""Migrations on every backend: up from empty, v1 data kept through v2, newer/unknown refused."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from ratchet.domain.position import PositionStatus
from ratchet.ports import AuditEntry, SignalRecord, StateBatch, StopChange
from ratchet.store import schema
from ratchet.store.errors import SchemaError
from ratchet.store.repository import Repository
from ratchet.store.sql_store import SqlStore
from ratchet.store.tables import DATA_TABLES, metadata, users

V2_INDICES = {
    "ix_orders_status",
    "ix_orders_position_id",
    "ix_positions_status",
    "ix_fills_client_order_id",
    "ix_stop_history_position_id_time",
    "ix_signals_pair_start",
    "ix_audit_log_time",
}


def _indices(connection: Any) -> set[str]:
    inspector = inspect(connection)
    return {
        index["name"]
        for table in inspector.get_table_names()
        for index in inspector.get_indexes(table)
        if index["name"]
    }


def _counts(database: Any) -> dict[str, int]:
    with database.read() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in DATA_TABLES
        }


def _stamp(database: Any, revision: str) -> None:
    with database.write() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_migrating_an_empty_database_creates_every_table_and_index(store_target: Any) -> None:
    # Arrange
    database = store_target.open()

    # Act
    before, after = schema.migrate(database)

    # Assert
    with database.read() as connection:
        tables = set(inspect(connection).get_table_names())
        indices = _indices(connection)
    database.close()
    assert (before, after) == (None, "v2")
    assert {table.name for table in DATA_TABLES} | {"alembic_version"} <= tables
    assert indices >= V2_INDICES


def test_the_newest_migration_ends_exactly_at_the_tables_module(store_target: Any) -> None:
    # Arrange
    database = store_target.open()
    schema.migrate(database)

    # Act
    with database.read() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    database.close()

    # Assert
    assert differences == []


def test_a_v1_database_with_rows_keeps_every_row_when_upgraded_to_v2(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange: a v1 schema (no indices yet) holding a bit of everything
    database = store_target.open()
    schema.migrate(database, "v1")
    open_position = build.position_in(PositionStatus.OPEN, 1)
    closed_position = build.position_in(PositionStatus.CLOSED, 2)
    pid = open_position.position_id
    orders = [build.record(order, pid) for order in build.orders_in_every_status(pid)]
    batch = StateBatch(
        orders=orders,
        positions=[open_position, closed_position],
        stops=[StopChange(pid, 10.5, Decimal("0.05970363"), None, orders[2].order.client_order_id)],
        signals=[
            SignalRecord(
                "ETH-BTC",
                1_767_225_600,
                Decimal("0.05"),
                28.5,
                None,
                None,
                None,
                True,
                None,
                False,
                True,
            )
        ],
        audit=[AuditEntry(11.0, "alice", "force-exit", pid, "maintenance")],
    )
    Repository(database).commit(batch)
    Repository(database).next_position_sequence("ETH-BTC")
    with database.write() as connection:
        connection.execute(
            users.insert().values(
                username="alice", password_hash="$argon2id$...", role="admin", created_at=1.0
            )
        )
    with database.read() as connection:
        assert not V2_INDICES & _indices(connection)
    rows_before = _counts(database)

    # Act
    before, after = schema.migrate(database)

    # Assert
    rows_after = _counts(database)
    with database.read() as connection:
        indices = _indices(connection)
    database.close()
    assert (before, after) == ("v1", "v2")
    assert rows_after == rows_before
    assert all(rows_before[table.name] > 0 for table in DATA_TABLES)
    assert indices >= V2_INDICES


def test_a_database_at_a_newer_revision_is_refused_with_upgrade_advice(store_target: Any) -> None:
    # Arrange
    database = store_target.open()
    schema.migrate(database)
    _stamp(database, "v3")

    # Act
    with pytest.raises(SchemaError) as refused:
        schema.status(database)
    database.close()

    # Assert
    assert str(refused.value) == (
        "database schema is at revision v3, this ratchet knows up to v2; upgrade ratchet"
    )


def test_a_database_at_an_unknown_revision_is_refused(store_target: Any) -> None:
    # Arrange
    database = store_target.open()
    schema.migrate(database)
    _stamp(database, "3f2a9c1b7d4e")

    # Act
    with pytest.raises(SchemaError) as refused:
        schema.migrate(database)
    database.close()

    # Assert
    assert "unknown revision '3f2a9c1b7d4e'" in str(refused.value)
    assert "v1, v2" in str(refused.value)


async def test_the_store_does_not_start_on_a_newer_schema(store_target: Any) -> None:
    # Arrange
    database = store_target.open()
    schema.migrate(database)
    _stamp(database, "v7")
    database.close()

    # Act
    with pytest.raises(SchemaError) as refused:
        await SqlStore.open(store_target.url, key=store_target.key)

    # Assert
    assert "at revision v7, this ratchet knows up to v2; upgrade ratchet" in str(refused.value)


async def test_the_store_migrates_an_older_schema_only_when_allowed(store_target: Any) -> None:
    # Arrange
    database = store_target.open()
    schema.migrate(database, "v1")
    database.close()

    # Act
    with pytest.raises(SchemaError) as refused:
        await SqlStore.open(store_target.url, key=store_target.key, migrate=False)
    store = await SqlStore.open(store_target.url, key=store_target.key, migrate=True)
    await store.close()

    # Assert
    assert "run `ratchet db migrate`" in str(refused.value)
    reopened = store_target.open()
    assert schema.status(reopened).up_to_date
    reopened.close()


def test_migrating_down_is_refused(store_target: Any) -> None:
    # Arrange
    database = store_target.open()
    schema.migrate(database)

    # Act
    with pytest.raises(SchemaError) as refused:
        schema.migrate(database, "v1")
    database.close()

    # Assert
    assert "never migrates down" in str(refused.value)


def test_tables_without_a_revision_are_not_taken_for_a_ratchet_database(
    store_target: Any,
) -> None:
    # Arrange
    database = store_target.open()
    with database.write() as connection:
        connection.execute(text("CREATE TABLE somebody_elses (id INTEGER PRIMARY KEY)"))

    # Act
    with pytest.raises(SchemaError) as refused:
        schema.migrate(database)
    database.close()

    # Assert
    assert "not a ratchet database" in str(refused.value)
