"""Alembic environment: runs on the connection that ``ratchet.store.schema`` hands over.

There is no ``alembic.ini``: the caller builds the Config, opens the (possibly encrypted)
database itself and passes its connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ratchet.store.tables import metadata


def run_migrations() -> None:
    """Run the migrations asked for on the caller's connection (online mode only)."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("ratchet migrations run through ratchet.store.schema, not alembic's CLI")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
