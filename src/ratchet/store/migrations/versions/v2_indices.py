"""v2: the indices the engine and the command line read by.

Revision ID: v2
Revises: v1
"""

from __future__ import annotations

from alembic import op

revision = "v2"
down_revision = "v1"
branch_labels = None
depends_on = None

INDICES = (
    ("ix_orders_status", "orders", ["status"]),
    ("ix_orders_position_id", "orders", ["position_id"]),
    ("ix_positions_status", "positions", ["status"]),
    ("ix_fills_client_order_id", "fills", ["client_order_id"]),
    ("ix_stop_history_position_id_time", "stop_history", ["position_id", "time"]),
    ("ix_signals_pair_start", "signals", ["pair", "start"]),
    ("ix_audit_log_time", "audit_log", ["time"]),
)


def upgrade() -> None:
    """Create the indices."""
    for name, table, columns in INDICES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Drop the indices."""
    for name, table, _ in reversed(INDICES):
        op.drop_index(name, table_name=table)
