"""Restart reconciliation against the simulator over sockets, with a real SQLite store.

An engine trades until a position is open with its stop resting, then "crashes" (it is simply
dropped). While it is down the market moves on and a stray order with our prefix appears. A new
engine hydrates from the store and reconciles; then nothing is orphaned or duplicated and the
open position has a stop, never lower than before.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.domain.candles import CANDLE_SECONDS
from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderSide, OrderStatus, OrderType
from ratchet.domain.orders import Cancelled, Order
from ratchet.domain.position import PositionStatus
from ratchet.domain.signals import SignalRules
from ratchet.engine import messages as m
from ratchet.engine.oneshot import settle
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.engine.reconcile import ReconcileReport, reconcile
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.ports import OrderRecord, StateBatch
from ratchet.sim.server import SimServer, SimSettings
from ratchet.store.sql_store import SqlStore

PAIR = "ETH-BTC"
SETTINGS = TraderSettings(
    rules=SignalRules(rsi_below=99.0, min_confirmations=1), min_stop_interval=0.0
)


async def drive(
    trader: PairTrader,
    exchange: CoinbaseExchange,
    store: SqlStore,
    events: list[m.EngineEvent],
    now: float,
) -> None:
    """Handle events and carry out commands one by one; entries get 1 BTC."""
    await settle(trader, exchange, store, events, now, entry_budget=Decimal(1))


async def step_market(
    sim: SimServer, trader: PairTrader, exchange: CoinbaseExchange, store: SqlStore, candles: int
) -> None:
    """Replay candles leg by leg, telling the trader about prices, fills and closes."""
    for _ in range(candles):
        for _leg in range(4):
            if not sim.step(1):
                return
            price = sim.engine.last_price(PAIR)
            assert price is not None
            events: list[m.EngineEvent] = [m.PriceTick(price, sim.sim_now)]
            for order in trader.orders():
                if order.exchange_order_id and not order.is_done:
                    events.append(m.OrderUpdated(await exchange.get_order(order.exchange_order_id)))
            await drive(trader, exchange, store, events, sim.sim_now)
        start = int(sim.sim_now) // CANDLE_SECONDS * CANDLE_SECONDS
        candle = next(c for c in sim.candles[PAIR] if c.start == start)
        await drive(trader, exchange, store, [m.CandleClosed(candle)], start + CANDLE_SECONDS)


async def stop_resting(tmp_path: Path) -> tuple[SimServer, CoinbaseExchange, SqlStore, PairTrader]:
    """The simulator, a store in ``tmp_path``, and a trader that traded until its stop rests."""
    files = [f for f in demo_candle_files() if pair_of(f) == PAIR]
    sim = SimServer({PAIR: read_candles(files[0])[:300]}, SimSettings(speed=0))
    endpoints = await sim.start()
    exchange = CoinbaseExchange(
        RestTransport(endpoints.rest, sim.credentials, private_limiter=RateLimiter(10_000))
    )
    [product] = await exchange.products([PAIR])
    store = await SqlStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    trader = PairTrader(product, SETTINGS)
    for _ in range(200):
        await step_market(sim, trader, exchange, store, 1)
        position = trader.position
        if position and position.status is PositionStatus.OPEN and trader.stops.confirmed:
            break
    return sim, exchange, store, trader


async def restart(
    sim: SimServer, exchange: CoinbaseExchange, url: str, product: Product
) -> tuple[SqlStore, PairTrader, ReconcileReport]:
    """A new engine: the store opened again, a fresh trader hydrated and reconciled."""
    store = await SqlStore.open(url)
    trader = PairTrader(product, SETTINGS)
    state = await store.load({PAIR: product})
    report = await reconcile(exchange, {PAIR: trader}, state, prefix="rt", now=sim.sim_now)
    await store.commit(report.batch)
    await drive(trader, exchange, store, report.events.get(PAIR, []), sim.sim_now)
    return store, trader, report


async def test_restart_adopts_repairs_and_cancels_orphans(tmp_path: Path) -> None:
    # Arrange: the simulator, a store, and an engine that trades until its stop rests
    files = [f for f in demo_candle_files() if pair_of(f) == PAIR]
    sim = SimServer({PAIR: read_candles(files[0])[:300]}, SimSettings(speed=0))
    endpoints = await sim.start()
    fast = RateLimiter(10_000)
    exchange = CoinbaseExchange(
        RestTransport(endpoints.rest, sim.credentials, private_limiter=fast)
    )
    [product] = await exchange.products([PAIR])
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = await SqlStore.open(url)
    first = PairTrader(product, SETTINGS)
    for _ in range(200):
        await step_market(sim, first, exchange, store, 1)
        if (
            first.position
            and first.position.status is PositionStatus.OPEN
            and first.stops.confirmed
        ):
            break
    assert first.position is not None and first.stops.confirmed is not None
    recorded_stop = first.stops.confirmed
    position_id = first.position.position_id
    await store.close()  # the engine "crashes": nothing of it is used again

    # ... while it is down: a stray order with our prefix appears, and the market moves on
    stray = Order(
        "rt-ETH-BTC-999999-entry-1",
        PAIR,
        OrderSide.BUY,
        OrderType.LIMIT,
        Decimal("0.01"),
        limit_price=product.buy_limit_price(Decimal("0.05")),
    )
    await exchange.place_order(stray)
    sim.step(6)

    # Act: a new engine hydrates from the store and reconciles with the exchange
    store, second, report = await restart(sim, exchange, url, product)

    # Assert: the stray order was cancelled and audited
    assert any("unknown to the store" in line for line in report.found)
    stray_now = sim.engine.order_by_client_id(stray.client_order_id)
    assert stray_now is not None and stray_now.status == "CANCELLED"
    # every open order of ours on the exchange is one the new engine tracks
    tracked = {o.client_order_id for o in second.orders()}
    for order in sim.engine.orders(statuses=["OPEN"]):
        assert order.client_order_id in tracked
    # one exchange order per client_order_id, ever
    ids = [o.client_order_id for o in sim.engine.orders()]
    assert len(ids) == len(set(ids))
    # the position is back, protected, and its stop did not go down
    position = second.position
    if position is not None and position.status is PositionStatus.OPEN:
        assert position.position_id == position_id
        assert second.stops.order is not None and not second.stops.order.is_done
        resting = second.stops.order.stop_price
        assert resting is not None and resting >= recorded_stop
    else:  # it was stopped out while the engine was down: the fills were counted once
        closed = await store.load({PAIR: product})
        assert position_id not in {p.position_id for p in closed.positions}
    await store.close()
    await exchange.close()
    await sim.stop()


async def test_restart_resends_a_stop_intent_that_never_reached_the_exchange(
    tmp_path: Path,
) -> None:
    # Arrange: an open position whose new stop was written (INITIALIZED) but never sent
    sim, exchange, store, first = await stop_resting(tmp_path)
    product, url = first.product, f"sqlite:///{tmp_path / 'state.db'}"
    stop = first.stops.order
    assert stop is not None and stop.exchange_order_id is not None
    # the "crash" happens between cancelling the old stop and sending the new one
    await exchange.cancel_orders([stop.exchange_order_id])
    assert first.position is not None
    intent = Order(
        f"rt-{PAIR}-{first.position.position_id.partition('#')[2]}-stop-9",
        PAIR,
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        stop.size,
        limit_price=stop.limit_price,
        stop_price=stop.stop_price,
    )
    stop.apply(Cancelled("replaced"))
    await store.commit(
        StateBatch(
            orders=[
                OrderRecord(stop, first.position.position_id, sim.sim_now, sim.sim_now),
                OrderRecord(intent, first.position.position_id, sim.sim_now, sim.sim_now),
            ]
        )
    )
    await store.close()

    # Act
    store = await SqlStore.open(url)
    second = PairTrader(product, SETTINGS)
    state = await store.load({PAIR: product})
    report = await reconcile(exchange, {PAIR: second}, state, prefix="rt", now=sim.sim_now)
    await drive(second, exchange, store, report.events.get(PAIR, []), sim.sim_now)

    # Assert: the intent went out with its own id, exactly once, and protects the position
    sent = sim.engine.order_by_client_id(intent.client_order_id)
    assert sent is not None and sent.status == "OPEN"
    assert sum(1 for o in sim.engine.orders() if o.client_order_id == intent.client_order_id) == 1
    assert second.stops.order is not None
    assert second.stops.order.client_order_id == intent.client_order_id
    assert second.stops.order.status is OrderStatus.OPEN
    await store.close()
    await exchange.close()
    await sim.stop()


async def test_restart_takes_the_terms_of_a_stop_edit_whose_answer_was_lost(
    tmp_path: Path,
) -> None:
    # Arrange: an open position with its stop resting
    sim, exchange, store, first = await stop_resting(tmp_path)
    product, url = first.product, f"sqlite:///{tmp_path / 'state.db'}"
    stop = first.stops.order
    last = sim.engine.last_price(PAIR)
    assert stop is not None and stop.exchange_order_id and stop.stop_price and last
    # the "crash": the exchange accepted an edit of the stop, its answer was never noted
    higher = product.buy_limit_price((stop.stop_price + last) / 2)
    assert higher > stop.stop_price
    limit = product.sell_limit_price(higher * Decimal("0.995"))
    edited = await exchange.edit_order(
        stop.exchange_order_id, size=stop.size, limit_price=limit, stop_price=higher
    )
    assert edited.success
    await store.close()

    # Act: a new engine hydrates the old terms, then reconciles with the exchange
    store, second, report = await restart(sim, exchange, url, product)

    # Assert: the trader holds the exchange's terms, confirmed and stored
    assert any("took the exchange's terms" in line for line in report.done)
    resting = second.stops.order
    assert resting is not None and resting.client_order_id == stop.client_order_id
    assert (resting.stop_price, resting.limit_price) == (higher, limit)
    assert second.stops.confirmed == higher
    stored = await store.load({PAIR: product})
    [row] = [r.order for r in stored.orders if r.order.client_order_id == stop.client_order_id]
    assert row.stop_price == higher
    await store.close()
    await exchange.close()
    await sim.stop()
