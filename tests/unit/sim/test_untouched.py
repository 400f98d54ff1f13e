"""``MatchingEngine.untouched``: when it says a price range reaches nothing, trading anywhere in
that range fills, triggers and expires nothing (the backtester then skips a candle's middle legs).
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderSide, OrderType
from ratchet.sim.matching import CreateOrderRequest, MatchingEngine

D = Decimal
NOW = 1_700_000_000.0
TICK = D("0.00001")
PRODUCT = Product("ETH-BTC", D("0.001"), TICK, D("0.001"), quote_increment=D("0.00000001"))

kinds = st.sampled_from(["buy", "sell", "stop", "stop-expiring"])
orders = st.lists(st.tuples(kinds, st.integers(4000, 6000)), min_size=1, max_size=6)


def engine_with(placed: list[tuple[str, int]], last: int) -> MatchingEngine:
    """An engine at ``last`` ticks with the orders ``placed`` resting (refused ones dropped)."""
    engine = MatchingEngine([PRODUCT], {"BTC": D(1000), "ETH": D(1000)}, participation=D("0.5"))
    engine.set_last_price("ETH-BTC", TICK * last)
    for number, (kind, ticks) in enumerate(placed):
        price = TICK * ticks
        stop = kind.startswith("stop")
        result = engine.create_order(
            CreateOrderRequest(
                client_order_id=f"o{number}",
                product_id="ETH-BTC",
                side=OrderSide.BUY if kind == "buy" else OrderSide.SELL,
                order_type=OrderType.STOP_LIMIT if stop else OrderType.LIMIT,
                base_size=D("0.01"),
                limit_price=price - TICK * 10 if stop else price,
                stop_price=price if stop else None,
                stop_direction="STOP_DIRECTION_STOP_DOWN" if stop else None,
                post_only=False,
                time_in_force="GOOD_UNTIL_DATE_TIME"
                if kind == "stop-expiring"
                else "GOOD_UNTIL_CANCELLED",
                end_time=NOW + 100 if kind == "stop-expiring" else None,
            ),
            NOW,
        )
        assert result.success or result.failure_reason != "UNSUPPORTED_ORDER_CONFIGURATION"
    engine.drain_updates()
    return engine


@settings(max_examples=300, deadline=None)
@given(
    placed=orders,
    last=st.integers(4000, 6000),
    below=st.integers(0, 800),
    above=st.integers(0, 800),
    path=st.lists(st.floats(0, 1), min_size=1, max_size=6),
    until=st.sampled_from([NOW + 50, NOW + 150]),
)
def test_a_range_called_untouched_trades_without_changing_any_order(
    *,
    placed: list[tuple[str, int]],
    last: int,
    below: int,
    above: int,
    path: list[float],
    until: float,
) -> None:
    # Arrange: a range around the last price
    engine = engine_with(placed, last)
    low, high = last - below, last + above
    quiet = engine.untouched("ETH-BTC", TICK * low, TICK * high, until)
    # Act: trade along a path inside the range, up to ``until``
    fills = []
    for step, where in enumerate(path, start=1):
        ticks = low + round(where * (high - low))
        now = NOW + (until - NOW) * step / len(path)
        fills += engine.move("ETH-BTC", TICK * ticks, D(1000), now)
    # Assert
    if quiet:
        assert fills == []
        assert not engine.has_updates()


def test_it_sees_each_kind_of_order_reached() -> None:
    engine = engine_with([("buy", 4900), ("stop", 4800), ("sell", 5200)], 5000)
    assert engine.untouched("ETH-BTC", TICK * 4901, TICK * 5199, NOW + 10)
    assert not engine.untouched("ETH-BTC", TICK * 4900, TICK * 5100, NOW + 10)  # the buy
    assert not engine.untouched("ETH-BTC", TICK * 4950, TICK * 5200, NOW + 10)  # the sell
    stop_only = engine_with([("stop", 4800)], 5000)
    assert stop_only.untouched("ETH-BTC", TICK * 4801, TICK * 6000, NOW + 10)
    assert not stop_only.untouched("ETH-BTC", TICK * 4800, TICK * 6000, NOW + 10)
    expiring = engine_with([("stop-expiring", 4000)], 5000)
    assert expiring.untouched("ETH-BTC", TICK * 4500, TICK * 5500, NOW + 99)
    assert not expiring.untouched("ETH-BTC", TICK * 4500, TICK * 5500, NOW + 100)
    assert engine_with([], 5000).untouched("ETH-BTC", TICK, TICK * 10**6, NOW + 10**6)
