"""CheckingStore: any Store, with every committed batch checked by an InvariantChecker first."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ratchet.domain.money import Product
from ratchet.engine.invariants.checker import InvariantChecker
from ratchet.engine.invariants.violation import Violation
from ratchet.ports import StateBatch, Store, StoredState

if TYPE_CHECKING:
    from ratchet.engine.pair_trader import PairTrader


class CheckingStore:
    """A :class:`~ratchet.ports.Store` that checks every batch before handing it to ``inner``.

    ``traders`` (optional) are checked after each commit too. The batch is always written
    (unless ``strict`` raised): a campaign collects every violation and reports them at the end.
    """

    def __init__(
        self,
        inner: Store,
        traders: Mapping[str, PairTrader] | None = None,
        *,
        products: Mapping[str, Product] | None = None,
        strict: bool = False,
    ) -> None:
        self.inner = inner
        self.traders = dict(traders or {})
        known = dict(products or {})
        known.update({pair: trader.product for pair, trader in self.traders.items()})
        self.checker = InvariantChecker(known, strict=strict)

    def __repr__(self) -> str:
        return f"CheckingStore({self.inner!r}, {self.checker!r})"

    @property
    def violations(self) -> list[Violation]:
        """Every rule broken so far."""
        return self.checker.violations

    async def commit(self, batch: StateBatch) -> None:
        """Check the batch (and the traders), then write it."""
        self._check(batch)
        await self.inner.commit(batch)

    def submit(self, batch: StateBatch, *, urgent: bool = True) -> asyncio.Future[None]:
        """Check the batch (and the traders) now, then queue its write."""
        self._check(batch)
        return self.inner.submit(batch, urgent=urgent)

    def _check(self, batch: StateBatch) -> None:
        # the batch holds live objects: check them now, as the decision left them
        self.checker.check(batch)
        self.checker.check_traders(self.traders.values())

    async def load(self, products: dict[str, Product]) -> StoredState:
        """Load from ``inner`` and remember it as checked."""
        state = await self.inner.load(products)
        self.checker.products.update(products)
        self.checker.learn(state)
        return state

    async def next_position_sequence(self, pair: str) -> int:
        """Delegated."""
        return await self.inner.next_position_sequence(pair)

    async def close(self) -> None:
        """Delegated."""
        await self.inner.close()
