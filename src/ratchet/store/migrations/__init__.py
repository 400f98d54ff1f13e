"""Alembic migrations of the state database (run programmatically by ``ratchet.store.schema``)."""
