"""Money columns: exact decimal text in, the same Decimal out, floats refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Dialect
from sqlalchemy.dialects import postgresql, sqlite

from ratchet.store.tables import DATA_TABLES, DecimalText, metadata

DIALECTS = [sqlite.dialect(), postgresql.dialect()]


@pytest.mark.parametrize("dialect", DIALECTS, ids=["sqlite", "postgresql"])
@pytest.mark.parametrize(
    "text", ["0.00005329", "123456789.123456789", "1.10", "0E-9", "-42", "1E+3", "5.329E-12"]
)
def test_a_decimal_survives_the_column_digit_for_digit(dialect: Dialect, text: str) -> None:
    # Arrange
    column = DecimalText()
    value = Decimal(text)

    # Act
    stored = column.process_bind_param(value, dialect)
    back = column.process_result_value(stored, dialect)

    # Assert
    assert isinstance(stored, str)
    assert str(back) == str(value)
    assert back is not None and back.as_tuple() == value.as_tuple()


@pytest.mark.parametrize("bad", [0.1, 1, "0.1", Decimal("NaN"), Decimal("Infinity")])
def test_a_money_column_refuses_anything_but_a_finite_decimal(bad: object) -> None:
    # Act / Assert
    with pytest.raises(TypeError, match="finite Decimals only"):
        DecimalText().process_bind_param(bad, sqlite.dialect())


def test_null_stays_null() -> None:
    # Act / Assert
    assert DecimalText().process_bind_param(None, sqlite.dialect()) is None
    assert DecimalText().process_result_value(None, sqlite.dialect()) is None


def test_every_data_table_is_in_the_metadata_with_users_for_the_web_login() -> None:
    # Act
    names = {table.name for table in DATA_TABLES}

    # Assert
    assert names == set(metadata.tables)
    assert {"products", "positions", "orders", "fills", "stop_history", "signals"} <= names
    assert {"audit_log", "users"} <= names
    assert metadata.tables["fills"].c.trade_id.unique
    assert metadata.tables["users"].c.username.unique
