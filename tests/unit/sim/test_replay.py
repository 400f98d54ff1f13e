"""Candle replays: the path rule, volume split, time order, gaps, determinism, synthetic candles."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.domain.candles import CANDLE_SECONDS, Candle, CandleError, ticks_from_candle
from ratchet.domain.money import Product, is_multiple
from ratchet.domain.order_types import OrderSide
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.sim.matching import CreateOrderRequest, MatchingEngine
from ratchet.sim.replay import CandleReplay, Leg, candle_path, synthetic_candles

D = Decimal
START = 1_515_560_100
ADA_BTC = Product(
    "ADA-BTC",
    base_increment=D("1"),
    price_increment=D("0.00000001"),
    base_min_size=D("1"),
    quote_increment=D("0.00000001"),
)
ETH_BTC = Product(
    "ETH-BTC",
    base_increment=D("0.001"),
    price_increment=D("0.00001"),
    base_min_size=D("0.01"),
    quote_increment=D("0.00000001"),
)


def candle(o: str, h: str, low: str, c: str, *, volume: str = "100", start: int = START) -> Candle:
    return Candle(start, D(o), D(h), D(low), D(c), D(volume))


# -- the path of one candle --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bar", "middle"),
    [
        pytest.param(candle("10", "15", "9", "12"), ("9", "15"), id="low-nearer"),
        pytest.param(candle("10", "11", "5", "6"), ("11", "5"), id="high-nearer"),
        pytest.param(candle("10", "12", "8", "11"), ("8", "12"), id="tie-goes-low"),
    ],
)
def test_path_visits_the_extreme_nearer_to_the_open_first(
    bar: Candle, middle: tuple[str, str]
) -> None:
    legs = candle_path(bar, "ADA-BTC")
    assert [leg.price for leg in legs] == [bar.open, D(middle[0]), D(middle[1]), bar.close]


def test_open_leg_is_a_gap_and_the_other_legs_are_continuous_inside_the_candle() -> None:
    legs = candle_path(candle("10", "15", "9", "12"), "ADA-BTC")
    assert [leg.gap for leg in legs] == [True, False, False, False]
    assert all(START <= leg.time < START + CANDLE_SECONDS for leg in legs)
    assert all(a.time < b.time for a, b in pairwise(legs))
    assert {leg.product_id for leg in legs} == {"ADA-BTC"}


def test_volume_is_split_equally_over_the_four_legs() -> None:
    legs = candle_path(candle("10", "15", "9", "12", volume="10"), "ADA-BTC")
    assert [leg.volume for leg in legs] == [D("2.5")] * 4


prices = st.integers(1, 10**6).map(lambda n: D(n) / 10**4)
volumes = st.decimals(min_value=0, max_value=10**12, places=10, allow_nan=False)


@given(a=prices, b=prices, c=prices, d=prices, volume=volumes)
@settings(max_examples=200)
def test_path_follows_ticks_from_candle_and_its_volumes_sum_exactly(
    a: Decimal, b: Decimal, c: Decimal, d: Decimal, volume: Decimal
) -> None:
    # Arrange
    low, o, cl, high = sorted((a, b, c, d))
    bar = Candle(START, o, high, low, cl, volume)
    # Act
    legs = candle_path(bar, "X-Y")
    # Assert
    assert [leg.price for leg in legs] == [tick.price for tick in ticks_from_candle(bar)]
    assert sum((leg.volume for leg in legs), D(0)) == volume
    assert legs[0].volume == legs[1].volume == legs[2].volume


# -- replays -----------------------------------------------------------------------------------


def test_replay_applies_legs_in_time_order_across_products() -> None:
    # Arrange
    engine = MatchingEngine([ADA_BTC, ETH_BTC], {"BTC": D("1")})
    candles = {
        "ADA-BTC": [
            candle("0.00005", "0.00006", "0.00004", "0.00005", start=START + 300 * i)
            for i in range(2)
        ],
        "ETH-BTC": [candle("0.09", "0.1", "0.08", "0.09", start=START + 300 * i) for i in range(2)],
    }
    # Act
    steps = list(CandleReplay(engine, candles))
    # Assert
    assert len(steps) == 16
    assert [s.leg.time for s in steps] == sorted(s.leg.time for s in steps)
    assert [s.product_id for s in steps[:2]] == ["ADA-BTC", "ETH-BTC"]
    assert engine.last_price("ADA-BTC") == D("0.00005")
    assert engine.last_price("ETH-BTC") == D("0.09")


def test_replay_fills_a_resting_buy_on_the_leg_that_reaches_it() -> None:
    # Arrange
    engine = MatchingEngine([ADA_BTC], {"BTC": D("1")})
    engine.set_last_price("ADA-BTC", D("0.00005500"))
    order = engine.create_order(
        CreateOrderRequest.limit("c", "ADA-BTC", OrderSide.BUY, D("100"), D("0.00005400")), 0.0
    ).order
    assert order is not None
    bar = candle("0.00005500", "0.00005700", "0.00005300", "0.00005450", volume="4000")
    # Act
    steps = list(CandleReplay(engine, {"ADA-BTC": [bar]}))
    # Assert: filled on the leg down to the low, at its own limit, as maker
    assert [len(step.fills) for step in steps] == [0, 1, 0, 0]
    [fill] = steps[1].fills
    assert (fill.price, fill.size, fill.liquidity, fill.time) == (
        D("0.00005400"),
        D("100"),
        "MAKER",
        steps[1].leg.time,
    )


@pytest.mark.parametrize(
    ("limit", "filled_at"),
    [("0.00004900", D("0.00005000")), ("0.00005100", None)],
    ids=["fills-at-the-gap-open", "rests-above-the-gap-open"],
)
def test_a_stop_crossed_by_a_gap_open_fills_at_the_open_only_if_its_limit_allows(
    limit: str, filled_at: Decimal | None
) -> None:
    # Arrange: the previous candle closes at 0.000055, the next one opens at 0.00005
    engine = MatchingEngine([ADA_BTC], {"ADA": D("100")})
    first = candle("0.00005500", "0.00005500", "0.00005500", "0.00005500")
    flat = "0.00005000"
    second = candle(flat, flat, flat, flat, volume="400", start=START + 300)
    list(CandleReplay(engine, {"ADA-BTC": [first]}))
    req = CreateOrderRequest.stop_limit(
        "s", "ADA-BTC", OrderSide.SELL, D("100"), D(limit), stop_price=D("0.00005200")
    )
    order = engine.create_order(req, START + 299.5).order
    assert order is not None
    # Act
    steps = list(CandleReplay(engine, {"ADA-BTC": [second]}))
    # Assert
    fills = [fill for step in steps for fill in step.fills]
    assert order.trigger_status == "STOP_TRIGGERED"
    assert [f.price for f in fills] == ([] if filled_at is None else [filled_at])


def test_replay_expires_good_until_date_orders_on_time() -> None:
    engine = MatchingEngine([ADA_BTC], {"BTC": D("1")})
    engine.set_last_price("ADA-BTC", D("0.00005500"))
    req = CreateOrderRequest.limit(
        "c", "ADA-BTC", OrderSide.BUY, D("10"), D("0.00004000"), end_time=START + 30.0
    )
    order = engine.create_order(req, 0.0).order
    assert order is not None
    list(CandleReplay(engine, {"ADA-BTC": [candle("0.00005", "0.00006", "0.00004", "0.00005")]}))
    assert (order.status, order.filled_size) == ("EXPIRED", D(0))


def test_replay_refuses_candles_out_of_order() -> None:
    engine = MatchingEngine([ADA_BTC], {})
    later, earlier = candle("1", "1", "1", "1", start=START + 300), candle("1", "1", "1", "1")
    with pytest.raises(CandleError, match="oldest first"):
        list(CandleReplay(engine, {"ADA-BTC": [later, earlier]}))


def _run_with_orders(seed: int) -> list[tuple[str, str, Decimal, Decimal, str]]:
    """Replay synthetic candles with a ladder of buys and a stop; return every fill."""
    engine = MatchingEngine(
        [ADA_BTC], {"BTC": D("1"), "ADA": D("5000")}, participation=D("0.05"), seed=seed
    )
    candles = synthetic_candles(
        ADA_BTC, START, 60, seed=4, start_price=D("0.00005329"), volatility_pct=D("0.4")
    )
    engine.set_last_price("ADA-BTC", candles[0].open)
    for i in range(5):
        price = candles[0].open - D("0.00000020") * (i + 1)
        engine.create_order(
            CreateOrderRequest.limit(f"b{i}", "ADA-BTC", OrderSide.BUY, D("500"), price), 0.0
        )
    engine.create_order(
        CreateOrderRequest.stop_limit(
            "s",
            "ADA-BTC",
            OrderSide.SELL,
            D("4000"),
            D("0.00005100"),
            stop_price=D("0.00005200"),
        ),
        0.0,
    )
    steps = list(CandleReplay(engine, {"ADA-BTC": candles}))
    return [(f.trade_id, f.order_id, f.price, f.size, f.liquidity) for s in steps for f in s.fills]


def test_replay_with_the_same_seed_gives_the_same_fills_and_ids() -> None:
    first, again, other_seed = _run_with_orders(7), _run_with_orders(7), _run_with_orders(8)
    assert first, "the scenario should trade"
    assert first == again
    assert [f[2:] for f in other_seed] == [f[2:] for f in first]  # same trades ...
    assert [f[0] for f in other_seed] != [f[0] for f in first]  # ... other ids


def test_replaying_the_bundled_real_candles_keeps_the_books_balanced() -> None:
    # Arrange: a real 4-day ADA-BTC series, resting buys below and a stop under the market
    [path] = [p for p in demo_candle_files() if pair_of(p) == "ADA-BTC"]
    candles = read_candles(path)
    engine = MatchingEngine([ADA_BTC], {"BTC": D("1"), "ADA": D("20000")}, participation=D("0.1"))
    engine.set_last_price("ADA-BTC", candles[0].open)
    for i in range(10):
        price = candles[0].open * (1 - D("0.005") * (i + 1))
        req = CreateOrderRequest.limit(
            f"b{i}", "ADA-BTC", OrderSide.BUY, D("1000"), ADA_BTC.buy_limit_price(price)
        )
        assert engine.create_order(req, 0.0).success
    # Act
    fills = [f for step in CandleReplay(engine, {"ADA-BTC": candles}) for f in step.fills]
    # Assert
    bought = sum((f.size for f in fills), D(0))
    cost = sum((f.value + f.commission for f in fills), D(0))
    btc, ada = engine.account("BTC"), engine.account("ADA")
    assert btc is not None and ada is not None
    assert ada.total == D("20000") + bought
    assert btc.total == D("1") - cost
    assert all(f.liquidity == "MAKER" for f in fills)


# -- synthetic candles -------------------------------------------------------------------------


def test_synthetic_candles_are_valid_consecutive_and_on_the_product_grid() -> None:
    candles = synthetic_candles(
        ETH_BTC, START, 200, seed=1, start_price=D("0.09"), volatility_pct=D("0.5")
    )
    assert len(candles) == 200
    assert [c.start for c in candles] == [START + 300 * i for i in range(200)]
    for bar in candles:
        for price in (bar.open, bar.high, bar.low, bar.close):
            assert price > 0 and is_multiple(price, ETH_BTC.price_increment)
        assert bar.volume > 0 and is_multiple(bar.volume, ETH_BTC.base_min_size)
    assert candles[0].open == D("0.09")


def test_synthetic_candles_are_the_same_for_a_seed_and_differ_across_seeds() -> None:
    def make(seed: int) -> list[Candle]:
        return synthetic_candles(
            ADA_BTC, START, 50, seed=seed, start_price=D("0.00005329"), volatility_pct=D("1")
        )

    assert make(5) == make(5)
    assert make(5) != make(6)


def test_synthetic_candles_can_gap_between_close_and_open() -> None:
    candles = synthetic_candles(
        ADA_BTC,
        START,
        100,
        seed=2,
        start_price=D("0.00005329"),
        volatility_pct=D("1"),
        gap_probability=0.5,
    )
    assert any(a.close != b.open for a, b in pairwise(candles))
    assert not any(
        a.close != b.open
        for a, b in pairwise(
            synthetic_candles(
                ADA_BTC,
                START,
                100,
                seed=2,
                start_price=D("0.00005329"),
                volatility_pct=D("1"),
                gap_probability=0.0,
            )
        )
    )


def test_synthetic_candles_refuse_a_misaligned_start() -> None:
    with pytest.raises(CandleError):
        synthetic_candles(ADA_BTC, START + 1, 1, seed=0, start_price=D("1"), volatility_pct=D("1"))


def test_leg_is_a_value() -> None:
    assert Leg("X-Y", 1.0, D("1"), D("2"), gap=False) == Leg("X-Y", 1.0, D("1"), D("2"), False)
