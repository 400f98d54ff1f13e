"""The Coinbase adapter's read calls against the simulator: products, balances, orders, fills,
candles, quotes and time; and what an unknown key gets.
"""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest

from ratchet.coinbase.auth import generate_test_credentials
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RetryPolicy
from ratchet.domain.candles import CANDLE_SECONDS
from ratchet.domain.reports import Balance
from ratchet.ports import AuthenticationError, OrderNotFound

D = Decimal
TAKES = D("-0.001")  # a buy limit 0.1 % above the last trade: it takes at once


# -- products and balances ---------------------------------------------------------------
async def test_products_lists_every_pair_with_the_simulators_increments(sim, exchange):
    # Act
    products = await exchange.products()

    # Assert
    assert sorted(p.product_id for p in products) == sorted(sim.candles)
    for product in products:
        assert product == sim.engine.product(product.product_id)


async def test_products_filtered_by_id_returns_only_those(sim, exchange):
    # Act
    products = await exchange.products(["LTC-BTC", "ADA-BTC"])

    # Assert
    assert sorted(p.product_id for p in products) == ["ADA-BTC", "LTC-BTC"]
    ada = next(p for p in products if p.product_id == "ADA-BTC")
    assert ada.base_increment == D(1)
    assert ada.price_increment == D("0.00000001")
    assert (ada.base_currency, ada.quote_currency) == ("ADA", "BTC")


async def test_balances_show_available_and_held_amounts_of_every_currency(sim, exchange, limit_buy):
    # Arrange
    await exchange.place_order(limit_buy())

    # Act
    balances = await exchange.balances()

    # Assert
    expected = {a.currency: Balance(a.currency, a.available, a.hold) for a in sim.engine.accounts()}
    assert balances == expected
    assert balances["BTC"].hold > 0
    assert balances["BTC"].total == D(10)


async def test_accounts_pages_follow_the_cursor_until_has_next_is_false(sim, transport):
    # Arrange
    seen: list[str] = []
    cursor = ""

    # Act
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await transport.call("GET", "/accounts", params=params)
        seen.extend(account["currency"] for account in page["accounts"])
        assert page["size"] == len(page["accounts"]) <= 2
        if not page["has_next"]:
            assert page["cursor"] == ""
            break
        cursor = page["cursor"]

    # Assert
    assert sorted(seen) == sorted(a.currency for a in sim.engine.accounts())


async def test_balances_read_every_page_when_there_are_more_currencies_than_one_page(
    start_sim, connect
):
    # Arrange
    many = {f"C{index:03d}": D(index + 1) for index in range(300)}
    server = await start_sim(balances={"BTC": D(1), **many})
    exchange = CoinbaseExchange(connect(server))

    # Act
    balances = await exchange.balances()

    # Assert
    assert len(balances) == len(server.engine.accounts()) > 250
    assert balances["C299"].available == D(300)
    assert server.count("GET", "/accounts") == 2


# -- reading orders ----------------------------------------------------------------------
async def test_get_order_of_an_unknown_id_raises_order_not_found(exchange):
    # Act / Assert
    with pytest.raises(OrderNotFound):
        await exchange.get_order("00000000-0000-4000-8000-000000000000")


async def test_find_order_looks_an_order_up_by_client_order_id(sim, exchange, limit_buy):
    # Arrange
    order = limit_buy("LTC-BTC")
    report = await exchange.place_order(order)

    # Act
    found = await exchange.find_order(order.client_order_id)
    found_in_product = await exchange.find_order(order.client_order_id, product_id="LTC-BTC")
    missing = await exchange.find_order("rt-never-sent")

    # Assert
    assert found is not None and found_in_product is not None
    assert found.exchange_order_id == found_in_product.exchange_order_id
    assert found.exchange_order_id == report.exchange_order_id
    assert missing is None


async def test_list_orders_filters_open_orders_and_products(sim, exchange, limit_buy):
    # Arrange
    eth_open = await exchange.place_order(limit_buy("ETH-BTC"))
    ltc_open = await exchange.place_order(limit_buy("LTC-BTC"))
    cancelled = await exchange.place_order(limit_buy("ETH-BTC"))
    await exchange.cancel_orders([cancelled.exchange_order_id])
    await exchange.place_order(limit_buy("ETH-BTC", below=TAKES))  # fills at once

    # Act
    everything = await exchange.list_orders()
    open_orders = await exchange.list_orders(open_only=True)
    ltc_orders = await exchange.list_orders(product_ids=["LTC-BTC"])

    # Assert
    assert len(everything) == 4
    assert {r.exchange_order_id for r in open_orders} == {
        eth_open.exchange_order_id,
        ltc_open.exchange_order_id,
    }
    assert [r.exchange_order_id for r in ltc_orders] == [ltc_open.exchange_order_id]


async def test_list_orders_reads_every_page_and_returns_each_order_once(sim, connect, limit_buy):
    # Arrange
    patient = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, timeout=10)
    exchange = CoinbaseExchange(connect(sim, retry=patient))  # 260 creates at once queue up
    orders = [limit_buy(("ETH-BTC", "LTC-BTC")[index % 2]) for index in range(260)]
    placed = await asyncio.gather(*(exchange.place_order(order) for order in orders))

    # Act
    listed = await exchange.list_orders()

    open_orders = await exchange.list_orders(open_only=True)

    # Assert
    ids = [report.exchange_order_id for report in listed]
    assert len(ids) == len(set(ids)) == 260
    assert set(ids) == {report.exchange_order_id for report in placed}
    assert sorted(r.exchange_order_id for r in open_orders) == sorted(ids)
    assert sim.count("GET", "/orders/historical/batch") == 4


async def test_list_fills_reports_each_trade_once_at_prices_the_market_traded(
    sim, exchange, limit_buy
):
    # Arrange
    reports = [
        await exchange.place_order(limit_buy("ETH-BTC", below=D("0.002"), size=D(5))),
        await exchange.place_order(limit_buy("LTC-BTC", below=D("0.0005"), size=D(1))),
    ]
    sim.step_candles(30)

    # Act
    fills = await exchange.list_fills()
    of_first = await exchange.list_fills(exchange_order_ids=[reports[0].exchange_order_id])
    of_ltc = await exchange.list_fills(product_ids=["LTC-BTC"])

    # Assert
    trade_ids = [fill.trade_id for fill in fills]
    assert len(trade_ids) == len(set(trade_ids)) >= 3
    assert set(trade_ids) == {fill.entry_id for fill in sim.engine.fills()}
    for fill in fills:
        start = int(fill.time // CANDLE_SECONDS) * CANDLE_SECONDS
        [candle] = [c for c in sim.candles[fill.product_id] if c.start == start]
        assert candle.low <= fill.price <= candle.high
    assert {f.exchange_order_id for f in of_first} == {reports[0].exchange_order_id}
    assert {f.product_id for f in of_ltc} == {"LTC-BTC"}


async def test_list_fills_leaves_out_the_trade_ids_it_is_told_are_known(sim, exchange, limit_buy):
    # Arrange: an order with several fills, some of which the caller has already
    report = await exchange.place_order(limit_buy("ETH-BTC", below=D("0.002"), size=D(5)))
    sim.step_candles(30)
    every = await exchange.list_fills(exchange_order_ids=[report.exchange_order_id])
    assert len(every) >= 2
    known = {fill.trade_id for fill in every[: len(every) // 2]}

    # Act
    rest = await exchange.list_fills(
        exchange_order_ids=[report.exchange_order_id], skip_trade_ids=known
    )

    # Assert: exactly the others, as they were
    assert rest == [fill for fill in every if fill.trade_id not in known]


# -- market data -------------------------------------------------------------------------
async def test_candles_are_the_recorded_closed_candles_oldest_first_across_pages(sim, exchange):
    # Arrange
    sim.step_candles(330)
    recorded = sim.candles["ETH-BTC"]
    start, end = recorded[0].start, recorded[0].start + 340 * CANDLE_SECONDS
    partial_start = int(sim.sim_now // CANDLE_SECONDS) * CANDLE_SECONDS

    # Act
    candles = await exchange.candles("ETH-BTC", start, end)

    # Assert
    closed = [c for c in recorded if start <= c.start < end and c.start < partial_start]
    assert candles == closed
    assert len(candles) > 300
    assert all(a.start < b.start for a, b in itertools.pairwise(candles))
    assert partial_start not in {c.start for c in candles}
    assert sim.count("GET", "/products/ETH-BTC/candles") == 2


async def test_best_bid_ask_is_one_tick_around_the_last_price(sim, exchange):
    # Act
    quotes = await exchange.best_bid_ask(["ETH-BTC", "LTC-BTC"])

    # Assert
    assert sorted(quotes) == ["ETH-BTC", "LTC-BTC"]
    for pid, quote in quotes.items():
        tick, last = sim.engine.product(pid).price_increment, sim.engine.last_price(pid)
        assert (quote.bid, quote.ask) == (last - tick, last + tick)
        assert quote.time == sim.sim_now


async def test_server_time_is_the_replay_clock(sim, exchange):
    # Act
    server_time = await exchange.server_time()

    # Assert: the simulated exchange lives in the replay's time (JWTs still use the wall clock)
    assert server_time == sim.sim_now


# -- authentication --------------------------------------------------------------------
async def test_a_key_the_exchange_does_not_know_is_refused(sim, connect, limit_buy):
    # Arrange
    stranger, _ = generate_test_credentials("organizations/other/apiKeys/stranger")
    exchange = CoinbaseExchange(connect(sim, credentials=stranger))

    # Act / Assert
    with pytest.raises(AuthenticationError):
        await exchange.balances()
    with pytest.raises(AuthenticationError):
        await exchange.place_order(limit_buy())
    assert await exchange.server_time() > 0  # public: no key needed
    assert sim.engine.orders() == []


async def test_a_private_call_without_credentials_fails_before_sending(sim, connect):
    # Arrange
    exchange = CoinbaseExchange(connect(sim, credentials=None))

    # Act / Assert
    with pytest.raises(AuthenticationError):
        await exchange.balances()
    assert sim.count("GET", "/accounts") == 0
