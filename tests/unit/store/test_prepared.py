"""PreparedInsert takes only statements its rows feed whole (it sends nothing else)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.exc import ArgumentError
from sqlalchemy.sql.dml import Insert

from ratchet.store.database import Database
from ratchet.store.prepared import PreparedInsert
from ratchet.store.tables import audit_log

ROW = {"time": 1.0, "actor": "alice", "action": "pause", "subject": "ETH-BTC", "detail": ""}


@pytest.fixture
def database() -> Iterator[Database]:
    """A private in-memory SQLite database (no tables: nothing here gets that far)."""
    opened = Database.open("sqlite://")
    yield opened
    opened.close()


@pytest.mark.parametrize(
    "statement",
    [
        audit_log.insert().returning(audit_log.c.id),
        audit_log.insert().values(actor="engine"),
    ],
    ids=["returning", "bound literal"],
)
def test_a_statement_needing_more_than_its_rows_is_refused(
    database: Database, statement: Insert
) -> None:
    # Arrange
    prepared = PreparedInsert(statement, database.engine.dialect)
    row = {k: v for k, v in ROW.items() if k != "actor"}

    # Act / Assert
    with database.write() as connection, pytest.raises(ArgumentError, match="audit_log"):
        prepared.execute(connection, [row])


def test_no_rows_send_nothing(database: Database) -> None:
    # Arrange: the table does not exist, so any statement sent would fail
    prepared = PreparedInsert(audit_log.insert(), database.engine.dialect)

    # Act / Assert
    with database.write() as connection:
        prepared.execute(connection, [])
