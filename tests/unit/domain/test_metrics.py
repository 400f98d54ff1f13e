"""Portfolio metrics: deployed capital, P&L, concentration, exposure by group, drift."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ratchet.domain.metrics import ClosedTally, entry_cost, portfolio_metrics
from ratchet.domain.money import Product
from ratchet.domain.orders import Fill
from ratchet.domain.position import Position, PositionStatus, TrailPolicy
from ratchet.domain.risk import PortfolioConfig

D = Decimal


def product(pair: str) -> Product:
    return Product(pair, D("0.001"), D("0.01"), D("0.001"), quote_increment=D("0.01"))


def held(pair: str, price: str, size: str, fee: str = "0") -> Position:
    position = Position(f"{pair}#000001", product(pair), TrailPolicy(D(2)))
    position.on_entry_fill(Fill(f"t-{pair}", D(price), D(size), D(fee)))
    position.on_entry_done()
    return position


def closed(pair: str, entry: str, exit_: str) -> Position:
    position = held(pair, entry, "1")
    position.begin_exit()
    position.on_exit_fill(Fill(f"x-{pair}", D(exit_), D(1)))
    assert position.status is PositionStatus.CLOSED
    return position


CONFIG = PortfolioConfig(
    total_capital=D(1000),
    max_position_size_pct=D(10),
    correlation_groups={"majors": frozenset({"BTC-USD", "ETH-USD"})},
)


def test_deployed_pnl_concentration_and_groups_of_a_small_portfolio() -> None:
    positions = [
        held("BTC-USD", "60", "1", "0.5"),
        held("ETH-USD", "30", "1"),
        held("ADA-USD", "10", "1"),
    ]
    tally = ClosedTally().add([closed("XLM-USD", "10", "12"), closed("TRX-USD", "10", "9")])

    metrics = portfolio_metrics(
        CONFIG,
        "USD",
        positions,
        last_prices={"BTC-USD": D(70), "ETH-USD": D(30)},  # no price yet for ADA
        closed=tally,
        available=D(500),
    )

    assert metrics.deployed == D("100.5")
    assert metrics.unrealized_pnl == D("9.5")  # 70 - 60.5; ETH flat; ADA unpriced
    assert metrics.realized_pnl == D(1) and metrics.closed_trades == 2 and metrics.wins == 1
    assert metrics.win_rate == D("0.5")
    assert metrics.concentration["BTC-USD"] == D("60.5") * 100 / D("100.5")
    assert metrics.top_concentration_pct == metrics.concentration["BTC-USD"]
    assert metrics.exposure_by_group == {"majors": D("9.05"), "ADA-USD": D(1)}
    assert metrics.open_positions == 3
    # target size is 100: BTC (60.5) drifts −39.5 %, ADA (10) −90 %
    assert set(metrics.rebalance_drift) == {"BTC-USD", "ETH-USD", "ADA-USD"}


def test_an_empty_portfolio_has_no_win_rate_and_nothing_deployed() -> None:
    metrics = portfolio_metrics(CONFIG, "USD", [], last_prices={}, closed=ClosedTally())
    assert metrics.win_rate is None
    assert metrics.deployed == 0 and metrics.top_concentration_pct == 0
    assert metrics.pnl_pct == 0


@given(st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 1_000)), min_size=1, max_size=8))
def test_concentration_shares_add_up_to_one_hundred(entries: list[tuple[int, int]]) -> None:
    positions = [
        held(f"P{i}-USD", str(price), str(size)) for i, (price, size) in enumerate(entries)
    ]
    metrics = portfolio_metrics(CONFIG, "USD", positions, last_prices={}, closed=ClosedTally())
    assert abs(sum(metrics.concentration.values()) - 100) < D("1e-20")
    assert metrics.deployed == sum(entry_cost(p) for p in positions)
