"""v1: the core tables (products, positions, orders, fills, stops, signals, audit, users).

Revision ID: v1
Revises: (none)

Frozen history: this file spells its tables out instead of importing ``tables.py``, so later
changes there never rewrite what v1 was. Money columns are exact decimal text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v1"
down_revision: str | None = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _money(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def upgrade() -> None:
    """Create the core tables."""
    op.create_table(
        "products",
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("base_currency", sa.String(16), nullable=False),
        sa.Column("quote_currency", sa.String(16), nullable=False),
        _money("base_increment"),
        _money("price_increment"),
        _money("quote_increment"),
        _money("base_min_size"),
        _money("quote_min_size"),
        _money("base_max_size", nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", name="pk_products"),
    )
    op.create_table(
        "positions",
        sa.Column("position_id", sa.String(64), nullable=False),
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
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
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("position_id", name="pk_positions"),
        sa.ForeignKeyConstraint(
            ["pair"], ["products.product_id"], name="fk_positions_pair_products"
        ),
    )
    op.create_table(
        "position_sequences",
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pair", name="pk_position_sequences"),
    )
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("position_id", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        _money("size"),
        _money("limit_price", nullable=True),
        _money("stop_price", nullable=True),
        sa.Column("time_in_force", sa.String(32), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("operator_command", sa.String(32), nullable=True),
        sa.Column("operator_actor", sa.String(128), nullable=True),
        sa.Column("operator_reason", sa.Text(), nullable=True),
        sa.Column("operator_requested_at", sa.BigInteger(), nullable=True),
        sa.Column("exchange_order_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        _money("filled_size"),
        _money("filled_value"),
        _money("fees"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_orders"),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.position_id"], name="fk_orders_position_id_positions"
        ),
    )
    op.create_table(
        "fills",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("trade_id", sa.String(64), nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        _money("price"),
        _money("size"),
        _money("fee"),
        sa.Column("liquidity", sa.String(8), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_fills"),
        sa.UniqueConstraint("trade_id", name="uq_fills_trade_id"),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name="fk_fills_client_order_id_orders",
        ),
    )
    op.create_table(
        "stop_history",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("position_id", sa.String(64), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        _money("desired"),
        _money("confirmed", nullable=True),
        sa.Column("client_order_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stop_history"),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.position_id"],
            name="fk_stop_history_position_id_positions",
        ),
    )
    op.create_table(
        "signals",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        _money("close"),
        sa.Column("rsi", sa.Double(), nullable=True),
        sa.Column("macd", sa.Double(), nullable=True),
        sa.Column("macd_signal", sa.Double(), nullable=True),
        sa.Column("vwap", sa.Double(), nullable=True),
        sa.Column("rsi_ok", sa.Boolean(), nullable=True),
        sa.Column("macd_ok", sa.Boolean(), nullable=True),
        sa.Column("vwap_ok", sa.Boolean(), nullable=True),
        sa.Column("enter", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signals"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_table(
        "users",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )


def downgrade() -> None:
    """Drop the core tables (children first)."""
    for table in (
        "users",
        "audit_log",
        "signals",
        "stop_history",
        "fills",
        "orders",
        "position_sequences",
        "positions",
        "products",
    ):
        op.drop_table(table)
