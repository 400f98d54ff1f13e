"""The composition root: wires the adapters (Coinbase REST + WebSocket, the store) to the engine.

Paper and live trading build the same thing — an :class:`Engine` of exchange adapter, feed,
store, pair traders, risk gate, protections, runtime and control — and differ only in where the
adapter points (the simulator on 127.0.0.1, or Coinbase) and whose money it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ratchet.coinbase.auth import Credentials
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.config import RatchetConfig
from ratchet.domain.money import Product
from ratchet.domain.protections import ProtectionConfig, Protections
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.engine.control import EngineControl
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime import Runtime
from ratchet.ports import History, Store
from ratchet.store.database import Database
from ratchet.store.history import DatabaseHistory
from ratchet.store.sql_store import SqlStore

log = logging.getLogger("ratchet.app")
DEMO_POSITION_PCT = Decimal(10)  # without a config, each paper entry may use 10 % of the account


class SetupError(Exception):
    """The engine cannot be put together from these settings (a clear, one-line reason)."""


@dataclass(slots=True)
class Engine:
    """Everything one running engine is made of; :meth:`close` lets go of it all."""

    exchange: CoinbaseExchange
    feed: CoinbaseFeed
    store: Store
    runtime: Runtime
    control: EngineControl

    async def close(self) -> None:
        """Close the feed, the exchange session and the store (in that order)."""
        await self.feed.close()
        await self.exchange.close()
        await self.store.close()


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the exchange is: REST base URL and the two WebSocket URLs."""

    rest: str
    ws: str
    ws_user: str


def quote_currency_of(products: Mapping[str, Product]) -> str:
    """The one quote currency all traded pairs share (the risk gate counts in one currency)."""
    quotes = {product.quote_currency for product in products.values()}
    if len(quotes) != 1:
        listed = ", ".join(sorted(quotes)) or "none"
        raise SetupError(f"all traded pairs must share one quote currency, got {listed}")
    return quotes.pop()


def build_traders(
    products: Mapping[str, Product], config: RatchetConfig | None, cash: Decimal
) -> tuple[dict[str, PairTrader], RiskGate, Protections]:
    """One trader per product, the risk gate and the protections, from the config (or the
    paper demo's defaults: 10 % of ``cash`` per entry)."""
    if config is None:
        traders = {pair: PairTrader(product) for pair, product in products.items()}
        gate = RiskGate(
            PortfolioConfig(total_capital=cash, max_position_size_pct=DEMO_POSITION_PCT)
        )
        return traders, gate, Protections(ProtectionConfig(), cash)
    traders = {
        pair: PairTrader(product, config.trader_settings(pair))
        for pair, product in products.items()
    }
    portfolio = config.portfolio_config()
    protections = Protections(config.protection_config(), portfolio.total_capital)
    return traders, RiskGate(portfolio), protections


async def open_engine(
    endpoints: Endpoints,
    credentials: Credentials,
    pairs: list[str],
    store: Store,
    *,
    config: RatchetConfig | None,
    cash: Decimal,
    limiter: RateLimiter | None = None,
) -> Engine:
    """Connect the adapter, read the products, and build the runtime and its control."""
    transport = RestTransport(endpoints.rest, credentials, private_limiter=limiter)
    exchange = CoinbaseExchange(transport)
    try:
        products = {p.product_id: p for p in await exchange.products(pairs)}
        missing = sorted(set(pairs) - set(products))
        if missing:
            raise SetupError(f"the exchange does not list {', '.join(missing)}")
        quote = quote_currency_of(products)
    except BaseException:
        await exchange.close()
        raise
    feed = CoinbaseFeed(endpoints.ws, endpoints.ws_user, list(products), exchange, credentials)
    traders, gate, protections = build_traders(products, config, cash)
    runtime = Runtime(
        exchange, feed, store, traders, gate, quote_currency=quote, protections=protections
    )
    database = store_database(store)
    history: History | None = DatabaseHistory(database) if database is not None else None
    control = EngineControl(runtime, history, database)
    try:
        await control.load_history()
    except Exception as exc:  # the metrics of earlier runs are a nicety, never a reason to stop
        log.warning("history not loaded", extra={"reason": str(exc)})
    return Engine(exchange, feed, store, runtime, control)


def store_database(store: Store) -> Database | None:
    """The database behind a SQL store (None for the in-memory one)."""
    return store.repository.database if isinstance(store, SqlStore) else None
