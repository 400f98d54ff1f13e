#!/usr/bin/env python3
"""Time to reconcile N open orders against the simulator on loopback (target: 1,000 in < 2 s).

Setup (not timed): a simulator with N synthetic products; for each, an open position in a real
SQLite store with its stop-limit sell resting on the simulator, placed through the adapter. A
few of the stops are cancelled on the exchange behind the engine's back, and a few stray orders
with our prefix are added, so the reconciliation has real work besides confirming.

Timed: ``Runtime``-style restart — load the store, hydrate N PairTraders, compare with the
exchange (one paged list of open orders, one paged list of fills, a look-up per order that
changed, one batch cancel of the strays).

Usage: .venv/bin/python bench/reconcile.py [--orders 1000]   (last line: JSON)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.domain.orders import Accepted, Fill, Order, OrderSide, OrderType, Submitted
from ratchet.domain.position import Position, TrailPolicy
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.engine.reconcile import reconcile
from ratchet.ports import OrderRecord, StateBatch
from ratchet.sim.products import product_for
from ratchet.sim.replay import synthetic_candles
from ratchet.sim.server import SimServer, SimSettings
from ratchet.store.sql_store import SqlStore

START = 1_767_225_600
PRICE = Decimal(100)


async def setup(count: int, folder: Path) -> tuple[SimServer, CoinbaseExchange, str, dict]:
    pairs = [f"C{index:04d}-USD" for index in range(count)]
    candles = {
        pair: synthetic_candles(
            product_for(pair, PRICE),
            START,
            4,
            seed=i,
            start_price=PRICE,
            volatility_pct=Decimal("0.1"),
        )
        for i, pair in enumerate(pairs)
    }
    balances = {"USD": Decimal(10**9), **{pair.split("-")[0]: Decimal(1000) for pair in pairs}}
    sim = SimServer(candles, SimSettings(speed=0, balances=balances))
    endpoints = await sim.start()
    sim.step(4 * count)
    fast = RateLimiter(100_000)
    exchange = CoinbaseExchange(
        RestTransport(endpoints.rest, sim.credentials, private_limiter=fast)
    )
    products = {p.product_id: p for p in await exchange.products()}
    url = f"sqlite:///{folder / 'state.db'}"
    store = await SqlStore.open(url)
    for index, pair in enumerate(pairs):
        product = products[pair]
        last = sim.engine.last_price(pair)
        assert last is not None
        position = Position(f"{pair}#000001", product, TrailPolicy(Decimal(2)))
        entry = Order(
            f"rt-{pair}-000001-entry-1",
            pair,
            OrderSide.BUY,
            OrderType.LIMIT,
            Decimal(1),
            limit_price=product.buy_limit_price(last),
        )
        position.on_entry_fill(Fill(f"t{index}", last, Decimal(1)))
        for event in (Submitted(), Accepted(f"x-{index}"), Fill(f"t{index}", last, Decimal(1))):
            entry.apply(event)
        stop_price = product.stop_price(last * Decimal("0.9"))
        position.on_entry_done()
        position.restore_stop(stop_price)
        stop = Order(
            f"rt-{pair}-000001-stop-1",
            pair,
            OrderSide.SELL,
            OrderType.STOP_LIMIT,
            Decimal(1),
            limit_price=stop_price,
            stop_price=stop_price,
        )
        report = await exchange.place_order(stop)
        stop.apply(Submitted())
        stop.apply(Accepted(report.exchange_order_id))
        await store.commit(
            StateBatch(
                positions=[position],
                orders=[
                    OrderRecord(entry, position.position_id, START, START),
                    OrderRecord(stop, position.position_id, START, START),
                ],
            )
        )
        if index % 100 == 7:  # cancelled behind the engine's back
            await exchange.cancel_orders([report.exchange_order_id])
        if index % 100 == 9:  # a stray order with our prefix the store never heard of
            stray = Order(
                f"rt-{pair}-999999-entry-1",
                pair,
                OrderSide.BUY,
                OrderType.LIMIT,
                Decimal(1),
                limit_price=product.buy_limit_price(last * Decimal("0.5")),
            )
            await exchange.place_order(stray)
    await store.close()
    return sim, exchange, url, products


async def measure(count: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        sim, exchange, url, products = await setup(count, Path(tmp))
        started = time.perf_counter()
        store = await SqlStore.open(url)
        traders = {
            pair: PairTrader(product, TraderSettings()) for pair, product in products.items()
        }
        state = await store.load(products)
        report = await reconcile(exchange, traders, state, prefix="rt", now=time.time())
        await store.commit(report.batch)
        elapsed = time.perf_counter() - started
        tracked = sum(len([o for o in t.orders() if not o.is_done]) for t in traders.values())
        calls = exchange.transport.calls
        await store.close()
        await exchange.close()
        await sim.stop()
    return {
        "orders": count,
        "seconds": round(elapsed, 3),
        "tracked_open_orders": tracked,
        "found": len(report.found),
        "done": len(report.done),
        "http_calls_total": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    args = parser.parse_args()
    result = asyncio.run(measure(args.orders))
    verdict = "PASS" if float(result["seconds"]) < 2.0 * args.orders / 1000 else "MISS"  # type: ignore[arg-type]
    print(f"reconcile {result['orders']} open orders against the simulator on loopback")
    print(f"  time:   {result['seconds']} s   (target < 2 s per 1,000): {verdict}")
    print(f"  found:  {result['found']} lines, did: {result['done']} repairs")
    print(json.dumps({**result, "verdict": verdict}))


if __name__ == "__main__":
    main()
