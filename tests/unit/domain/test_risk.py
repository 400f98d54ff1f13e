"""The risk gate: each limit refuses exactly at its boundary, and says why."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratchet.domain.risk import Exposure, PortfolioConfig, RiskConfigError, RiskGate

D = Decimal
CONFIG = PortfolioConfig()  # 100,000 capital, 5 % a position, 10 positions, 20 % correlated


def held(*pairs: str, value: str = "5000") -> list[Exposure]:
    return [Exposure(pair, D(value)) for pair in pairs]


def test_defaults_are_the_documented_ones() -> None:
    assert (CONFIG.total_capital, CONFIG.max_position_size_pct, CONFIG.max_positions) == (
        D(100_000),
        D(5),
        10,
    )
    assert CONFIG.max_correlated_exposure_pct == D(20)
    assert CONFIG.emergency_liquidation_loss_pct == D(-10)
    assert not CONFIG.emergency_liquidation_enabled


def test_an_entry_gets_at_most_the_position_size_limit() -> None:
    verdict = RiskGate(CONFIG).check("ETH-BTC", [], D(1_000_000))
    assert verdict.approved and verdict.budget == D(5000)


def test_the_budget_never_exceeds_the_free_balance() -> None:
    verdict = RiskGate(CONFIG).check("ETH-BTC", [], D("1234.5"))
    assert verdict.budget == D("1234.5")


def test_one_position_per_pair() -> None:
    verdict = RiskGate(CONFIG).check("ETH-BTC", held("ETH-BTC"), D(100_000))
    assert not verdict.approved and "one per pair" in verdict.reason


@pytest.mark.parametrize(("open_count", "approved"), [(9, True), (10, False)])
def test_max_positions_refuses_exactly_at_the_limit(open_count: int, approved: bool) -> None:
    exposures = held(*(f"P{i}-BTC" for i in range(open_count)), value="1")
    verdict = RiskGate(CONFIG).check("NEW-BTC", exposures, D(100_000))
    assert verdict.approved is approved
    if not approved:
        assert "max_positions" in verdict.reason


def test_correlated_exposure_is_capped_per_group() -> None:
    # Arrange: a group at 19,000 of its 20,000 limit
    config = PortfolioConfig(correlation_groups={"alts": frozenset({"A-BTC", "B-BTC", "C-BTC"})})
    gate = RiskGate(config)
    exposures = [Exposure("A-BTC", D(10_000)), Exposure("B-BTC", D(9_000))]
    # Act
    inside = gate.check("C-BTC", exposures, D(100_000))
    outside = gate.check("Z-BTC", exposures, D(100_000))
    # Assert: only the room left in the group; a pair outside it is not limited by it
    assert inside.budget == D(1000)
    assert outside.budget == D(5000)


def test_a_full_group_refuses_with_the_reason() -> None:
    config = PortfolioConfig(correlation_groups={"alts": frozenset({"A-BTC", "B-BTC"})})
    verdict = RiskGate(config).check("B-BTC", [Exposure("A-BTC", D(20_000))], D(100_000))
    assert not verdict.approved and "correlated exposure of alts" in verdict.reason


def test_nothing_is_approved_without_capital_left() -> None:
    exposures = [Exposure(f"P{i}-BTC", D(20_000)) for i in range(5)]
    verdict = RiskGate(CONFIG).check("NEW-BTC", exposures, D(100_000))
    assert not verdict.approved


@pytest.mark.parametrize(
    ("realized", "unrealized", "liquidate"),
    [("-5000", "-4999", False), ("-5000", "-5000", True), ("-20000", "0", True)],
)
def test_liquidation_triggers_at_the_threshold_only_when_enabled(
    realized: str, unrealized: str, liquidate: bool
) -> None:
    enabled = RiskGate(PortfolioConfig(emergency_liquidation_enabled=True))
    assert enabled.must_liquidate(D(realized), D(unrealized)) is liquidate
    assert RiskGate(CONFIG).must_liquidate(D(realized), D(unrealized)) is False


def test_rebalancing_drift_is_reported_past_the_threshold() -> None:
    gate = RiskGate(CONFIG)  # target 5,000; threshold 10 %
    drift = gate.rebalance_drift([Exposure("A-BTC", D(5500)), Exposure("B-BTC", D(5501))])
    assert list(drift) == ["B-BTC"]
    assert drift["B-BTC"] == D("10.02")


@pytest.mark.parametrize(
    "bad",
    [
        {"total_capital": D(0)},
        {"max_position_size_pct": D(0)},
        {"max_position_size_pct": D(101)},
        {"max_positions": 0},
        {"max_correlated_exposure_pct": D(-1)},
        {"emergency_liquidation_loss_pct": D(5)},
    ],
)
def test_limits_out_of_range_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(RiskConfigError):
        PortfolioConfig(**bad)  # type: ignore[arg-type]


@given(
    exposures=st.lists(st.integers(0, 30_000), max_size=12),
    available=st.integers(0, 200_000),
)
def test_an_approved_budget_respects_every_limit(exposures: list[int], available: int) -> None:
    held_now = [Exposure(f"P{i}-BTC", D(v)) for i, v in enumerate(exposures)]
    verdict = RiskGate(CONFIG).check("NEW-BTC", held_now, D(available))
    if verdict.approved:
        open_positions = sum(1 for v in exposures if v > 0)
        assert open_positions < CONFIG.max_positions
        assert verdict.budget <= CONFIG.max_position_value
        assert verdict.budget <= D(available)
        assert verdict.budget + sum(D(v) for v in exposures) <= CONFIG.total_capital
