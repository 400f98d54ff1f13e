"""Database URLs and keys: what is accepted, normalised, or refused with a clear message."""

from __future__ import annotations

import pytest

from ratchet.store.database import Database, parse_url, quote_literal
from ratchet.store.errors import StoreConfigError, one_line


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///state/ratchet.db", "sqlite"),
        ("sqlite+pysqlite:////var/lib/ratchet/ratchet.db", "sqlite"),
        ("sqlite://", "sqlite"),
        ("postgresql://u:p@db:5432/ratchet", "postgresql+psycopg"),
        ("postgresql+psycopg://u:p@db/ratchet", "postgresql+psycopg"),
        ("postgres://u@db/ratchet", "postgresql+psycopg"),
    ],
)
def test_supported_urls_are_normalised_to_their_driver(given: str, driver: str) -> None:
    # Act
    url = parse_url(given)

    # Assert
    assert url.drivername == driver


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("state/ratchet.db", "bad database URL"),
        ("", "bad database URL"),
        ("mysql://root@localhost/ratchet", "unsupported database URL scheme 'mysql'"),
        ("postgresql+psycopg2://u@db/x", "unsupported database URL scheme"),
        ("sqlite+pysqlcipher://:key@/x.db", "unsupported database URL scheme"),
    ],
)
def test_other_urls_are_refused_as_bad_input(given: str, message: str) -> None:
    # Act / Assert
    with pytest.raises(StoreConfigError, match=message):
        parse_url(given)


def test_a_key_for_postgresql_or_an_empty_key_is_refused() -> None:
    # Act / Assert
    with pytest.raises(StoreConfigError, match="encrypts SQLite files only"):
        Database.open("postgresql+psycopg://u@127.0.0.1:9/x", key="secret")
    with pytest.raises(StoreConfigError, match="key is empty"):
        Database.open("sqlite://", key="")


def test_a_key_is_quoted_as_one_sql_literal() -> None:
    # Act / Assert
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("'; DROP TABLE orders; --") == "'''; DROP TABLE orders; --'"
    with pytest.raises(StoreConfigError):
        quote_literal("nul\x00byte")


def test_an_in_memory_database_opens_for_quick_use() -> None:
    # Act
    database = Database.open("sqlite://")

    # Assert
    assert database.path is None
    assert database.backend == "sqlite"
    assert repr(database) == "Database(sqlite://, sqlite, plain)"
    database.close()


def test_an_error_is_reported_by_its_first_line() -> None:
    # Act / Assert
    assert one_line(ValueError("first\nsecond")) == "first"
    assert one_line(ValueError("")) == "ValueError"
