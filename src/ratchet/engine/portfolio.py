"""``Portfolio``: the whole book's side of trading, shared by every pair of a :class:`Runtime`.

Before every entry it asks the risk gate, one entry at a time (so parallel entries cannot
over-allocate), with the quote balance free on the exchange less the budgets reserved for
entries still being placed; it frees a budget once its entry is done. One balance read serves
every entry asked for before that read started (at a candle close, 100 pairs' entries cost two
reads, not 100): it is as fresh as a read of their own, and what was approved since is in the
reservations. It tells the protections
about closed positions, and computes the portfolio metrics (deployed capital, P&L,
concentration, exposure, drift). The emergency liquidation latch (:class:`RiskWatch`) lives
here too: once it is set, no entry is approved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal

from ratchet.domain.metrics import ClosedTally, PortfolioMetrics, portfolio_metrics
from ratchet.domain.money import ZERO
from ratchet.domain.position import PositionStatus
from ratchet.domain.protections import Protections
from ratchet.domain.risk import Exposure, GateVerdict, RiskGate
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.risk_watch import RiskWatch
from ratchet.engine.run_history import RunHistory
from ratchet.ports import AuditEntry, Exchange, StateBatch

log = logging.getLogger("ratchet.engine")


class Portfolio:
    """The gate, the reservations, the protections' notes and the metrics of all pairs."""

    def __init__(
        self,
        gate: RiskGate,
        protections: Protections,
        *,
        quote_currency: str,
        traders: Mapping[str, PairTrader],
        exchange: Exchange,
        history: RunHistory,
        last_prices: Mapping[str, Decimal],
        now: Callable[[], float],
    ) -> None:
        self.gate = gate
        self.protections = protections
        self.quote_currency = quote_currency
        self.risk = RiskWatch(gate)
        self.reserved: dict[str, Decimal] = {}
        self.available: Decimal | None = None  # free quote currency at the last balance read
        self._traders = traders
        self._exchange = exchange
        self._history = history
        self._last_prices = last_prices
        self._now = now
        self._operator_entries: set[str] = set()  # budgets reserved for queued operator entries
        self._gate_lock = asyncio.Lock()
        self._read_started = float("-inf")  # when the balance read behind ``available`` began

    async def approve_entry(self, trader: PairTrader) -> m.EngineEvent:
        """Ask the risk gate (serialised, so parallel entries cannot over-allocate)."""
        asked_at = time.monotonic()
        async with self._gate_lock:
            blocked = self.protections.entry_block(self._now())
            if self.risk.liquidated:
                blocked = "emergency liquidation: no new entries until the engine is restarted"
            if blocked:
                log.info("entry held back", extra={"pair": trader.pair, "reason": blocked})
                return m.EntryDenied(blocked)
            verdict = await self._gate_verdict(trader.pair, asked_at)
            if not verdict.approved:
                return m.EntryDenied(verdict.reason)
            self.reserved[trader.pair] = verdict.budget
            return m.EntryApproved(verdict.budget)

    async def reserve_entry(self, pair: str, cost: Decimal) -> str:
        """Reserve ``cost`` for an operator's entry if the risk gate allows it; else say why.

        The protections' pauses do not hold back an operator's explicit entry; the limits do.
        """
        asked_at = time.monotonic()
        async with self._gate_lock:
            if self.risk.liquidated:
                return "emergency liquidation: no new entries until the engine is restarted"
            verdict = await self._gate_verdict(pair, asked_at)
            if not verdict.approved:
                return verdict.reason
            if cost > verdict.budget:
                return (
                    f"the entry costs {cost} {self.quote_currency}, "
                    f"the risk gate allows {verdict.budget}"
                )
            self.reserved[pair] = cost
            self._operator_entries.add(pair)
            return ""

    async def _gate_verdict(self, pair: str, asked_at: float) -> GateVerdict:
        """The risk gate on an entry in ``pair`` (asked for at ``asked_at``, monotonic) with
        the quote balance free on the exchange, read after it was asked for, less the budgets
        already reserved. Call it under the gate lock."""
        if self.available is None or self._read_started < asked_at:
            started = time.monotonic()
            balances = await self._exchange.balances()
            quote = balances.get(self.quote_currency)
            self.available = quote.available if quote else ZERO
            self._read_started = started
        available = self.available - sum(self.reserved.values(), ZERO)
        return self.gate.check(pair, self.exposures(), available)

    def protect(self, batch: StateBatch) -> list[AuditEntry]:
        """Tell the protections about closed positions; audit any pause they start."""
        notes = []
        for position in batch.positions:
            if position.status is PositionStatus.CLOSED:
                reason = self.protections.record_exit(position.realized_pnl, self._now())
                if reason:
                    log.warning("protection", extra={"pair": position.pair, "reason": reason})
                    notes.append(
                        AuditEntry(self._now(), "engine", "protection", position.pair, reason)
                    )
        return notes

    def metrics(self, *, this_run_only: bool = False) -> PortfolioMetrics:
        """The portfolio now: deployed capital, P&L, concentration, drift (realised P&L of all
        runs, or with ``this_run_only`` of the positions closed since the engine started)."""
        positions = [t.position for t in self._traders.values() if t.position is not None]
        return portfolio_metrics(
            self.gate.config,
            self.quote_currency,
            positions,
            last_prices=self._last_prices,
            closed=ClosedTally().add(self._history.closed)
            if this_run_only
            else self._history.tally(),
            available=self.available,
        )

    def exposures(self) -> list[Exposure]:
        """Entry cost of every position, plus budgets reserved for entries being placed."""
        found = []
        for pair, trader in self._traders.items():
            position = trader.position
            value = position.entry_value + position.entry_fees if position else ZERO
            found.append(Exposure(pair, max(value, self.reserved.get(pair, ZERO))))
        return found

    def settle_reservation(self, trader: PairTrader, event: m.EngineEvent) -> None:
        """Free a budget once its entry is done, or never came (an operator's still queued)."""
        pair = trader.pair
        if pair not in self.reserved:
            return
        if isinstance(event, m.EntryRequestedByOperator):
            self._operator_entries.discard(pair)
        entry = trader.entry
        waiting = pair in self._operator_entries or not trader.is_idle
        if (entry is None and not waiting) or (entry is not None and entry.is_done):
            self.reserved.pop(pair, None)
            self._read_started = float("-inf")  # the next entry reads the balance afresh
