"""The WebSocket feed (CoinbaseFeed) against the simulator's hub: data, orders, and WS faults.

The invariants: a gap or a reconnect is always followed by a Resynced event; no message is
delivered twice; and no fill is lost or counted twice, whatever the connection went through.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from decimal import Decimal

import aiohttp

from ratchet.coinbase.auth import generate_test_credentials, ws_jwt
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.domain.orders import OrderStatus
from ratchet.ports import CandleEvent, OrderUpdateEvent, Resynced, TickerEvent
from ratchet.sim.replay import candle_path

D = Decimal
TAKES = D("-0.001")  # a buy limit 0.1 % above the last trade: it takes at once


def step_candles(sim, pid: str, candles: int) -> list[float]:
    """Step the replay by whole candles; the times of the legs of ``pid`` that were applied."""
    since = sim.sim_now
    sim.step_candles(candles)
    return [
        leg.time
        for candle in sim.candles[pid]
        for leg in candle_path(candle, pid)
        if since < leg.time <= sim.sim_now
    ]


def updates_of(recorder, exchange_order_id: str) -> list[OrderStatus]:
    return [
        e.report.status
        for e in recorder.of(OrderUpdateEvent)
        if e.report.exchange_order_id == exchange_order_id
    ]


def resyncs(recorder, why: str) -> list[Resynced]:
    return [event for event in recorder.of(Resynced) if why in event.reason]


def assert_no_ticker_twice(recorder) -> None:
    seen = Counter((e.ticker.product_id, e.ticker.time) for e in recorder.of(TickerEvent))
    assert [key for key, n in seen.items() if n > 1] == []


# -- market data ----------------------------------------------------------------------
async def test_tickers_and_candles_arrive_for_subscribed_products_only(sim, open_feed):
    # Arrange
    feed = await open_feed(["ETH-BTC"])
    recorded = sim.candles["ETH-BTC"][4]  # the candle after the warm-up

    # Act
    expected = step_candles(sim, "ETH-BTC", 1)
    await feed.wait_for(lambda: len(feed.of(CandleEvent)) >= 4, "four candle updates")

    # Assert
    tickers, candles = feed.of(TickerEvent), feed.of(CandleEvent)
    assert {t.ticker.product_id for t in tickers} == {c.product_id for c in candles} == {"ETH-BTC"}
    assert [t.ticker.time for t in tickers] == expected
    assert candles[-1].candle == recorded  # the last update of a bucket is the whole candle
    assert tickers[-1].ticker.price == recorded.close


async def test_the_user_channel_reports_create_fill_and_cancel(sim, exchange, open_feed, limit_buy):
    # Arrange
    feed = await open_feed(["ETH-BTC"])

    # Act
    resting = await exchange.place_order(limit_buy())
    taken = await exchange.place_order(limit_buy(below=TAKES))
    await exchange.cancel_orders([resting.exchange_order_id])
    await feed.wait_for(
        lambda: OrderStatus.CANCELLED in updates_of(feed, resting.exchange_order_id),
        "the cancel",
    )

    # Assert
    assert updates_of(feed, resting.exchange_order_id) == [
        OrderStatus.OPEN,
        OrderStatus.CANCELLED,
    ]
    assert updates_of(feed, taken.exchange_order_id)[-1] is OrderStatus.FILLED
    last = [e.report for e in feed.of(OrderUpdateEvent)][-1]
    assert last.client_order_id == sim.engine.order(resting.exchange_order_id).client_order_id


async def test_a_partial_fill_arrives_as_partially_filled_with_its_size(
    sim, exchange, open_feed, limit_buy
):
    # Arrange
    feed = await open_feed(["ETH-BTC"])
    report = await exchange.place_order(limit_buy(below=D("0.002"), size=D(5)))

    # Act
    sim.step_candles(30)
    await feed.wait_for(
        lambda: OrderStatus.FILLED in updates_of(feed, report.exchange_order_id), "the fill"
    )

    # Assert
    reports = [
        e.report
        for e in feed.of(OrderUpdateEvent)
        if e.report.exchange_order_id == report.exchange_order_id
    ]
    partial = [r for r in reports if r.status is OrderStatus.PARTIALLY_FILLED]
    assert partial and all(D(0) < r.filled_size < D(5) for r in partial)
    assert (reports[-1].filled_size, reports[-1].size) == (D(5), D(5))
    fills = await exchange.list_fills(exchange_order_ids=[report.exchange_order_id])
    filled_so_far = list(itertools.accumulate(f.size for f in sorted(fills, key=lambda f: f.time)))
    assert [r.filled_size for r in partial] == filled_so_far[:-1]


async def test_the_user_channel_starts_with_a_snapshot_of_open_orders(
    sim, exchange, open_feed, limit_buy
):
    # Arrange
    placed = [await exchange.place_order(limit_buy()) for _ in range(3)]

    # Act
    feed = await open_feed(["ETH-BTC"])
    await feed.wait_for(lambda: len(feed.of(OrderUpdateEvent)) >= 3, "the snapshot")

    # Assert
    assert {e.report.exchange_order_id for e in feed.of(OrderUpdateEvent)} == {
        r.exchange_order_id for r in placed
    }
    assert {e.report.status for e in feed.of(OrderUpdateEvent)} == {OrderStatus.OPEN}


async def test_the_user_channel_reports_only_subscribed_products(
    sim, exchange, open_feed, limit_buy
):
    # Arrange
    feed = await open_feed(["ETH-BTC"])

    # Act
    await exchange.place_order(limit_buy("LTC-BTC"))
    eth = await exchange.place_order(limit_buy("ETH-BTC"))
    await feed.wait_for(lambda: updates_of(feed, eth.exchange_order_id), "the ETH-BTC order")

    # Assert
    assert {e.report.product_id for e in feed.of(OrderUpdateEvent)} == {"ETH-BTC"}


async def test_events_end_when_the_feed_is_closed(sim, exchange):
    # Arrange
    feed = CoinbaseFeed(sim.endpoints.ws, None, ["ETH-BTC"], exchange, sim.credentials)
    await feed.start()

    async def consume() -> list:
        return [event async for event in feed.events()]

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.1)

    # Act
    await feed.close()

    # Assert
    assert await asyncio.wait_for(consumer, 1.0) == []


# -- WebSocket faults -------------------------------------------------------------------
async def test_a_dropped_connection_reconnects_and_resyncs(sim, exchange, open_feed, limit_buy):
    # Arrange
    feed = await open_feed(["ETH-BTC"])
    resting = await exchange.place_order(limit_buy())
    sim.faults.set(ws_drop=1)

    # Act
    sim.step(4)
    await feed.wait_for(lambda: resyncs(feed, "reconnected"), "a resync after the reconnect")
    before = len(feed.of(TickerEvent))
    expected = step_candles(sim, "ETH-BTC", 2)
    await feed.wait_for(
        lambda: len(feed.of(TickerEvent)) >= before + len(expected), "tickers again"
    )

    # Assert
    assert sim.faults.hits["ws_drop"] == 1
    assert feed.feed.stats.reconnects >= 1
    [resync] = resyncs(feed, "reconnected")
    assert [o.exchange_order_id for o in resync.orders] == [resting.exchange_order_id]
    assert {b.currency for b in resync.balances} >= {"BTC", "ETH"}
    assert [t.ticker.time for t in feed.of(TickerEvent)[before:]] == expected
    assert feed.feed.connected == {"market": True, "user": True}


async def test_a_silent_connection_is_dropped_reconnected_and_resynced(sim, open_feed):
    # Arrange
    sim.settings.heartbeat_interval = 60  # the hub goes quiet (takes effect after one beat)
    await asyncio.sleep(0.25)
    feed = await open_feed(["ETH-BTC"], user=False, idle_timeout=0.3)

    # Act
    await feed.wait_for(lambda: resyncs(feed, "market reconnected"), "the idle reconnect")

    # Assert
    assert feed.feed.stats.reconnects >= 1
    assert feed.feed.stats.gaps == 0


async def test_a_resync_is_retried_until_the_rest_api_answers(sim, open_feed):
    # Arrange
    feed = await open_feed(["ETH-BTC"])
    sim.faults.set(http_5xx=8, ws_gap=1)  # more 503s than one call's five attempts

    # Act
    sim.step(4)
    await feed.wait_for(lambda: resyncs(feed, "gap"), "the resync after the gap")

    # Assert
    assert sim.faults.hits["http_5xx"] == 8
    assert feed.feed.stats.gaps == feed.feed.stats.resyncs == 1


async def test_every_sequence_gap_is_followed_by_a_resync(sim, open_feed):
    # Arrange
    feed = await open_feed(["ETH-BTC"])
    sim.faults.set(ws_gap=3)

    # Act
    sim.step_candles(2)
    await feed.wait_for(lambda: feed.feed.stats.gaps >= 3, "three gaps")
    await feed.wait_for(
        lambda: len(resyncs(feed, "gap")) == feed.feed.stats.gaps, "a resync per gap"
    )

    # Assert
    stats = feed.feed.stats
    assert sim.faults.hits["ws_gap"] == 3
    assert stats.gaps == 3 and stats.resyncs == 3 and stats.duplicates == 0
    assert_no_ticker_twice(feed)


async def test_duplicated_messages_are_dropped_and_delivered_once(sim, open_feed):
    # Arrange
    feed = await open_feed(["ETH-BTC"])
    sim.faults.set(ws_duplicate=6)

    # Act
    expected = step_candles(sim, "ETH-BTC", 2)
    await feed.wait_for(lambda: len(feed.of(TickerEvent)) >= len(expected), "every ticker")
    await feed.wait_for(lambda: feed.feed.stats.duplicates >= 6, "six duplicates")

    # Assert
    assert [t.ticker.time for t in feed.of(TickerEvent)] == expected
    assert feed.feed.stats.gaps == 0
    assert_no_ticker_twice(feed)


async def test_a_reordered_message_is_a_gap_then_a_stale_message(sim, open_feed):
    # Arrange
    feed = await open_feed(["ETH-BTC"])
    sim.faults.set(ws_reorder=1)

    # Act
    sim.step_candles(2)
    await feed.wait_for(lambda: feed.feed.stats.duplicates >= 1, "the stale message dropped")

    # Assert
    stats = feed.feed.stats
    assert stats.gaps >= 1
    assert len(resyncs(feed, "gap")) == stats.gaps
    assert_no_ticker_twice(feed)


async def test_no_fill_is_lost_or_counted_twice_across_drops_and_gaps(
    sim, exchange, open_feed, limit_buy
):
    # Arrange
    feed = await open_feed(["ETH-BTC", "LTC-BTC"])
    for pid, below, size in (("ETH-BTC", "0.002", 5), ("LTC-BTC", "0.0005", 2)):
        await exchange.place_order(limit_buy(pid, below=D(below), size=D(size)))
        await exchange.place_order(limit_buy(pid, below=D(below) * 2, size=D(size)))

    # Act
    for round_number in range(6):
        fault = "ws_drop" if round_number % 2 == 0 else "ws_gap"
        done = len(feed.of(Resynced))
        sim.faults.set(**{fault: 1})
        sim.step_candles(5)
        await feed.wait_for(lambda done=done: len(feed.of(Resynced)) > done, f"resync {fault}")
    last_resync = max(i for i, e in enumerate(feed.events) if isinstance(e, Resynced))
    fills = await exchange.list_fills()  # what the engine reads after the last Resynced

    # Assert
    assert last_resync >= 5
    trade_ids = Counter(fill.trade_id for fill in fills)
    truth = Counter(fill.entry_id for fill in sim.engine.fills())
    assert trade_ids == truth
    assert set(trade_ids.values()) == {1}
    assert len(truth) >= 4
    final = feed.of(Resynced)[-1]  # taken after the last market move: the exchange's truth
    assert {(o.exchange_order_id, o.filled_size) for o in final.orders} == {
        (o.order_id, o.filled_size) for o in sim.engine.orders(statuses=["OPEN"])
    }
    for order in sim.engine.orders():
        assert sum(f.size for f in fills if f.exchange_order_id == order.order_id) == (
            order.filled_size
        )


# -- the hub's own checks ----------------------------------------------------------------
async def subscribe_raw(url: str, message: dict) -> dict:
    """Send one subscribe message on a fresh connection; return the first reply."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(json.dumps(message))
        reply = await ws.receive(timeout=2)
        return json.loads(reply.data)


async def test_a_user_subscription_without_a_valid_jwt_gets_an_error(sim):
    # Arrange
    stranger, _ = generate_test_credentials("organizations/other/apiKeys/stranger")
    user = {"type": "subscribe", "channel": "user", "product_ids": ["ETH-BTC"]}

    # Act
    missing = await subscribe_raw(sim.endpoints.ws_user, user)
    foreign = await subscribe_raw(
        sim.endpoints.ws_user, {**user, "jwt": ws_jwt(stranger, time.time())}
    )
    on_market = await subscribe_raw(sim.endpoints.ws, user)
    valid = await subscribe_raw(
        sim.endpoints.ws_user, {**user, "jwt": ws_jwt(sim.credentials, time.time())}
    )

    # Assert
    assert missing == {"type": "error", "message": "channel user needs a jwt"}
    assert foreign["type"] == "error"
    assert foreign["message"].startswith("authentication failed")
    assert on_market["type"] == "error"
    assert valid["channel"] == "subscriptions"
    assert valid["events"] == [{"subscriptions": {"user": ["ETH-BTC"]}}]


async def test_public_channels_need_no_jwt_on_the_market_endpoint(sim):
    # Act
    reply = await subscribe_raw(
        sim.endpoints.ws, {"type": "subscribe", "channel": "ticker", "product_ids": ["ETH-BTC"]}
    )
    heartbeats_on_user = await subscribe_raw(
        sim.endpoints.ws_user, {"type": "subscribe", "channel": "heartbeats"}
    )

    # Assert
    assert reply["events"] == [{"subscriptions": {"ticker": ["ETH-BTC"]}}]
    assert heartbeats_on_user["type"] == "error"  # the user endpoint wants a JWT always


async def test_malformed_subscriptions_get_an_error_message(sim):
    # Act
    unknown = await subscribe_raw(sim.endpoints.ws, {"type": "subscribe", "channel": "nope"})
    bad_type = await subscribe_raw(sim.endpoints.ws, {"type": "listen", "channel": "ticker"})

    # Assert
    assert unknown == {"type": "error", "message": "unknown channel 'nope'"}
    assert bad_type == {"type": "error", "message": "unknown message type 'listen'"}
