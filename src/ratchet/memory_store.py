"""``MemoryStore``: the Store port kept in memory — for tests and throw-away paper runs.

It keeps the same promises as the SQL store (one batch at a time, a fill stored once per
trade id, positions and orders upserted by id) without durability.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses

from ratchet.domain.money import Product
from ratchet.domain.orders import Fill
from ratchet.domain.position import Position
from ratchet.ports import AuditEntry, OrderRecord, SignalRecord, StateBatch, StopChange, StoredState


class MemoryStore:
    """Everything committed, in memory (copies, so later changes do not leak in)."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderRecord] = {}
        self.positions: dict[str, Position] = {}
        self.fills: dict[str, tuple[str, Fill]] = {}
        self.stops: list[StopChange] = []
        self.signals: list[SignalRecord] = []
        self.audit: list[AuditEntry] = []
        self.commits = 0
        self._sequences: dict[str, int] = {}
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MemoryStore(orders={len(self.orders)}, positions={len(self.positions)})"

    async def commit(self, batch: StateBatch) -> None:
        """Apply one batch atomically (nothing else runs in between)."""
        async with self._lock:
            self._apply(batch)

    def submit(self, batch: StateBatch, *, urgent: bool = True) -> asyncio.Future[None]:
        """Apply one batch now (in memory there is nothing to wait for)."""
        self._apply(batch)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def _apply(self, batch: StateBatch) -> None:
        for record in batch.orders:
            kept = copy.deepcopy(record)
            earlier = self.orders.get(record.order.client_order_id)
            if earlier is not None:  # as the SQL store does: created_at stays the first one's
                kept = dataclasses.replace(kept, created_at=earlier.created_at)
            self.orders[record.order.client_order_id] = kept
        for position in batch.positions:
            self.positions[position.position_id] = copy.deepcopy(position)
        for client_order_id, fill in batch.fills:
            self.fills.setdefault(fill.trade_id, (client_order_id, fill))
        self.stops.extend(batch.stops)
        self.signals.extend(batch.signals)
        self.audit.extend(batch.audit)
        self.commits += 1

    async def load(self, products: dict[str, Product]) -> StoredState:
        """Positions not final, their orders and the non-terminal ones."""
        open_positions = tuple(p for p in self.positions.values() if not p.status.is_final)
        ids = {p.position_id for p in open_positions}
        orders = tuple(
            r for r in self.orders.values() if r.position_id in ids or not r.order.is_done
        )
        sequences: dict[str, int] = {}
        for position_id in self.positions:
            pair, _, seq = position_id.partition("#")
            sequences[pair] = max(sequences.get(pair, 0), int(seq))
        return StoredState(open_positions, orders, sequences)

    async def next_position_sequence(self, pair: str) -> int:
        """A new, never repeated sequence number for the pair."""
        self._sequences[pair] = self._sequences.get(pair, 0) + 1
        return self._sequences[pair]

    async def close(self) -> None:
        """Nothing to release."""
