"""Every REST fault of the simulator against the adapter: what is retried, what is looked up.

The invariant behind all of them (DESIGN.md §2.5): one client_order_id never becomes two
exchange orders, whatever fails in between.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratchet.coinbase.client import CoinbaseExchange, OrderStateUnknown
from ratchet.coinbase.limits import RetryPolicy
from ratchet.domain.orders import OrderStatus
from ratchet.ports import ExchangeUnavailable

D = Decimal
HISTORY = "/api/v3/brokerage/orders/historical"


def elapsed_since(start: float) -> float:
    return asyncio.get_running_loop().time() - start


def now() -> float:
    return asyncio.get_running_loop().time()


# -- latency -----------------------------------------------------------------------------
async def test_calls_still_succeed_under_latency(sim, exchange, limit_buy):
    # Arrange
    sim.faults.set(latency_ms=100)
    started = now()

    # Act
    products = await exchange.products()
    report = await exchange.place_order(limit_buy())

    # Assert
    assert len(products) == len(sim.candles)
    assert sim.engine.order(report.exchange_order_id) is not None
    assert elapsed_since(started) >= 0.2


# -- 5xx -----------------------------------------------------------------------------------
async def test_a_few_5xx_replies_are_retried_until_the_call_succeeds(sim, exchange, transport):
    # Arrange
    sim.faults.set(http_5xx=2)

    # Act
    balances = await exchange.balances()

    # Assert
    assert balances["BTC"].available == D(10)
    assert sim.faults.hits["http_5xx"] == 2
    assert transport.calls == sim.count("GET", "/accounts") == 3


async def test_more_5xx_replies_than_attempts_raise_exchange_unavailable(sim, exchange, transport):
    # Arrange
    sim.faults.set(http_5xx=10)

    # Act / Assert
    with pytest.raises(ExchangeUnavailable, match="HTTP 503"):
        await exchange.balances()
    assert transport.calls == transport.retry.attempts == 5


async def test_a_create_retried_after_5xx_makes_exactly_one_order(sim, exchange, limit_buy):
    # Arrange
    order = limit_buy()
    sim.faults.set(http_5xx=3)

    # Act
    report = await exchange.place_order(order)

    # Assert
    [placed] = sim.orders_with_client_id(order.client_order_id)
    assert report.exchange_order_id == placed.order_id
    assert sim.count("POST", "/orders") == 4


# -- 429 ----------------------------------------------------------------------------------
async def test_the_simulator_answers_every_other_429_in_html(sim, transport):
    # Arrange
    sim.faults.set(http_429=2, retry_after=1.5)
    url = f"{sim.endpoints.rest}/time"

    # Act
    async with aiohttp.ClientSession() as session:
        replies = []
        for _ in range(2):
            async with session.get(url) as response:
                replies.append(
                    (response.status, response.content_type, response.headers["Retry-After"])
                )

    # Assert
    assert replies == [(429, "application/json", "1.5"), (429, "text/html", "1.5")]


async def test_429_replies_json_and_html_are_retried_after_retry_after(sim, exchange):
    # Arrange
    sim.faults.set(http_429=2, retry_after=0.2)
    started = now()

    # Act
    balances = await exchange.balances()

    # Assert
    assert balances["BTC"].available == D(10)
    assert sim.faults.hits["http_429"] == 2
    assert elapsed_since(started) >= 0.4 - 0.02
    assert sim.count("GET", "/accounts") == 3


async def test_a_429_pauses_every_caller_of_the_limit_class(sim, exchange):
    # Arrange
    sim.faults.set(http_429=1, retry_after=0.3)
    first = asyncio.create_task(exchange.balances())
    while sim.faults.hits["http_429"] == 0:
        await asyncio.sleep(0.005)
    paused_at = now()

    # Act
    await exchange.products()

    # Assert
    assert elapsed_since(paused_at) >= 0.25
    assert (await first)["BTC"].available == D(10)


async def test_more_429_replies_than_attempts_raise_exchange_unavailable(sim, exchange):
    # Arrange
    sim.faults.set(http_429=10, retry_after=0.01)

    # Act / Assert
    with pytest.raises(ExchangeUnavailable, match="HTTP 429"):
        await exchange.products()
    assert sim.faults.hits["http_429"] == 5


# -- a timeout after the order was accepted -----------------------------------------------
async def test_a_create_that_times_out_after_acceptance_is_resolved_by_a_lookup(
    sim, exchange, limit_buy
):
    # Arrange
    order = limit_buy()
    sim.faults.set(timeout_after_accept=1, hang_seconds=1.0)

    # Act
    report = await exchange.place_order(order)

    # Assert
    [placed] = sim.orders_with_client_id(order.client_order_id)
    assert report.exchange_order_id == placed.order_id
    assert report.status is OrderStatus.OPEN  # read back from the exchange, not assumed
    assert sim.faults.hits["timeout_after_accept"] == 1
    assert sim.count("POST", "/orders") == 1
    assert sim.count("GET", "/orders/historical/batch") >= 1


async def test_a_create_whose_connection_drops_after_acceptance_is_resent_and_deduplicated(
    sim, exchange, limit_buy
):
    # Arrange
    order = limit_buy()
    sim.faults.set(timeout_after_accept=1, hang_seconds=0.05)  # dropped before the timeout

    # Act
    report = await exchange.place_order(order)

    # Assert
    [placed] = sim.orders_with_client_id(order.client_order_id)
    assert report.exchange_order_id == placed.order_id
    assert sim.count("POST", "/orders") == 2  # the resend got the existing order back


async def test_a_timed_out_create_whose_lookup_fails_is_unknown_then_resent_safely(
    sim, exchange, limit_buy
):
    # Arrange
    order = limit_buy()
    sim.faults.set(timeout_after_accept=1, hang_seconds=0.8, http_5xx=1000, path_prefix=HISTORY)

    # Act
    with pytest.raises(OrderStateUnknown) as unknown:
        await exchange.place_order(order)
    sim.faults.clear()
    report = await exchange.place_order(order)

    # Assert
    assert unknown.value.client_order_id == order.client_order_id
    [placed] = sim.orders_with_client_id(order.client_order_id)
    assert report.exchange_order_id == placed.order_id
    assert sim.count("POST", "/orders") == 2


# -- a campaign of mixed faults --------------------------------------------------------------
CAMPAIGN_RETRY = RetryPolicy(attempts=4, base_delay=0.005, max_delay=0.02, timeout=0.15)
FAULT_NAMES = ("http_5xx", "http_5xx_rate", "http_429", "timeout_after_accept", "latency_ms")

attempt = st.tuples(
    st.sampled_from((None, *FAULT_NAMES)),  # the fault switched on before the create
    st.integers(min_value=1, max_value=6),  # its count (latency: x10 ms, rate: /10)
    st.integers(min_value=0, max_value=3),  # which of four orders (ids repeat: retries)
    st.booleans(),  # send it twice at once
    st.integers(min_value=0, max_value=4),  # market legs to step afterwards
)


def fault_value(name: str, count: int) -> float:
    return {"latency_ms": count * 10.0, "http_5xx_rate": count / 10}.get(name, float(count))


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(attempts=st.lists(attempt, min_size=3, max_size=8))
async def test_no_mix_of_faults_and_retries_makes_two_orders_for_one_client_order_id(
    sim, connect, limit_buy, attempts
):
    # Arrange
    sim.faults.clear()
    sim.faults.set(retry_after=0.01, hang_seconds=0.25, seed=len(attempts))
    exchange = CoinbaseExchange(connect(sim, retry=CAMPAIGN_RETRY), lookup_attempts=2)
    orders = [limit_buy(("ETH-BTC", "LTC-BTC")[i % 2]) for i in range(4)]  # fresh ids
    reported: dict[str, set[str]] = {order.client_order_id: set() for order in orders}

    async def place(index: int) -> bool:
        try:
            report = await exchange.place_order(orders[index])
        except ExchangeUnavailable:
            return False  # unknown for now: the engine sends the same id again later
        reported[orders[index].client_order_id].add(report.exchange_order_id)
        return True

    # Act
    for name, count, index, twice, legs in attempts:
        if name is not None:
            sim.faults.set(**{name: fault_value(name, count)})
        await asyncio.gather(*(place(index) for _ in range(1 + twice)))
        sim.step(legs)
    sim.faults.clear()
    for index in {index for _, _, index, _, _ in attempts}:
        for _ in range(10):  # the engine's resend once the exchange is healthy again
            if await place(index):
                break

    # Assert
    for order in orders:
        placed = sim.orders_with_client_id(order.client_order_id)
        assert len(placed) <= 1
        assert reported[order.client_order_id] == {p.order_id for p in placed}
