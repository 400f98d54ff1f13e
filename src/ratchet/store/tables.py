"""The tables of the state database (SQLAlchemy 2 Core), as the newest migration leaves them.

Money is stored as exact decimal *text* (:class:`DecimalText`): ``str(Decimal)`` in,
``Decimal(text)`` out, so ``0.00005329`` and ``123456789.123456789`` come back digit for digit,
trailing zeros included. Never compare or add money columns in SQL (they are text there); do it
in Python. Times of records are float Unix seconds; candle starts and exchange times are integer
seconds; enums are stored by their ``value``.

The migrations under ``migrations/versions`` are the history and must end at exactly this
schema (a test compares them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = BigInteger().with_variant(Integer, "sqlite")  # an INTEGER PRIMARY KEY is SQLite's rowid
ORDER_ID = 64  # client / exchange order ids, trade ids
PAIR = 40


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal kept as its exact text; floats and non-finite values are refused."""

    impl = Text
    cache_ok = True

    @property
    def python_type(self) -> type[Decimal]:
        """Values of this column are Decimals."""
        return Decimal

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """``Decimal`` -> its exact text (``None`` stays NULL)."""
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"money columns take finite Decimals only, got {value!r}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Stored text -> the same ``Decimal``."""
        return None if value is None else Decimal(value)


def _money(name: str, *, nullable: bool = False) -> Column[Decimal]:
    return Column(name, DecimalText(), nullable=nullable)


products = Table(
    "products",
    metadata,
    Column("product_id", String(PAIR), primary_key=True),
    Column("base_currency", String(16), nullable=False),
    Column("quote_currency", String(16), nullable=False),
    _money("base_increment"),
    _money("price_increment"),
    _money("quote_increment"),
    _money("base_min_size"),
    _money("quote_min_size"),
    _money("base_max_size", nullable=True),
    Column("updated_at", Double(), nullable=False),
)

positions = Table(
    "positions",
    metadata,
    Column("position_id", String(ORDER_ID), primary_key=True),
    Column("pair", String(PAIR), ForeignKey("products.product_id"), nullable=False),
    Column("status", String(16), nullable=False),
    _money("trail_pct"),
    _money("min_step_pct"),
    _money("quantity"),
    _money("entry_size"),
    _money("entry_value"),
    _money("entry_fees"),
    _money("exit_size"),
    _money("exit_value"),
    _money("exit_fees"),
    _money("realized_pnl"),
    _money("high_water", nullable=True),
    _money("stop", nullable=True),
    Column("created_at", Double(), nullable=False),
    Column("updated_at", Double(), nullable=False),
    Index("ix_positions_status", "status"),
)

position_sequences = Table(
    "position_sequences",
    metadata,
    Column("pair", String(PAIR), primary_key=True),
    Column("last_sequence", Integer(), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("client_order_id", String(ORDER_ID), primary_key=True),
    Column("position_id", String(ORDER_ID), ForeignKey("positions.position_id"), nullable=False),
    Column("product_id", String(PAIR), nullable=False),
    Column("side", String(8), nullable=False),
    Column("order_type", String(16), nullable=False),
    _money("size"),
    _money("limit_price", nullable=True),
    _money("stop_price", nullable=True),
    Column("time_in_force", String(32), nullable=False),
    Column("end_time", BigInteger(), nullable=True),
    Column("post_only", Boolean(), nullable=False),
    Column("operator_command", String(32), nullable=True),
    Column("operator_actor", String(128), nullable=True),
    Column("operator_reason", Text(), nullable=True),
    Column("operator_requested_at", BigInteger(), nullable=True),
    Column("exchange_order_id", String(ORDER_ID), nullable=True),
    Column("status", String(20), nullable=False),
    _money("filled_size"),
    _money("filled_value"),
    _money("fees"),
    Column("reason", Text(), nullable=False),
    Column("created_at", Double(), nullable=False),
    Column("updated_at", Double(), nullable=False),
    Index("ix_orders_status", "status"),
    Index("ix_orders_position_id", "position_id"),
)

fills = Table(
    "fills",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("trade_id", String(ORDER_ID), nullable=False, unique=True),
    Column(
        "client_order_id",
        String(ORDER_ID),
        ForeignKey("orders.client_order_id"),
        nullable=False,
    ),
    _money("price"),
    _money("size"),
    _money("fee"),
    Column("liquidity", String(8), nullable=False),
    Column("time", BigInteger(), nullable=True),
    Index("ix_fills_client_order_id", "client_order_id"),
)

stop_history = Table(
    "stop_history",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("position_id", String(ORDER_ID), ForeignKey("positions.position_id"), nullable=False),
    Column("time", Double(), nullable=False),
    _money("desired"),
    _money("confirmed", nullable=True),
    Column("client_order_id", String(ORDER_ID), nullable=True),
    Column("reason", Text(), nullable=False),
    Index("ix_stop_history_position_id_time", "position_id", "time"),
)

signals = Table(
    "signals",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("pair", String(PAIR), nullable=False),
    Column("start", BigInteger(), nullable=False),
    _money("close"),
    Column("rsi", Double(), nullable=True),
    Column("macd", Double(), nullable=True),
    Column("macd_signal", Double(), nullable=True),
    Column("vwap", Double(), nullable=True),
    Column("rsi_ok", Boolean(), nullable=True),
    Column("macd_ok", Boolean(), nullable=True),
    Column("vwap_ok", Boolean(), nullable=True),
    Column("enter", Boolean(), nullable=False),
    Index("ix_signals_pair_start", "pair", "start"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("time", Double(), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("detail", Text(), nullable=False),
    Index("ix_audit_log_time", "time"),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text(), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", Double(), nullable=False),
)

DATA_TABLES = (
    products,
    positions,
    position_sequences,
    orders,
    fills,
    stop_history,
    signals,
    audit_log,
    users,
)
"""Every table that holds data, parents before children (the order to copy or count them)."""
