"""SQLCipher: no plaintext on disk, a clear error for a wrong key, plain databases converted."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ratchet.domain.position import PositionStatus
from ratchet.ports import AuditEntry, StateBatch
from ratchet.store import schema
from ratchet.store.database import Database
from ratchet.store.encrypt import encrypt_database, row_counts
from ratchet.store.errors import StoreConfigError
from ratchet.store.repository import Repository
from ratchet.store.sql_store import SqlStore

WRONG_KEY = "cannot open the database: wrong key or not a ratchet database"


def _fill_database(database: Database, build: SimpleNamespace) -> str:
    """Migrate and write a position with its orders; return a distinctive client_order_id."""
    schema.migrate(database)
    position = build.position_in(PositionStatus.OPEN, 1)
    made = build.orders_in_every_status(position.position_id)
    Repository(database).commit(
        StateBatch(
            orders=[build.record(o, position.position_id) for o in made],
            positions=[position],
            audit=[AuditEntry(1.0, "alice", "force-exit", position.position_id, "SECRET-DETAIL")],
        )
    )
    return str(made[0].client_order_id)


def _raw(path: Path) -> bytes:
    return b"".join(file.read_bytes() for file in (path, Path(f"{path}-wal")) if file.exists())


async def test_an_encrypted_database_holds_no_plaintext(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    path = tmp_path / "secret.db"
    store = await SqlStore.open(f"sqlite:///{path}", key=build.TEST_KEY)
    position = build.position_in(PositionStatus.OPEN, 1)
    order = build.entry_order(position.position_id, 777)

    # Act: check the file (and its WAL) while the store is still open, and after closing it
    await store.commit(
        StateBatch(orders=[build.record(order, position.position_id)], positions=[position])
    )
    while_open = _raw(path)
    await store.close()
    after_close = _raw(path)

    # Assert
    distinctive = order.client_order_id.encode()
    for raw in (while_open, after_close):
        assert len(raw) > 4096
        assert distinctive not in raw
        assert b"SQLite format 3" not in raw
        assert b"ETH-BTC" not in raw
        assert b"CREATE TABLE" not in raw


def test_the_same_data_in_a_plain_database_is_readable_on_disk(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange (the control for the test above: the search would find it)
    path = tmp_path / "plain.db"
    database = Database.open(f"sqlite:///{path}")

    # Act
    distinctive = _fill_database(database, build)
    database.close()

    # Assert
    raw = _raw(path)
    assert raw.startswith(b"SQLite format 3")
    assert distinctive.encode() in raw


def test_a_wrong_key_gives_a_clear_error_and_leaves_the_database_intact(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    url = f"sqlite:///{tmp_path / 'secret.db'}"
    database = Database.open(url, key=build.TEST_KEY)
    _fill_database(database, build)
    expected = row_counts(database)
    database.close()

    # Act
    with pytest.raises(StoreConfigError) as wrong:
        Database.open(url, key="not the key")
    with pytest.raises(StoreConfigError) as missing:
        Database.open(url)
    reopened = Database.open(url, key=build.TEST_KEY)

    # Assert
    assert str(wrong.value) == WRONG_KEY
    assert "encrypted (set RATCHET_DB_KEY)" in str(missing.value)
    assert row_counts(reopened) == expected
    assert schema.status(reopened).up_to_date
    reopened.close()


def test_a_key_on_a_plain_database_is_refused_not_applied(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    path = tmp_path / "plain.db"
    database = Database.open(f"sqlite:///{path}")
    _fill_database(database, build)
    database.close()
    before = path.read_bytes()

    # Act
    with pytest.raises(StoreConfigError) as refused:
        Database.open(f"sqlite:///{path}", key=build.TEST_KEY)

    # Assert
    assert str(refused.value) == WRONG_KEY
    assert path.read_bytes() == before


def test_encrypting_a_plain_database_keeps_every_row(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    source = tmp_path / "plain.db"
    database = Database.open(f"sqlite:///{source}")
    distinctive = _fill_database(database, build)
    expected = row_counts(database)
    database.close()
    out = tmp_path / "encrypted.db"

    # Act
    counts = encrypt_database(source, out, build.TEST_KEY)

    # Assert
    encrypted = Database.open(f"sqlite:///{out}", key=build.TEST_KEY, create=False)
    assert row_counts(encrypted) == counts == expected
    assert schema.status(encrypted).up_to_date
    encrypted.close()
    assert distinctive.encode() not in _raw(out)
    assert b"SQLite format 3" not in _raw(out)


def test_encrypting_refuses_to_overwrite_or_to_read_an_encrypted_source(
    tmp_path: Path, build: SimpleNamespace
) -> None:
    # Arrange
    source = tmp_path / "secret.db"
    database = Database.open(f"sqlite:///{source}", key=build.TEST_KEY)
    _fill_database(database, build)
    database.close()
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"keep me")

    # Act
    with pytest.raises(StoreConfigError) as overwrite:
        encrypt_database(source, existing, build.TEST_KEY)
    with pytest.raises(StoreConfigError) as encrypted_source:
        encrypt_database(source, tmp_path / "out.db", build.TEST_KEY)

    # Assert
    assert "refusing to overwrite" in str(overwrite.value)
    assert existing.read_bytes() == b"keep me"
    assert "encrypted" in str(encrypted_source.value)
    assert not (tmp_path / "out.db").exists()
