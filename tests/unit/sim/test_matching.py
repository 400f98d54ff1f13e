"""The simulator's matching core, rule by rule: refusals, holds, fills, fees, edits, updates."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from ratchet.domain.money import Product, ceil_to
from ratchet.domain.order_types import OrderSide, OrderType
from ratchet.sim.matching import (
    CreateOrderRequest,
    EditRecord,
    MatchingEngine,
    SimOrder,
)

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
NOW = 1_700_000_000.0
DOWN, UP = "STOP_DIRECTION_STOP_DOWN", "STOP_DIRECTION_STOP_UP"

BTC_USD = Product(
    "BTC-USD",
    base_increment=D("0.00000001"),
    price_increment=D("0.01"),
    base_min_size=D("0.0001"),
    quote_min_size=D("1"),
    base_max_size=D("100"),
    quote_increment=D("0.01"),
)
ADA_BTC = Product(
    "ADA-BTC",
    base_increment=D("1"),
    price_increment=D("0.00000001"),
    base_min_size=D("1"),
    quote_increment=D("0.00000001"),
)


def make_engine(**kwargs: Decimal) -> MatchingEngine:
    """BTC-USD at 20000 (unlimited liquidity), 10000 USD and 1 BTC."""
    engine = MatchingEngine([BTC_USD], {"USD": D("10000"), "BTC": D("1")}, **kwargs)
    engine.set_last_price("BTC-USD", D("20000"))
    return engine


def limit(
    cid: str,
    side: OrderSide,
    size: str,
    price: str,
    *,
    post_only: bool = False,
    end_time: float | None = None,
) -> CreateOrderRequest:
    return CreateOrderRequest.limit(
        cid, "BTC-USD", side, D(size), D(price), post_only=post_only, end_time=end_time
    )


def stop(
    cid: str, side: OrderSide, size: str, limit_price: str, stop_price: str, *, direction: str
) -> CreateOrderRequest:
    return CreateOrderRequest.stop_limit(
        cid, "BTC-USD", side, D(size), D(limit_price), stop_price=D(stop_price), direction=direction
    )


def place(engine: MatchingEngine, req: CreateOrderRequest, now: float = NOW) -> SimOrder:
    result = engine.create_order(req, now)
    assert result.success, (result.failure_reason, result.message)
    assert result.order is not None
    return result.order


def balance(engine: MatchingEngine, currency: str) -> tuple[Decimal, Decimal]:
    account = engine.account(currency)
    assert account is not None
    return account.available, account.hold


# -- creation, idempotency, refusals ------------------------------------------------------------


def test_new_limit_buy_is_open_and_holds_its_cost_with_the_taker_fee() -> None:
    # Arrange
    engine = make_engine()
    # Act
    order = place(engine, limit("c1", BUY, "0.01", "19900"))
    # Assert: 0.01 * 19900 = 199, with 0.6 % = 200.194, rounded up to the cent
    assert order.status == "OPEN"
    assert (order.hold, order.hold_currency) == (D("200.20"), "USD")
    assert balance(engine, "USD") == (D("9799.80"), D("200.20"))


def test_new_limit_sell_holds_its_base_size() -> None:
    engine = make_engine()
    order = place(engine, limit("c1", SELL, "0.25", "21000"))
    assert (order.hold, order.hold_currency) == (D("0.25"), "BTC")
    assert balance(engine, "BTC") == (D("0.75"), D("0.25"))


def test_accounts_exist_for_every_currency_of_the_products_even_unfunded() -> None:
    engine = MatchingEngine([BTC_USD, ADA_BTC], {"USD": D("5")})
    assert {a.currency: a.available for a in engine.accounts()} == {
        "BTC": D(0),
        "USD": D(5),
        "ADA": D(0),
    }


def test_repeated_client_order_id_returns_the_existing_order_and_changes_nothing() -> None:
    # Arrange
    engine = make_engine()
    first = place(engine, limit("same", BUY, "0.01", "19900"))
    before = engine.accounts()
    # Act: a retry, even with other terms
    again = engine.create_order(limit("same", BUY, "0.02", "19000"), NOW + 5)
    # Assert
    assert again.success
    assert again.order is first
    assert engine.accounts() == before
    assert len(engine.orders()) == 1


def test_unknown_product_is_refused_with_invalid_product_id() -> None:
    engine = make_engine()
    req = replace(limit("c1", BUY, "0.01", "19900"), product_id="DOGE-USD")
    result = engine.create_order(req, NOW)
    assert (result.success, result.order, result.failure_reason) == (
        False,
        None,
        "INVALID_PRODUCT_ID",
    )


def test_missing_client_order_id_is_refused() -> None:
    result = make_engine().create_order(limit("", BUY, "0.01", "19900"), NOW)
    assert result.failure_reason == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(
            replace(stop("c", SELL, "0.1", "18900", "19000", direction=DOWN), stop_price=None),
            id="stop-without-stop-price",
        ),
        pytest.param(
            replace(
                stop("c", SELL, "0.1", "18900", "19000", direction=DOWN), stop_direction="SIDEWAYS"
            ),
            id="stop-with-unknown-direction",
        ),
        pytest.param(
            replace(stop("c", SELL, "0.1", "18900", "19000", direction=DOWN), post_only=True),
            id="post-only-stop",
        ),
        pytest.param(
            replace(limit("c", BUY, "0.01", "19900"), limit_price=None), id="limit-without-price"
        ),
        pytest.param(
            replace(limit("c", BUY, "0.01", "19900"), stop_price=D("19000")),
            id="limit-with-stop-price",
        ),
        pytest.param(
            replace(limit("c", BUY, "0.01", "19900"), time_in_force="GOOD_UNTIL_DATE_TIME"),
            id="gtd-without-end-time",
        ),
        pytest.param(limit("c", BUY, "0.01", "19900", end_time=NOW), id="gtd-ending-now"),
        pytest.param(
            replace(limit("c", BUY, "0.01", "19900"), end_time=NOW + 60), id="gtc-with-end-time"
        ),
        pytest.param(
            replace(
                limit("c", BUY, "0.01", "19900", post_only=True),
                time_in_force="IMMEDIATE_OR_CANCEL",
            ),
            id="post-only-ioc",
        ),
        pytest.param(
            CreateOrderRequest.market("c", "BTC-USD", BUY, base_size=D("0.1"), quote_size=D("10")),
            id="market-with-both-sizes",
        ),
        pytest.param(
            CreateOrderRequest.market("c", "BTC-USD", SELL, quote_size=D("10")),
            id="market-sell-in-quote",
        ),
        pytest.param(
            replace(
                CreateOrderRequest.market("c", "BTC-USD", BUY, quote_size=D("10")),
                time_in_force="GOOD_UNTIL_CANCELLED",
            ),
            id="market-gtc",
        ),
    ],
)
def test_misconfigured_orders_are_refused_as_unsupported(req: CreateOrderRequest) -> None:
    engine = make_engine()
    result = engine.create_order(req, NOW)
    assert (result.success, result.failure_reason) == (False, "UNSUPPORTED_ORDER_CONFIGURATION")
    assert result.message
    assert engine.orders() == []


def test_size_off_the_base_increment_is_refused_with_invalid_size_precision() -> None:
    result = make_engine().create_order(limit("c", BUY, "0.000000015", "19900"), NOW)
    assert result.failure_reason == "INVALID_SIZE_PRECISION"


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(limit("c", BUY, "0.01", "19900.005"), id="limit-price"),
        pytest.param(
            stop("c", SELL, "0.01", "18900", "19000.001", direction=DOWN), id="stop-price"
        ),
    ],
)
def test_price_off_the_price_increment_is_refused_with_invalid_price_precision(
    req: CreateOrderRequest,
) -> None:
    assert make_engine().create_order(req, NOW).failure_reason == "INVALID_PRICE_PRECISION"


@pytest.mark.parametrize(
    ("size", "price", "reason"),
    [
        ("0.00009", "19900", "ORDER_SIZE_TOO_SMALL"),  # below base_min_size
        ("101", "19900", "ORDER_SIZE_TOO_LARGE"),  # above base_max_size
        ("0.0001", "5000", "ORDER_SIZE_TOO_SMALL"),  # 0.50 USD, below quote_min_size 1
    ],
)
def test_sizes_outside_the_product_limits_are_refused(size: str, price: str, reason: str) -> None:
    assert make_engine().create_order(limit("c", BUY, size, price), NOW).failure_reason == reason


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(limit("c", BUY, "0.6", "19900"), id="buy-costing-more-than-the-usd"),
        pytest.param(limit("c", SELL, "1.00000001", "21000"), id="sell-of-more-than-the-btc"),
    ],
)
def test_order_the_balance_cannot_hold_is_refused_with_insufficient_fund(
    req: CreateOrderRequest,
) -> None:
    # Arrange
    engine = make_engine()
    before = engine.accounts()
    # Act
    result = engine.create_order(req, NOW)
    # Assert
    assert (result.success, result.failure_reason) == (False, "INSUFFICIENT_FUND")
    assert engine.accounts() == before
    assert engine.order_by_client_id("c") is None


@pytest.mark.parametrize(
    ("side", "price"),
    [(BUY, "20000.01"), (BUY, "20001"), (SELL, "19999.99"), (SELL, "19999")],
)
def test_post_only_order_that_would_take_is_refused(side: OrderSide, price: str) -> None:
    result = make_engine().create_order(limit("c", side, "0.01", price, post_only=True), NOW)
    assert result.failure_reason == "INVALID_LIMIT_PRICE_POST_ONLY"


@pytest.mark.parametrize("side", [BUY, SELL])
def test_limit_at_the_last_price_rests_as_maker_inside_the_one_tick_spread(
    side: OrderSide,
) -> None:
    order = place(make_engine(), limit("c", side, "0.01", "20000", post_only=True))
    assert (order.status, order.filled_size) == ("OPEN", D(0))


def test_post_only_order_away_from_the_last_price_rests() -> None:
    order = place(make_engine(), limit("c", BUY, "0.01", "19999.99", post_only=True))
    assert (order.status, order.filled_size) == ("OPEN", D(0))


@pytest.mark.parametrize(
    ("side", "stop_price", "direction", "reason"),
    [
        (SELL, "20000.01", DOWN, "PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE"),
        (BUY, "19999.99", UP, "PREVIEW_STOP_PRICE_BELOW_LAST_TRADE_PRICE"),
    ],
)
def test_stop_already_past_the_last_trade_is_refused(
    side: OrderSide, stop_price: str, direction: str, reason: str
) -> None:
    req = stop("c", side, "0.01", stop_price, stop_price, direction=direction)
    assert make_engine().create_order(req, NOW).failure_reason == reason


def test_market_order_without_a_last_price_is_refused_with_invalid_no_liquidity() -> None:
    engine = MatchingEngine([BTC_USD], {"USD": D("10000")})
    result = engine.create_order(
        CreateOrderRequest.market("c", "BTC-USD", BUY, quote_size=D("100")), NOW
    )
    assert (result.failure_reason, result.order) == ("INVALID_NO_LIQUIDITY", None)
    assert "no last trade price" in result.message


def test_stop_limit_order_rests_with_its_stop_pending() -> None:
    order = place(make_engine(), stop("c", SELL, "0.5", "18900", "19000", direction=DOWN))
    assert (order.status, order.trigger_status, order.order_type) == (
        "OPEN",
        "STOP_PENDING",
        OrderType.STOP_LIMIT,
    )


# -- cancel and expiry -------------------------------------------------------------------------


def test_cancel_releases_the_hold_and_marks_the_order_cancelled() -> None:
    # Arrange
    engine = make_engine()
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    # Act
    results = engine.cancel_orders([order.order_id], NOW + 1)
    # Assert
    assert [(r.order_id, r.success) for r in results] == [(order.order_id, True)]
    assert (order.status, order.cancel_reason, order.hold) == (
        "CANCELLED",
        "User requested cancel",
        D(0),
    )
    assert balance(engine, "USD") == (D("10000"), D(0))


def test_cancel_reports_unknown_filled_and_already_cancelled_orders() -> None:
    # Arrange
    engine = make_engine()
    filled = place(engine, limit("f", BUY, "0.01", "20000.01"))  # takes at once
    cancelled = place(engine, limit("c", BUY, "0.01", "19000"))
    engine.cancel_orders([cancelled.order_id], NOW)
    # Act
    results = engine.cancel_orders(["nope", filled.order_id, cancelled.order_id], NOW + 1)
    # Assert
    assert [(r.success, r.failure_reason) for r in results] == [
        (False, "UNKNOWN_CANCEL_ORDER"),
        (False, "ORDER_IS_FULLY_FILLED"),
        (False, "DUPLICATE_CANCEL_REQUEST"),
    ]


def test_good_until_date_order_expires_at_its_end_time_and_releases_its_hold() -> None:
    # Arrange
    engine = make_engine()
    order = place(engine, limit("c", SELL, "0.2", "21000", end_time=NOW + 300))
    # Act
    early = engine.expire(NOW + 299)
    due = engine.expire(NOW + 300)
    # Assert
    assert (early, due) == ([], [order])
    assert (order.status, order.hold) == ("EXPIRED", D(0))
    assert balance(engine, "BTC") == (D("1"), D(0))


def test_expired_order_does_not_fill_on_a_later_move() -> None:
    engine = make_engine()
    order = place(engine, limit("c", BUY, "0.01", "19900", end_time=NOW + 60))
    fills = engine.market_move("BTC-USD", D("19800"), D("5"), NOW + 61)
    assert (fills, order.status) == ([], "EXPIRED")


# -- immediate executions ----------------------------------------------------------------------


def test_marketable_limit_buy_takes_at_the_last_price_as_taker_and_releases_the_excess() -> None:
    # Arrange
    engine = make_engine()
    # Act
    order = place(engine, limit("c", BUY, "0.01", "20100"))
    # Assert: 200 at 20000, fee 1.20 at 0.6 %; the 202.21 hold's excess comes back
    [fill] = engine.fills()
    assert (fill.price, fill.size, fill.commission, fill.liquidity) == (
        D("20000"),
        D("0.01"),
        D("1.20"),
        "TAKER",
    )
    assert (order.status, order.hold, order.average_filled_price) == ("FILLED", D(0), D("20000"))
    assert balance(engine, "USD") == (D("9798.80"), D(0))
    assert balance(engine, "BTC") == (D("1.01"), D(0))


def test_marketable_limit_takes_only_the_liquidity_left_and_rests_the_rest() -> None:
    # Arrange
    engine = make_engine()
    engine.set_last_price("BTC-USD", D("20000"), liquidity=D("0.004"))
    # Act
    order = place(engine, limit("c", SELL, "0.01", "19950"))
    # Assert
    assert (order.status, order.filled_size, order.hold) == ("OPEN", D("0.004"), D("0.006"))
    assert [f.price for f in engine.fills()] == [D("20000")]


def test_market_buy_in_quote_spends_at_most_its_quote_size_fee_included() -> None:
    # Arrange
    engine = make_engine()
    # Act
    order = place(engine, CreateOrderRequest.market("c", "BTC-USD", BUY, quote_size=D("100")))
    # Assert
    spent = order.filled_value + order.total_fees
    one_more = order.filled_size + BTC_USD.base_increment
    assert order.status == "FILLED"
    assert spent <= D("100")
    value = D("20000") * one_more
    assert value + ceil_to(value * D("0.006"), D("0.01")) > D("100")
    assert balance(engine, "USD") == (D("10000") - spent, D(0))
    assert order.completion_percentage <= D("100")


def test_market_sell_cancels_what_the_liquidity_could_not_fill() -> None:
    # Arrange
    engine = make_engine()
    engine.set_last_price("BTC-USD", D("20000"), liquidity=D("0.2"))
    # Act
    order = place(engine, CreateOrderRequest.market("c", "BTC-USD", SELL, base_size=D("0.5")))
    # Assert: IOC, the rest is cancelled and its hold released
    assert (order.status, order.filled_size, order.hold) == ("CANCELLED", D("0.2"), D(0))
    assert "Immediate or cancel" in order.cancel_reason
    assert balance(engine, "BTC") == (D("0.8"), D(0))
    assert balance(engine, "USD") == (D("10000") + D("4000") - D("24"), D(0))


def test_market_order_filled_in_full_is_filled() -> None:
    engine = make_engine()
    order = place(engine, CreateOrderRequest.market("c", "BTC-USD", SELL, base_size=D("0.5")))
    assert (order.status, order.filled_size, order.completion_percentage) == (
        "FILLED",
        D("0.5"),
        D("100.00"),
    )


# -- market moves ------------------------------------------------------------------------------


def test_resting_buy_fills_at_its_limit_as_maker_when_the_price_falls_through_it() -> None:
    # Arrange
    engine = make_engine()
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    # Act
    fills = engine.market_move("BTC-USD", D("19800"), D("5"), NOW + 60)
    # Assert: 199 at the maker rate 0.4 % = 0.796 -> 0.80; hold 200.20, 0.40 released
    assert [(f.price, f.size, f.commission, f.liquidity) for f in fills] == [
        (D("19900"), D("0.01"), D("0.80"), "MAKER")
    ]
    assert (order.status, order.hold, order.last_fill_time) == ("FILLED", D(0), NOW + 60)
    assert balance(engine, "USD") == (D("9800.20"), D(0))
    assert engine.last_price("BTC-USD") == D("19800")


def test_resting_sell_fills_at_its_limit_when_the_price_rises_to_it() -> None:
    engine = make_engine()
    place(engine, limit("c", SELL, "0.5", "20500"))
    fills = engine.market_move("BTC-USD", D("20500"), D("5"), NOW + 60)
    assert [(f.price, f.commission, f.liquidity) for f in fills] == [
        (D("20500"), D("41.00"), "MAKER")
    ]
    assert balance(engine, "BTC") == (D("0.5"), D(0))
    assert balance(engine, "USD") == (D("10000") + D("10250") - D("41"), D(0))


def test_resting_order_does_not_fill_when_the_leg_stays_on_its_other_side() -> None:
    engine = make_engine()
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    assert engine.market_move("BTC-USD", D("19900.01"), D("5"), NOW + 60) == []
    assert engine.market_move("BTC-USD", D("20600"), D("5"), NOW + 120) == []
    assert order.filled_size == D(0)


def test_stop_down_triggers_and_fills_at_the_stop_as_taker_on_a_continuous_leg() -> None:
    # Arrange
    engine = make_engine()
    order = place(engine, stop("c", SELL, "0.5", "18900", "19000", direction=DOWN))
    # Act
    fills = engine.market_move("BTC-USD", D("18500"), D("5"), NOW + 60)
    # Assert: 9500 at 0.6 % = 57
    assert [(f.price, f.liquidity, f.commission) for f in fills] == [
        (D("19000"), "TAKER", D("57.00"))
    ]
    assert (order.trigger_status, order.status) == ("STOP_TRIGGERED", "FILLED")
    assert balance(engine, "USD") == (D("19443"), D(0))


def test_stop_down_on_a_gap_fills_at_the_new_price_when_it_is_above_the_limit() -> None:
    engine = make_engine()
    place(engine, stop("c", SELL, "0.5", "18900", "19000", direction=DOWN))
    fills = engine.market_move("BTC-USD", D("18950"), D("5"), NOW + 60, gap=True)
    assert [(f.price, f.liquidity) for f in fills] == [(D("18950"), "TAKER")]


def test_stop_down_on_a_gap_below_its_limit_rests_as_a_limit_sell() -> None:
    # Arrange
    engine = make_engine()
    order = place(engine, stop("c", SELL, "0.5", "18900", "19000", direction=DOWN))
    # Act
    gapped = engine.market_move("BTC-USD", D("18800"), D("5"), NOW + 60, gap=True)
    recovered = engine.market_move("BTC-USD", D("19100"), D("5"), NOW + 120)
    # Assert
    assert gapped == []
    assert [(f.price, f.liquidity) for f in recovered] == [(D("18900"), "MAKER")]
    assert (order.trigger_status, order.status) == ("STOP_TRIGGERED", "FILLED")


def test_stop_up_buy_mirrors_the_stop_down_sell() -> None:
    # Arrange
    engine = make_engine()
    order = place(engine, stop("c", BUY, "0.01", "21100", "21000", direction=UP))
    assert order.hold == D("212.27")  # 0.01 * 21100 * 1.006 = 212.266
    # Act
    fills = engine.market_move("BTC-USD", D("21500"), D("5"), NOW + 60)
    # Assert: 210 + 1.26 fee; the rest of the hold is released
    assert [(f.price, f.liquidity, f.commission) for f in fills] == [
        (D("21000"), "TAKER", D("1.26"))
    ]
    assert balance(engine, "USD") == (D("10000") - D("211.26"), D(0))


def test_gap_through_a_resting_limit_fills_it_at_its_own_limit_price() -> None:
    engine = make_engine()
    place(engine, limit("c", BUY, "0.01", "19900"))
    fills = engine.market_move("BTC-USD", D("19500"), D("5"), NOW + 60, gap=True)
    assert [(f.price, f.liquidity) for f in fills] == [(D("19900"), "MAKER")]


def test_participation_caps_a_leg_and_the_rest_fills_on_the_next_leg() -> None:
    # Arrange: our fills may take 10 % of each leg's volume
    engine = make_engine(participation=D("0.1"))
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    # Act
    first = engine.market_move("BTC-USD", D("19800"), D("0.05"), NOW + 60)
    after_first = (order.status, order.filled_size, order.hold)
    second = engine.market_move("BTC-USD", D("19700"), D("0.05"), NOW + 120)
    # Assert: 0.005 per leg; 99.50 + 0.40 fee each
    assert [f.size for f in first] == [D("0.005")]
    assert after_first == ("OPEN", D("0.005"), D("100.30"))
    assert [(f.price, f.size) for f in second] == [(D("19900"), D("0.005"))]
    assert (order.status, order.number_of_fills) == ("FILLED", 2)
    assert balance(engine, "USD") == (D("9800.20"), D(0))


def test_the_cap_serves_orders_in_price_time_priority() -> None:
    # Arrange
    engine = make_engine()
    lowest = place(engine, limit("a", BUY, "0.01", "19800"))
    older = place(engine, limit("b", BUY, "0.01", "19900"))
    newer = place(engine, limit("c", BUY, "0.01", "19900"))
    # Act: the leg trades 0.015 BTC on its way down to 19700
    fills = engine.market_move("BTC-USD", D("19700"), D("0.015"), NOW + 60)
    # Assert
    assert [(f.order_id, f.size) for f in fills] == [
        (older.order_id, D("0.01")),
        (newer.order_id, D("0.005")),
    ]
    assert lowest.filled_size == D(0)


def test_fees_are_rounded_up_to_the_quote_increment_on_ada_btc_prices() -> None:
    # Arrange
    engine = MatchingEngine([ADA_BTC], {"BTC": D("1"), "ADA": D("100")})
    engine.set_last_price("ADA-BTC", D("0.00005400"))
    buy = place(engine, CreateOrderRequest.limit("b", "ADA-BTC", BUY, D("7"), D("0.00005329")))
    # Act
    [maker] = engine.market_move("ADA-BTC", D("0.00005300"), D("1000"), NOW + 60)
    sell = place(engine, CreateOrderRequest.market("s", "ADA-BTC", SELL, base_size=D("7")))
    # Assert: 7 * 0.00005329 = 0.00037303; 0.4 % = 0.00000149212 -> 0.00000150
    assert (maker.price, maker.commission) == (D("0.00005329"), D("0.00000150"))
    assert buy.total_value_after_fees == D("0.00037453")
    # ... and 7 * 0.00005300 = 0.000371 at 0.6 % = 0.000002226 -> 0.00000223
    [taker] = engine.fills(order_ids=[sell.order_id])
    assert (taker.price, taker.commission) == (D("0.00005300"), D("0.00000223"))
    assert balance(engine, "BTC") == (
        D("1") - D("0.00037453") + D("0.000371") - D("0.00000223"),
        D(0),
    )


@pytest.mark.parametrize(
    ("spare", "fills", "status", "left_available"),
    [
        ("0", 2, "OPEN", "0"),  # the third fill would overdraw: it waits
        ("0.00000002", 3, "FILLED", "0.000000017"),  # the 0.3e-8 excess comes from available
    ],
)
def test_per_fill_fee_rounding_beyond_the_hold_never_overdraws(
    spare: str, fills: int, status: str, left_available: str
) -> None:
    # Arrange: 0.0001 ETH at 0.09001 is worth 0.000009001 BTC, finer than the 1e-8 increment,
    # so three fills pay 3 * 6e-8 in fees where the hold counted ceil(0.000027003 * 0.006) = 17e-8
    eth_btc = Product(
        "ETH-BTC",
        base_increment=D("0.0001"),
        price_increment=D("0.00001"),
        base_min_size=D("0.0001"),
        quote_increment=D("0.00000001"),
    )
    hold = D("0.00002718")  # ceil(0.0003 * 0.09001) + ceil(0.0003 * 0.09001 * 0.006)
    assert eth_btc.order_cost(D("0.09001"), D("0.0003"), D("0.006")) == hold
    engine = MatchingEngine(
        [eth_btc], {"BTC": hold + D(spare)}, maker_fee_rate=D("0.006"), taker_fee_rate=D("0.006")
    )
    engine.set_last_price("ETH-BTC", D("0.09100"))
    req = CreateOrderRequest.limit("c", "ETH-BTC", BUY, D("0.0003"), D("0.09001"))
    order = place(engine, req)
    assert order.hold == hold
    # Act: three legs, each trading one increment
    for step, price in enumerate(("0.09000", "0.08999", "0.08998")):
        engine.market_move("ETH-BTC", D(price), D("0.0001"), NOW + step)
    # Assert
    assert [f.commission for f in engine.fills()] == [D("0.00000006")] * fills
    assert order.status == status
    available, held = balance(engine, "BTC")
    assert (available, held) == (D(left_available), order.hold)
    assert available >= 0 and held >= 0


def test_market_move_on_an_unknown_product_raises() -> None:
    with pytest.raises(KeyError):
        make_engine().market_move("DOGE-USD", D("1"), D("1"), NOW)


# -- edits -------------------------------------------------------------------------------------


def test_edit_changes_price_and_size_keeps_the_id_and_moves_the_hold() -> None:
    # Arrange
    engine = make_engine()
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    # Act
    result = engine.edit_order(order.order_id, price=D("19800"), size=D("0.02"), now=NOW + 1)
    # Assert: 0.02 * 19800 * 1.006 = 398.376 -> 398.38
    assert (result.success, result.errors) == (True, [])
    assert engine.order(order.order_id) is order
    assert (order.limit_price, order.size, order.hold) == (D("19800"), D("0.02"), D("398.38"))
    assert order.edit_history == [EditRecord(D("19800"), D("0.02"), None, NOW + 1)]
    assert balance(engine, "USD") == (D("10000") - D("398.38"), D("398.38"))


def test_edit_of_a_partly_filled_order_holds_only_for_what_remains() -> None:
    # Arrange
    engine = make_engine(participation=D("0.1"))
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    engine.market_move("BTC-USD", D("19850"), D("0.05"), NOW + 60)  # fills 0.005
    # Act
    below = engine.edit_order(order.order_id, price=D("19900"), size=D("0.004"), now=NOW + 61)
    grown = engine.edit_order(order.order_id, price=D("19900"), size=D("0.02"), now=NOW + 62)
    # Assert: 0.015 left at 19900 with 0.6 % = 300.291 -> 300.30
    assert below.errors == ["CANNOT_EDIT_TO_BELOW_FILLED_SIZE"]
    assert grown.success
    assert (order.filled_size, order.hold) == (D("0.005"), D("300.30"))


def test_edit_of_a_stop_limit_moves_its_stop_and_keeps_it_pending() -> None:
    engine = make_engine()
    order = place(engine, stop("c", SELL, "0.5", "18900", "19000", direction=DOWN))
    result = engine.edit_order(
        order.order_id, price=D("19400"), size=D("0.5"), stop_price=D("19500"), now=NOW + 1
    )
    assert result.success
    assert (order.stop_price, order.limit_price, order.trigger_status) == (
        D("19500"),
        D("19400"),
        "STOP_PENDING",
    )
    fills = engine.market_move("BTC-USD", D("19450"), D("5"), NOW + 60)
    assert [f.price for f in fills] == [D("19500")]


def test_edited_limit_that_becomes_marketable_takes_at_once() -> None:
    engine = make_engine()
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    engine.edit_order(order.order_id, price=D("20000.01"), size=D("0.01"), now=NOW + 1)
    assert (order.status, engine.fills()[0].liquidity) == ("FILLED", "TAKER")


def test_edit_loses_time_priority() -> None:
    engine = make_engine()
    first = place(engine, limit("a", BUY, "0.01", "19900"))
    second = place(engine, limit("b", BUY, "0.01", "19900"))
    engine.edit_order(first.order_id, price=D("19900"), size=D("0.011"), now=NOW + 1)
    fills = engine.market_move("BTC-USD", D("19800"), D("0.01"), NOW + 60)
    assert [f.order_id for f in fills] == [second.order_id]


def _edit_case(engine: MatchingEngine, case: str) -> tuple[str, dict[str, Decimal]]:
    """Arrange one refused edit: the order id and the edit's terms."""
    terms = {"price": D("19900"), "size": D("0.01")}
    if case == "ORDER_NOT_FOUND":
        return "nope", terms
    if case == "ONLY_OPEN_ORDERS_CAN_BE_EDITED":
        order = place(engine, limit("c", BUY, "0.01", "19900"))
        engine.cancel_orders([order.order_id], NOW)
        return order.order_id, {"price": D("19800"), "size": D("0.01")}
    if case == "ONLY_LIMIT_ORDER_EDITS_SUPPORTED":
        order = place(engine, limit("c", BUY, "0.01", "19900", end_time=NOW + 600))  # GTD
        return order.order_id, {"price": D("19800"), "size": D("0.01")}
    if case == "CANNOT_EDIT_STOP_PRICE_FOR_TRIGGERED_ORDER":
        order = place(engine, stop("c", SELL, "0.5", "18900", "19000", direction=DOWN))
        engine.market_move("BTC-USD", D("18800"), D("5"), NOW, gap=True)  # triggers, rests
        return order.order_id, {"price": D("18800"), "size": D("0.5")}
    order = place(engine, limit("c", BUY, "0.01", "19900", post_only=True))
    return order.order_id, {
        "INVALID_PRICE_PRECISION": {"price": D("19800.001"), "size": D("0.01")},
        "INVALID_SIZE_PRECISION": {"price": D("19800"), "size": D("0.010000001")},
        "INSUFFICIENT_FUND": {"price": D("19800"), "size": D("0.6")},
        "INVALID_EDITED_LIMIT_PRICE_POST_ONLY": {"price": D("20000.01"), "size": D("0.01")},
        "EDIT_REQUEST_EQUAL_TO_ORIGINAL_REQUEST": terms,
        "ORDER_SIZE_TOO_SMALL": {"price": D("19800"), "size": D("0.00001")},
    }[case]


@pytest.mark.parametrize(
    "case",
    [
        "ORDER_NOT_FOUND",
        "ONLY_OPEN_ORDERS_CAN_BE_EDITED",
        "ONLY_LIMIT_ORDER_EDITS_SUPPORTED",
        "CANNOT_EDIT_STOP_PRICE_FOR_TRIGGERED_ORDER",
        "INVALID_PRICE_PRECISION",
        "INVALID_SIZE_PRECISION",
        "INSUFFICIENT_FUND",
        "INVALID_EDITED_LIMIT_PRICE_POST_ONLY",
        "EDIT_REQUEST_EQUAL_TO_ORIGINAL_REQUEST",
        "ORDER_SIZE_TOO_SMALL",
    ],
)
def test_refused_edit_says_why_and_changes_nothing(case: str) -> None:
    # Arrange
    engine = make_engine()
    order_id, terms = _edit_case(engine, case)
    before = (engine.accounts(), [o.snapshot() for o in engine.orders()])
    # Act
    result = engine.edit_order(order_id, **terms, now=NOW + 1)
    # Assert
    assert (result.success, result.errors) == (False, [case])
    assert (engine.accounts(), engine.orders()) == before


def test_market_order_cannot_be_edited() -> None:
    engine = make_engine()
    engine.set_last_price("BTC-USD", D("20000"), liquidity=D(0))
    order = place(engine, CreateOrderRequest.market("m", "BTC-USD", SELL, base_size=D("0.1")))
    result = engine.edit_order(order.order_id, price=D("1"), size=D("0.1"), now=NOW)
    assert result.errors == ["ONLY_OPEN_ORDERS_CAN_BE_EDITED"]


# -- queries, updates, ids ---------------------------------------------------------------------


def test_drain_updates_returns_snapshots_in_change_order_then_nothing() -> None:
    # Arrange
    engine = make_engine()
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    engine.market_move("BTC-USD", D("19800"), D("5"), NOW + 60)
    # Act
    updates = engine.drain_updates()
    # Assert
    assert [(u.order_id, u.status, u.filled_size) for u in updates] == [
        (order.order_id, "OPEN", D(0)),
        (order.order_id, "FILLED", D("0.01")),
    ]
    assert updates[0] is not order
    assert engine.drain_updates() == []


def test_without_snapshots_drain_updates_gives_each_changed_order_itself_as_it_is_now() -> None:
    # Arrange: the backtester's engine, which reads every change at once
    engine = MatchingEngine([BTC_USD], {"USD": D("10000"), "BTC": D("1")}, snapshots=False)
    engine.set_last_price("BTC-USD", D("20000"))
    order = place(engine, limit("c", BUY, "0.01", "19900"))
    engine.market_move("BTC-USD", D("19800"), D("5"), NOW + 60)
    # Act
    updates = engine.drain_updates()
    # Assert: one entry per change, each the order itself (no copy), in its latest state
    assert [u.order_id for u in updates] == [order.order_id, order.order_id]
    live = engine.order_by_client_id("c")
    assert all(u is live for u in updates)
    assert (live.status, live.filled_size) == ("FILLED", D("0.01"))
    assert engine.drain_updates() == []


def test_orders_and_fills_can_be_filtered() -> None:
    engine = make_engine()
    resting = place(engine, limit("a", BUY, "0.01", "19000"))
    taken = place(engine, limit("b", BUY, "0.01", "20000.01"))
    assert engine.orders(statuses=["OPEN"]) == [resting]
    assert engine.orders(product_ids=["ETH-USD"]) == []
    assert [f.order_id for f in engine.fills(order_ids=[taken.order_id])] == [taken.order_id]
    assert engine.fills(product_ids=["ETH-USD"]) == []
    assert engine.order("nope") is None
    assert engine.order_by_client_id("b") is taken


def test_same_seed_and_calls_give_the_same_ids_and_another_seed_others() -> None:
    def run(seed: int) -> list[str]:
        engine = MatchingEngine([BTC_USD], {"USD": D("10000")}, seed=seed)
        engine.set_last_price("BTC-USD", D("20000"))
        order = place(engine, limit("c", BUY, "0.01", "20000"))
        return [order.order_id, *(f.trade_id for f in engine.fills())]

    assert run(1) == run(1)
    assert run(1) != run(2)
