"""Whether an operator has confirmed live trading on this database (kept in the audit log)."""

from __future__ import annotations

from sqlalchemy import select

from ratchet.ports import AuditEntry
from ratchet.store import codec
from ratchet.store.database import Database
from ratchet.store.tables import audit_log

LIVE_CONFIRMED = "live trading confirmed"


def live_confirmation(database: Database) -> AuditEntry | None:
    """The first audit entry confirming live trading, or None if nobody ever confirmed it."""
    query = (
        select(audit_log)
        .where(audit_log.c.action == LIVE_CONFIRMED)
        .order_by(audit_log.c.time, audit_log.c.id)
        .limit(1)
    )
    with database.read() as connection:
        row = connection.execute(query).mappings().first()
    return codec.audit_from_row(row) if row is not None else None
