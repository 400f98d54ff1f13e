"""Slippage in the matching core: taker fills pay it, maker fills do not, limits still bind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ratchet.domain.money import MoneyError, Product
from ratchet.domain.order_types import OrderSide
from ratchet.sim.matching import CreateOrderRequest, MatchingEngine

D = Decimal
NOW = 1_700_000_000.0
BTC_USD = Product(
    "BTC-USD",
    base_increment=D("0.00000001"),
    price_increment=D("0.01"),
    base_min_size=D("0.0001"),
    quote_min_size=D("1"),
    quote_increment=D("0.01"),
)


def engine(slippage: str) -> MatchingEngine:
    core = MatchingEngine(
        [BTC_USD], {"USD": D(100_000), "BTC": D(1)}, slippage=D(slippage), maker_fee_rate=D(0)
    )
    core.set_last_price("BTC-USD", D(20_000))
    return core


def stop_sell(limit: str, stop: str) -> CreateOrderRequest:
    return CreateOrderRequest.stop_limit(
        "s", "BTC-USD", OrderSide.SELL, D("0.5"), D(limit), stop_price=D(stop)
    )


def test_a_triggered_stop_sells_worse_by_the_slippage_rounded_down() -> None:
    core = engine("0.001")
    assert core.create_order(stop_sell("19000", "19500.55"), NOW).success
    [fill] = core.market_move("BTC-USD", D(19_400), D(10), NOW + 1)
    # taker at the stop, 0.1 % worse: 19500.55 × 0.999 = 19481.04945 → 19481.04
    assert fill.liquidity == "TAKER"
    assert fill.price == D("19481.04")


def test_slippage_never_takes_a_fill_past_the_order_limit() -> None:
    core = engine("0.05")
    assert core.create_order(stop_sell("19400", "19500"), NOW).success
    [fill] = core.market_move("BTC-USD", D(19_000), D(10), NOW + 1)
    assert fill.price == D(19_400)  # 19500 × 0.95 = 18525 is below the limit


def test_a_marketable_buy_pays_the_slippage_rounded_up() -> None:
    core = engine("0.0003")
    req = CreateOrderRequest.limit("b", "BTC-USD", OrderSide.BUY, D("0.1"), D(20_100))
    result = core.create_order(req, NOW)
    assert result.success and result.order is not None
    [fill] = core.fills()
    assert fill.liquidity == "TAKER"
    assert fill.price == D("20006.00")  # 20000 × 1.0003 = 20006


def test_resting_limits_fill_at_their_price_whatever_the_slippage() -> None:
    core = engine("0.01")
    req = CreateOrderRequest.limit("b", "BTC-USD", OrderSide.BUY, D("0.1"), D(19_900))
    assert core.create_order(req, NOW).success
    [fill] = core.market_move("BTC-USD", D(19_800), D(10), NOW + 1)
    assert (fill.liquidity, fill.price) == ("MAKER", D(19_900))


def test_no_slippage_leaves_taker_prices_alone() -> None:
    core = engine("0")
    assert core.create_order(stop_sell("19000", "19500.55"), NOW).success
    [fill] = core.market_move("BTC-USD", D(19_400), D(10), NOW + 1)
    assert fill.price == D("19500.55")


@pytest.mark.parametrize("bad", ["-0.01", "1", "2"])
def test_a_slippage_outside_zero_to_one_is_refused(bad: str) -> None:
    with pytest.raises(MoneyError):
        engine(bad)
