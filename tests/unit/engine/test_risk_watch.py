"""RiskWatch: emergency liquidation only when enabled, once; drift reported on change."""

from __future__ import annotations

from decimal import Decimal

from ratchet.domain.metrics import PortfolioMetrics
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.engine.risk_watch import RISK_ACTOR, RiskWatch

D = Decimal


def metrics(
    realized: str, unrealized: str, drift: dict[str, Decimal] | None = None
) -> PortfolioMetrics:
    return PortfolioMetrics(
        "USD", D(1000), D(0), None, D(realized), D(unrealized), 0, 0, 0, rebalance_drift=drift or {}
    )


def test_liquidation_fires_once_when_the_loss_reaches_the_threshold_and_it_is_enabled() -> None:
    watch = RiskWatch(
        RiskGate(PortfolioConfig(total_capital=D(1000), emergency_liquidation_enabled=True))
    )
    assert not watch.look(metrics("-50", "-49.99"), 1.0).liquidate  # −9.999 %: not yet
    first = watch.look(metrics("-50", "-50"), 2.0)  # −10 %: the threshold
    again = watch.look(metrics("-80", "-50"), 3.0)
    assert "-10.00%" in first.liquidate
    assert [a.actor for a in first.audit] == [RISK_ACTOR]
    assert not again.liquidate and not again.audit


def test_liquidation_never_fires_when_it_is_not_enabled() -> None:
    watch = RiskWatch(RiskGate(PortfolioConfig(total_capital=D(1000))))
    assert not watch.look(metrics("-900", "-90"), 1.0).liquidate


def test_drift_is_reported_when_the_drifting_pairs_change_only() -> None:
    watch = RiskWatch(RiskGate(PortfolioConfig(total_capital=D(1000))))
    first = watch.look(metrics("0", "0", {"ETH-USD": D(-40)}), 1.0)
    same = watch.look(metrics("0", "0", {"ETH-USD": D(-41)}), 2.0)
    gone = watch.look(metrics("0", "0"), 3.0)
    assert [a.detail for a in first.audit] == ["ETH-USD -40.0%"]
    assert not same.audit
    assert [a.detail for a in gone.audit] == ["none"]
