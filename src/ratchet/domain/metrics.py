"""Portfolio metrics: what is deployed, what it is worth, how concentrated it is.

Pure: the engine hands in the positions, the last prices and the closed history; nothing here
reads a clock or a store. Money stays exact; percentages are Decimal too (rounded for display
only by whoever shows them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ratchet.domain.money import ZERO
from ratchet.domain.position import Position, PositionStatus
from ratchet.domain.risk import Exposure, PortfolioConfig, RiskGate

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class ClosedTally:
    """Closed round trips summed up: how many, how many won, their realized P&L."""

    trades: int = 0
    wins: int = 0
    realized_pnl: Decimal = ZERO

    def add(self, positions: Iterable[Position]) -> ClosedTally:
        """This tally plus the closed (filled) positions among ``positions``."""
        trades, wins, pnl = self.trades, self.wins, self.realized_pnl
        for position in positions:
            if position.status is not PositionStatus.CLOSED or not position.entry_size:
                continue
            trades += 1
            wins += position.realized_pnl > ZERO
            pnl += position.realized_pnl
        return ClosedTally(trades, wins, pnl)


@dataclass(frozen=True, slots=True)
class PortfolioMetrics:
    """One snapshot of the portfolio (quote currency amounts, percentages of total capital)."""

    quote_currency: str
    total_capital: Decimal
    deployed: Decimal
    available: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    closed_trades: int
    wins: int
    open_positions: int
    concentration: Mapping[str, Decimal] = field(default_factory=dict)
    exposure_by_group: Mapping[str, Decimal] = field(default_factory=dict)
    rebalance_drift: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def win_rate(self) -> Decimal | None:
        """Winning share of the closed trades (0–1), None before the first."""
        return Decimal(self.wins) / self.closed_trades if self.closed_trades else None

    @property
    def top_concentration_pct(self) -> Decimal:
        """The largest single pair's share of what is deployed (%)."""
        return max(self.concentration.values(), default=ZERO)

    @property
    def deployed_pct(self) -> Decimal:
        """What is deployed as a share of total capital (%)."""
        return self.deployed * HUNDRED / self.total_capital

    @property
    def drawdown_pct(self) -> Decimal:
        """The loss as a share of total capital (%; zero when in profit)."""
        return min(self.pnl_pct, ZERO)

    @property
    def pnl_pct(self) -> Decimal:
        """Realized plus unrealized P&L as a share of total capital (%; negative: a loss)."""
        return (self.realized_pnl + self.unrealized_pnl) * HUNDRED / self.total_capital


def entry_cost(position: Position) -> Decimal:
    """What the position's held quantity cost, fees included (zero before any fill)."""
    if not position.entry_size:
        return ZERO
    held = position.quantity / position.entry_size
    return (position.entry_value + position.entry_fees) * held


def portfolio_metrics(
    config: PortfolioConfig,
    quote_currency: str,
    positions: Iterable[Position],
    *,
    last_prices: Mapping[str, Decimal],
    closed: ClosedTally,
    available: Decimal | None = None,
) -> PortfolioMetrics:
    """The metrics of the open ``positions`` at ``last_prices`` with the ``closed`` history."""
    costs: dict[str, Decimal] = {}
    unrealized = ZERO
    held = 0
    for position in positions:
        if position.status.is_final or not position.quantity:
            continue
        held += 1
        costs[position.pair] = entry_cost(position)
        price = last_prices.get(position.pair)
        if price is not None:
            unrealized += position.unrealized_pnl(price)
    deployed = sum(costs.values(), ZERO)
    concentration = {
        pair: (cost * HUNDRED / deployed if deployed else ZERO) for pair, cost in costs.items()
    }
    groups: dict[str, Decimal] = {}
    for pair, cost in costs.items():
        group = config.group_of(pair)
        groups[group] = groups.get(group, ZERO) + cost * HUNDRED / config.total_capital
    drift = RiskGate(config).rebalance_drift([Exposure(p, c) for p, c in costs.items()])
    return PortfolioMetrics(
        quote_currency=quote_currency,
        total_capital=config.total_capital,
        deployed=deployed,
        available=available,
        realized_pnl=closed.realized_pnl,
        unrealized_pnl=unrealized,
        closed_trades=closed.trades,
        wins=closed.wins,
        open_positions=held,
        concentration=concentration,
        exposure_by_group=groups,
        rebalance_drift=drift,
    )
