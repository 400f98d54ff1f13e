"""InvariantChecker: every committed batch (and, optionally, the traders) against the rules.

The rules themselves live in :mod:`.order_rules` and :mod:`.position_rules`; the checker runs
them in a fixed order over one batch, keeps the :class:`~.memory.Memory` they share, and
collects (or, when strict, raises) what broke.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderSide
from ratchet.engine.invariants.memory import Memory, is_decimal
from ratchet.engine.invariants.order_rules import check_fill, check_order
from ratchet.engine.invariants.position_rules import (
    check_one_per_pair,
    check_position,
    check_sells_within_holdings,
    check_stop_change,
    check_trader,
)
from ratchet.engine.invariants.violation import InvariantViolation, Violation
from ratchet.ports import StateBatch, StoredState

if TYPE_CHECKING:
    from ratchet.engine.pair_trader import PairTrader


class InvariantChecker:
    """Checks every committed batch (and the traders) against the rules of the package docstring.

    ``violations`` collects every rule broken so far; ``strict=True`` raises
    :class:`InvariantViolation` at the first step that breaks one instead.
    """

    def __init__(self, products: Mapping[str, Product], *, strict: bool = False) -> None:
        self.products = dict(products)
        self.strict = strict
        self.violations: list[Violation] = []
        self.batches = 0
        self._memory = Memory()

    def __repr__(self) -> str:
        return (
            f"InvariantChecker(batches={self.batches}, orders={len(self._memory.orders)}, "
            f"violations={len(self.violations)})"
        )

    def learn(self, state: StoredState) -> None:
        """Take stored state as already checked (a restart): remember it, check nothing."""
        self._memory.learn(state)

    def check(self, batch: StateBatch) -> list[Violation]:
        """Check one batch (before it is written) and remember its state; return what broke."""
        memory = self._memory
        found: list[Violation] = []
        self.batches += 1
        # the batch is one atomic step: what its entry filled counts for all of it
        for position in batch.positions:
            seen = memory.position(position.position_id, position.pair)
            if is_decimal(position.entry_size):
                seen.entry_filled = max(seen.entry_filled, position.entry_size)
        for record in batch.orders:
            order = record.order
            if order.side is OrderSide.BUY and is_decimal(order.filled_size):
                seen = memory.position(record.position_id, order.product_id)
                seen.entry_filled = max(seen.entry_filled, order.filled_size)
        for record in batch.orders:
            check_order(memory, self.products, record, found)
        for cid, fill in batch.fills:
            check_fill(memory, cid, fill, found)
        for position in batch.positions:
            check_position(memory, position, found)
        for change in batch.stops:
            check_stop_change(memory, change, found)
        check_one_per_pair(memory, batch, found)
        check_sells_within_holdings(memory, batch, found)
        return self._report(found)

    def check_traders(self, traders: Iterable[PairTrader]) -> list[Violation]:
        """Check the traders' live state against what was committed."""
        found: list[Violation] = []
        for trader in traders:
            check_trader(self._memory, trader, found)
        return self._report(found)

    def _report(self, found: list[Violation]) -> list[Violation]:
        self.violations.extend(found)
        if found and self.strict:
            raise InvariantViolation(found)
        return found
