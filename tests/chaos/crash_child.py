"""The engine as a child process for the crash campaign: it trades until it is SIGKILLed.

Usage: python crash_child.py KEYS_DIR STATE_DB
It restarts like the real engine does: hydrate from the store, reconcile, then trade live
against the simulator whose endpoints and key are in KEYS_DIR.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

from ratchet.coinbase.auth import load_key_file
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.domain.signals import SignalRules
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.engine.runtime import Runtime
from ratchet.store.sql_store import SqlStore

# enter at every ready candle, move stops at every step: the most crash points per second
SETTINGS = TraderSettings(
    rules=SignalRules(rsi_below=99.0, min_confirmations=1),
    min_stop_interval=0.0,
    entry_ttl_candles=1,
    stop_moves="replace" if os.environ.get("RATCHET_STOP_MOVES") == "replace" else "edit",
)


async def main(keys: Path, state: Path) -> None:
    endpoints = json.loads((keys / "endpoints.json").read_text())
    credentials = load_key_file(keys / "cdp_api_key.json")
    transport = RestTransport(endpoints["rest"], credentials, private_limiter=RateLimiter(1000))
    exchange = CoinbaseExchange(transport)
    products = {p.product_id: p for p in await exchange.products()}
    store = await SqlStore.open(f"sqlite:///{state}")
    traders = {pair: PairTrader(product, SETTINGS) for pair, product in products.items()}
    gate = RiskGate(PortfolioConfig(total_capital=Decimal(10), max_position_size_pct=Decimal(10)))
    feed = CoinbaseFeed(
        endpoints["ws"], endpoints["ws_user"], list(products), exchange, credentials
    )
    runtime = Runtime(
        exchange, feed, store, traders, gate, quote_currency="BTC", timer_interval=0.05
    )
    await runtime.restore()
    await feed.start()
    print("ready", flush=True)
    await runtime.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
