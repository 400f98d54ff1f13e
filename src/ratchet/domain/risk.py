"""Portfolio limits: every entry passes the risk gate or is refused with a reason.

Amounts are in the portfolio's quote currency. Exposure of a position is its entry cost
(what it would cost now to hold it is the engine's metric, not the gate's). Correlation groups
are named sets of pairs (e.g. ``{"majors": {"ETH-BTC", "LTC-BTC"}}``); a pair in no group is its
own group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ratchet.domain.money import ZERO, to_decimal

HUNDRED = Decimal(100)


class RiskConfigError(ValueError):
    """A portfolio limit outside its sensible range."""


@dataclass(frozen=True, slots=True)
class PortfolioConfig:
    """The portfolio limits (defaults as documented in the README)."""

    total_capital: Decimal = Decimal(100_000)
    max_position_size_pct: Decimal = Decimal(5)
    max_positions: int = 10
    max_correlated_exposure_pct: Decimal = Decimal(20)
    rebalance_threshold_pct: Decimal = Decimal(10)
    emergency_liquidation_loss_pct: Decimal = Decimal(-10)
    emergency_liquidation_enabled: bool = False
    correlation_groups: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        capital = to_decimal(self.total_capital, "total_capital")
        if capital <= ZERO:
            raise RiskConfigError(f"total_capital must be > 0, got {capital}")
        for name in ("max_position_size_pct", "max_correlated_exposure_pct"):
            value = to_decimal(getattr(self, name), name)
            if not ZERO < value <= HUNDRED:
                raise RiskConfigError(f"{name} must be > 0 and <= 100, got {value}")
        if self.max_positions < 1:
            raise RiskConfigError(f"max_positions must be >= 1, got {self.max_positions}")
        if to_decimal(self.emergency_liquidation_loss_pct, "loss pct") >= ZERO:
            raise RiskConfigError("emergency_liquidation_loss_pct must be < 0")

    @property
    def max_position_value(self) -> Decimal:
        """The most one entry may cost."""
        return self.total_capital * self.max_position_size_pct / HUNDRED

    def group_of(self, pair: str) -> str:
        """The correlation group of a pair (its own name when it is in none)."""
        for name, pairs in self.correlation_groups.items():
            if pair in pairs:
                return name
        return pair


@dataclass(frozen=True, slots=True)
class Exposure:
    """What the portfolio holds or has committed in one pair (entry cost, quote currency)."""

    pair: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The gate's answer: a budget for the entry, or the reason it is refused."""

    budget: Decimal
    reason: str = ""

    @property
    def approved(self) -> bool:
        """True when the entry may go ahead."""
        return not self.reason and self.budget > ZERO


class RiskGate:
    """Checks one entry against the portfolio limits."""

    def __init__(self, config: PortfolioConfig) -> None:
        self.config = config

    def check(self, pair: str, exposures: list[Exposure], available_quote: Decimal) -> GateVerdict:
        """May ``pair`` enter, given what is held and what is free? With how much?"""
        config = self.config
        if any(e.pair == pair and e.value > ZERO for e in exposures):
            return GateVerdict(ZERO, f"{pair} already has a position (one per pair)")
        held = [e for e in exposures if e.value > ZERO]
        if len(held) >= config.max_positions:
            return GateVerdict(ZERO, f"max_positions {config.max_positions} reached")
        group = config.group_of(pair)
        group_value = sum((e.value for e in held if config.group_of(e.pair) == group), ZERO)
        group_limit = config.total_capital * config.max_correlated_exposure_pct / HUNDRED
        room = group_limit - group_value
        if room <= ZERO:
            return GateVerdict(ZERO, f"correlated exposure of {group} at its limit {group_limit}")
        deployed = sum((e.value for e in held), ZERO)
        capital_left = config.total_capital - deployed
        budget = min(config.max_position_value, room, available_quote, capital_left)
        if budget <= ZERO:
            return GateVerdict(ZERO, "no capital available")
        return GateVerdict(budget)

    def drawdown_pct(self, realized: Decimal, unrealized: Decimal) -> Decimal:
        """Portfolio P&L as a percentage of total capital (negative: a loss)."""
        return (realized + unrealized) * HUNDRED / self.config.total_capital

    def must_liquidate(self, realized: Decimal, unrealized: Decimal) -> bool:
        """True when the loss passes the liquidation threshold and liquidation is enabled."""
        loss = self.drawdown_pct(realized, unrealized)
        return (
            self.config.emergency_liquidation_enabled
            and loss <= self.config.emergency_liquidation_loss_pct
        )

    def rebalance_drift(self, exposures: list[Exposure]) -> dict[str, Decimal]:
        """Pairs whose exposure drifts from the target size by more than the threshold (in %)."""
        target = self.config.max_position_value
        drift: dict[str, Decimal] = {}
        for exposure in exposures:
            if exposure.value <= ZERO:
                continue
            pct = (exposure.value - target) * HUNDRED / target
            if abs(pct) > self.config.rebalance_threshold_pct:
                drift[exposure.pair] = pct
        return drift
