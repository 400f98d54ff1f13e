"""The Coinbase adapter's order calls against the simulator: create, cancel, edit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ratchet.domain.candles import CANDLE_SECONDS
from ratchet.domain.money import floor_to
from ratchet.domain.orders import (
    OperatorAction,
    OperatorCommand,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ratchet.ports import EditResult, OrderRefused

D = Decimal
TAKES = D("-0.001")  # a buy limit 0.1 % above the last trade: it takes at once


def stop_sell(sim, cid: str, pid: str = "ETH-BTC", *, below: str = "0.05") -> Order:
    """A stop-limit sell with its stop ``below`` under the last price (a protective exit)."""
    product, last = sim.engine.product(pid), sim.engine.last_price(pid)
    stop = floor_to(last * (1 - D(below)), product.price_increment)
    return Order(
        cid,
        pid,
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        product.base_min_size * 3,
        limit_price=stop - product.price_increment * 10,
        stop_price=stop,
    )


# -- creating orders ---------------------------------------------------------------------
async def test_a_limit_gtc_buy_rests_on_the_exchange(sim, exchange, limit_buy):
    # Arrange
    order = limit_buy()

    # Act
    report = await exchange.place_order(order)

    # Assert
    [placed] = sim.orders_with_client_id(order.client_order_id)
    assert report.exchange_order_id == placed.order_id
    assert (placed.status, placed.time_in_force) == ("OPEN", "GOOD_UNTIL_CANCELLED")
    assert (placed.limit_price, placed.size) == (order.limit_price, order.size)
    fetched = await exchange.get_order(report.exchange_order_id)
    assert fetched.status is OrderStatus.OPEN
    assert (fetched.order_type, fetched.limit_price) == (OrderType.LIMIT, order.limit_price)


async def test_a_limit_gtd_buy_carries_its_end_time_and_expires_then(sim, exchange, limit_buy):
    # Arrange
    end_time = int(sim.sim_now) + 2 * CANDLE_SECONDS
    order = limit_buy(time_in_force=TimeInForce.GTD, end_time=end_time)

    # Act
    report = await exchange.place_order(order)
    sim.step_candles(3)

    # Assert
    [placed] = sim.orders_with_client_id(order.client_order_id)
    assert (placed.time_in_force, placed.end_time) == ("GOOD_UNTIL_DATE_TIME", end_time)
    fetched = await exchange.get_order(report.exchange_order_id)
    assert fetched.status is OrderStatus.EXPIRED


async def test_a_post_only_buy_that_would_take_is_refused(sim, exchange, limit_buy):
    # Arrange
    order = limit_buy(below=TAKES, post_only=True)

    # Act
    with pytest.raises(OrderRefused) as refused:
        await exchange.place_order(order)

    # Assert
    assert refused.value.reason == "INVALID_LIMIT_PRICE_POST_ONLY"
    assert refused.value.client_order_id == order.client_order_id
    assert sim.orders_with_client_id(order.client_order_id) == []


async def test_a_stop_limit_sell_waits_for_its_stop(sim, exchange, client_ids):
    # Arrange
    order = stop_sell(sim, client_ids("ETH-BTC"))

    # Act
    report = await exchange.place_order(order)

    # Assert
    [placed] = sim.orders_with_client_id(order.client_order_id)
    assert (placed.trigger_status, placed.stop_direction) == (
        "STOP_PENDING",
        "STOP_DIRECTION_STOP_DOWN",
    )
    assert sim.engine.account("ETH").hold == order.size
    fetched = await exchange.get_order(report.exchange_order_id)
    assert fetched.order_type is OrderType.STOP_LIMIT
    assert (fetched.stop_price, fetched.limit_price) == (order.stop_price, order.limit_price)


async def test_a_stop_limit_sell_triggers_when_the_market_falls_through_its_stop(
    sim, exchange, client_ids
):
    # Arrange
    order = stop_sell(sim, client_ids("ETH-BTC"), below="0.001")
    report = await exchange.place_order(order)

    # Act
    sim.step_candles(30)

    # Assert
    fetched = await exchange.get_order(report.exchange_order_id)
    fills = await exchange.list_fills(exchange_order_ids=[report.exchange_order_id])
    assert fetched.status is OrderStatus.FILLED
    assert sum(f.size for f in fills) == order.size
    assert all(order.limit_price <= f.price <= order.stop_price for f in fills)
    assert sim.engine.order(report.exchange_order_id).trigger_status == "STOP_TRIGGERED"


async def test_a_buy_larger_than_the_balance_is_refused_for_insufficient_funds(
    sim, exchange, limit_buy
):
    # Arrange
    order = limit_buy(size=D(100_000))

    # Act
    with pytest.raises(OrderRefused) as refused:
        await exchange.place_order(order)

    # Assert
    assert refused.value.reason == "INSUFFICIENT_FUND"
    assert sim.orders_with_client_id(order.client_order_id) == []


async def test_an_operator_market_sell_takes_at_once(sim, exchange, client_ids):
    # Arrange
    action = OperatorAction(OperatorCommand.FORCE_EXIT, "alice", "integration test", 0)
    order = Order(
        client_ids("ETH-BTC"),
        "ETH-BTC",
        OrderSide.SELL,
        OrderType.MARKET,
        D("0.1"),
        operator_action=action,
    )

    # Act
    report = await exchange.place_order(order)

    # Assert
    fetched = await exchange.get_order(report.exchange_order_id)
    assert fetched.order_type is OrderType.MARKET
    assert fetched.status is OrderStatus.FILLED
    fills = await exchange.list_fills(exchange_order_ids=[report.exchange_order_id])
    assert sum(f.size for f in fills) == D("0.1")
    assert {f.liquidity for f in fills} == {"TAKER"}


async def test_a_repeated_client_order_id_returns_the_same_order(sim, exchange, limit_buy):
    # Arrange
    order = limit_buy()
    first = await exchange.place_order(order)

    # Act
    again = await exchange.place_order(order)

    # Assert
    assert again.exchange_order_id == first.exchange_order_id
    assert len(sim.orders_with_client_id(order.client_order_id)) == 1
    assert sim.count("POST", "/orders") == 2


# -- cancelling and editing --------------------------------------------------------------
async def test_a_batch_cancel_answers_every_id_including_unknown_and_filled_ones(
    sim, exchange, limit_buy
):
    # Arrange
    resting = await exchange.place_order(limit_buy())
    filled = await exchange.place_order(limit_buy(below=TAKES))
    assert (await exchange.get_order(filled.exchange_order_id)).status is OrderStatus.FILLED
    ids = [resting.exchange_order_id, "no-such-order", filled.exchange_order_id]

    # Act
    results = await exchange.cancel_orders(ids)
    repeated = await exchange.cancel_orders([resting.exchange_order_id])

    # Assert
    assert [(r.exchange_order_id, r.success) for r in results] == [
        (ids[0], True),
        (ids[1], False),
        (ids[2], False),
    ]
    assert [r.reason for r in results[1:]] == ["UNKNOWN_CANCEL_ORDER", "ORDER_IS_FULLY_FILLED"]
    assert sim.engine.order(resting.exchange_order_id).status == "CANCELLED"
    assert (repeated[0].success, repeated[0].reason) == (False, "DUPLICATE_CANCEL_REQUEST")


async def test_cancelling_more_than_one_batch_sends_several_requests(sim, exchange):
    # Arrange
    ids = [f"unknown-{index}" for index in range(150)]

    # Act
    results = await exchange.cancel_orders(ids)

    # Assert
    assert [r.exchange_order_id for r in results] == ids
    assert sim.count("POST", "/orders/batch_cancel") == 2


async def test_an_accepted_edit_changes_price_and_size(sim, exchange, limit_buy):
    # Arrange
    order = limit_buy()
    report = await exchange.place_order(order)
    new_price = order.limit_price - D("0.00001")

    # Act
    result = await exchange.edit_order(
        report.exchange_order_id, size=order.size * 2, limit_price=new_price
    )

    # Assert
    assert result == EditResult(True)
    fetched = await exchange.get_order(report.exchange_order_id)
    assert (fetched.limit_price, fetched.size) == (new_price, order.size * 2)


async def test_a_stop_is_ratcheted_up_by_an_edit_that_keeps_the_order_id(sim, exchange, client_ids):
    # Arrange
    order = stop_sell(sim, client_ids("ETH-BTC"), below="0.05")
    report = await exchange.place_order(order)
    tick = sim.engine.product("ETH-BTC").price_increment
    new_stop = order.stop_price + 1000 * tick

    # Act
    result = await exchange.edit_order(
        report.exchange_order_id,
        size=order.size,
        limit_price=new_stop - 10 * tick,
        stop_price=new_stop,
    )

    # Assert
    assert result.success
    fetched = await exchange.get_order(report.exchange_order_id)
    assert (fetched.stop_price, fetched.limit_price) == (new_stop, new_stop - 10 * tick)
    assert fetched.status is OrderStatus.OPEN
    assert len(sim.engine.orders()) == 1


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("cancelled", "ONLY_OPEN_ORDERS_CAN_BE_EDITED"),
        ("unknown", "ORDER_NOT_FOUND"),
        ("unchanged", "EDIT_REQUEST_EQUAL_TO_ORIGINAL_REQUEST"),
    ],
)
async def test_a_refused_edit_says_why(sim, exchange, limit_buy, target, reason):
    # Arrange
    order = limit_buy()
    report = await exchange.place_order(order)
    order_id = report.exchange_order_id
    if target == "cancelled":
        await exchange.cancel_orders([order_id])
    elif target == "unknown":
        order_id = "no-such-order"

    # Act
    result = await exchange.edit_order(order_id, size=order.size, limit_price=order.limit_price)

    # Assert
    assert result == EditResult(False, reason)
