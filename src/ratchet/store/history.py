"""``DatabaseHistory``: the :class:`~ratchet.ports.History` port over the state database.

Each read is one read transaction on a worker thread, so the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio

from ratchet.domain.position import Position
from ratchet.ports import History, OrderRecord, StopChange
from ratchet.store import queries
from ratchet.store.database import Database


class DatabaseHistory:
    """Closed positions, a position's orders and its stop moves, read from ``database``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"DatabaseHistory({self.database!r})"

    async def closed_positions(self) -> list[Position]:
        """Every position that is over, oldest first."""
        return await asyncio.to_thread(queries.closed_positions, self.database)

    async def orders_of(self, position_id: str) -> list[OrderRecord]:
        """The position's orders, oldest first."""
        records = await asyncio.to_thread(
            queries.list_orders, self.database, position_id=position_id
        )
        return records[::-1]

    async def stop_changes(self, position_id: str) -> list[StopChange]:
        """The position's stop moves, oldest first."""
        return await asyncio.to_thread(queries.stop_changes, self.database, position_id)


def _implements_the_port(history: DatabaseHistory) -> History:
    return history
