"""Graceful shutdown leaves every stop resting on the exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.domain.order_types import OrderType
from ratchet.domain.position import PositionStatus
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.domain.signals import SignalRules
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.engine.runtime import Runtime
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.memory_store import MemoryStore
from ratchet.sim.server import SimServer, SimSettings

PAIR = "ETH-BTC"


async def test_stopping_the_engine_keeps_its_stops_resting_on_the_exchange() -> None:
    # Arrange: the engine trades until a stop rests on the simulator
    [file] = [f for f in demo_candle_files() if pair_of(f) == PAIR]
    sim = SimServer({PAIR: read_candles(file)[:400]}, SimSettings(speed=0))
    endpoints = await sim.start()
    exchange = CoinbaseExchange(
        RestTransport(endpoints.rest, sim.credentials, private_limiter=RateLimiter(1000))
    )
    [product] = await exchange.products([PAIR])
    feed = CoinbaseFeed(endpoints.ws, endpoints.ws_user, [PAIR], exchange, sim.credentials)
    settings = TraderSettings(rules=SignalRules(rsi_below=99.0, min_confirmations=1))
    trader = PairTrader(product, settings)
    gate = RiskGate(PortfolioConfig(total_capital=Decimal(10)))
    runtime = Runtime(exchange, feed, MemoryStore(), {PAIR: trader}, gate, quote_currency="BTC")
    await runtime.restore()
    await feed.start()
    stop = asyncio.Event()
    engine = asyncio.create_task(runtime.run(stop))
    while sim.hub.subscribers("user") == 0:
        await asyncio.sleep(0.01)
    for _ in range(1600):
        sim.step(1)
        await asyncio.sleep(0.005)
        position = trader.position
        if position and position.status is PositionStatus.OPEN and trader.stops.confirmed:
            break
    resting_before = [
        o for o in sim.engine.orders(statuses=["OPEN"]) if o.order_type is OrderType.STOP_LIMIT
    ]
    assert resting_before, "no stop came to rest: the scenario tested nothing"

    # Act: a graceful shutdown (SIGINT/SIGTERM set this event)
    stop.set()
    await engine
    await feed.close()

    # Assert: the same stops still rest on the exchange; nothing was cancelled on the way out
    resting_after = [
        o for o in sim.engine.orders(statuses=["OPEN"]) if o.order_type is OrderType.STOP_LIMIT
    ]
    assert {o.order_id for o in resting_after} >= {o.order_id for o in resting_before}
    await exchange.close()
    await sim.stop()
