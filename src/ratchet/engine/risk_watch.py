"""Watches the whole portfolio: emergency liquidation and rebalancing drift.

The runtime asks it once per timer tick with fresh metrics. Liquidation happens only when the
configuration enables it and the loss passes the threshold, and then once (latched): every pair
gets a force-exit in the name of ``engine:risk``, audited. Rebalancing drift is reported (logged
and audited when the set of drifting pairs changes), never acted on by itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from ratchet.domain.metrics import PortfolioMetrics
from ratchet.domain.risk import RiskGate
from ratchet.ports import AuditEntry

log = logging.getLogger("ratchet.engine")
RISK_ACTOR = "engine:risk"


@dataclass(frozen=True, slots=True)
class RiskFindings:
    """What one look at the portfolio found: whether to liquidate, and what to audit."""

    liquidate: str = ""
    audit: tuple[AuditEntry, ...] = ()


class RiskWatch:
    """Latches the emergency liquidation; notices drift changes."""

    def __init__(self, gate: RiskGate) -> None:
        self.gate = gate
        self.liquidated = False
        self._drifting: frozenset[str] = frozenset()

    def look(self, metrics: PortfolioMetrics, now: float) -> RiskFindings:
        """Check the metrics; the liquidation reason is set at most once."""
        audit: list[AuditEntry] = []
        drifting = frozenset(metrics.rebalance_drift)
        if drifting != self._drifting:
            self._drifting = drifting
            detail = ", ".join(
                f"{pair} {pct:+.1f}%" for pair, pct in sorted(metrics.rebalance_drift.items())
            )
            log.warning("rebalance drift", extra={"drift": detail or "none"})
            audit.append(
                AuditEntry(now, RISK_ACTOR, "rebalance drift", "portfolio", detail or "none")
            )
        reason = ""
        config = self.gate.config
        if not self.liquidated and self.gate.must_liquidate(
            metrics.realized_pnl, metrics.unrealized_pnl
        ):
            self.liquidated = True
            loss = metrics.pnl_pct.quantize(Decimal("0.01"))
            reason = (
                f"portfolio P&L {loss}% passed emergency_liquidation_loss_pct "
                f"{config.emergency_liquidation_loss_pct}%"
            )
            log.error("emergency liquidation", extra={"reason": reason})
            audit.append(AuditEntry(now, RISK_ACTOR, "emergency liquidation", "portfolio", reason))
        return RiskFindings(reason, tuple(audit))
