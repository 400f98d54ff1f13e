"""``CoinbaseExchange``: the :class:`~ratchet.ports.Exchange` port over Advanced Trade REST.

Every reply is validated against the wire models; a reply of the wrong shape raises
:class:`~ratchet.ports.UnexpectedReply` (logged with the body), never a crash elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from ratchet.coinbase import wire
from ratchet.coinbase.order_config import UnsupportedConfiguration, build_configuration
from ratchet.coinbase.rest import HttpError, RequestTimedOut, RestTransport
from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.domain.money import Product
from ratchet.domain.orders import Order
from ratchet.domain.reports import Balance, FillReport, OrderReport, Quote
from ratchet.ports import (
    CancelResult,
    EditResult,
    ExchangeUnavailable,
    OrderNotFound,
    OrderRefused,
    UnexpectedReply,
)

log = logging.getLogger("ratchet.coinbase")

M = TypeVar("M", bound=wire.Wire)

MAX_CANCEL_BATCH = 100
CANDLES_PER_PAGE = 300  # the API refuses 350 and more


FILTER_CHUNK = 40  # ids per request: the query string must stay well under 8 KB


def _chunks(ids: Sequence[str] | None) -> list[list[str]]:
    """Filter values in groups small enough for one URL ([[]] means: no filter)."""
    values = list(dict.fromkeys(ids or ()))
    if not values:
        return [[]]
    return [values[i : i + FILTER_CHUNK] for i in range(0, len(values), FILTER_CHUNK)]


def _known_fills(trade_ids: Collection[str]) -> Callable[[Any], Any] | None:
    """What drops the fills with these trade ids from a raw list-fills page (before it is
    parsed; anything that is not a plain fill item is kept, for the parser to judge)."""
    if not trade_ids:
        return None
    known = trade_ids if isinstance(trade_ids, set | frozenset) else set(trade_ids)

    def prune(data: Any) -> Any:
        items = data.get("fills") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return data
        return dict(data, fills=[item for item in items if _fill_key(item) not in known])

    return prune


def _fill_key(item: Any) -> str | None:
    """The trade id a raw fill item will get (its entry id, else its trade id), if plain."""
    if not isinstance(item, dict):
        return None
    key = item.get("entry_id") or item.get("trade_id")
    return key if isinstance(key, str) else None


class OrderStateUnknown(ExchangeUnavailable):
    """An order create timed out and a look-up did not find it (yet): do not resend blindly."""

    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"{client_order_id}: create timed out and the order was not found")
        self.client_order_id = client_order_id


def parse_reply(model: type[M], data: Any, what: str) -> M:
    """Validate one reply; a wrong shape is an :class:`UnexpectedReply` naming the call."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        log.error("unexpected reply", extra={"call": what, "body": str(data)[:500]})
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise UnexpectedReply(f"{what}: unexpected reply: {where}: {first['msg']}") from None
    except (UnsupportedConfiguration, ValueError) as exc:
        raise UnexpectedReply(f"{what}: unexpected reply: {exc}") from None


class CoinbaseExchange:
    """The real exchange (or the simulator, which speaks the same API)."""

    def __init__(self, transport: RestTransport, *, lookup_attempts: int = 3) -> None:
        self.transport = transport
        self._lookup_attempts = lookup_attempts

    def __repr__(self) -> str:
        return f"CoinbaseExchange({self.transport!r})"

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.transport.close()

    # -- account and products ------------------------------------------------------------------
    async def products(self, product_ids: Sequence[str] | None = None) -> list[Product]:
        """Products with their increments (all spot products when ``product_ids`` is None)."""
        params: dict[str, Any] = {"product_type": "SPOT"}
        if product_ids:
            params["product_ids"] = list(product_ids)
        data = await self.transport.call("GET", "/products", params=params)
        reply = parse_reply(wire.ProductsReply, data, "list products")
        return [self._product(item) for item in reply.products]

    @staticmethod
    def _product(item: wire.ProductWire) -> Product:
        try:
            return item.to_product()
        except ValueError as exc:
            raise UnexpectedReply(f"product {item.product_id}: {exc}") from None

    async def balances(self) -> dict[str, Balance]:
        """Every currency's available and held amounts (all pages)."""
        found: dict[str, Balance] = {}
        cursor = ""
        while True:
            params: dict[str, Any] = {"limit": 250}
            if cursor:
                params["cursor"] = cursor
            data = await self.transport.call("GET", "/accounts", params=params)
            reply = parse_reply(wire.AccountsReply, data, "list accounts")
            for account in reply.accounts:
                found[account.currency] = account.to_balance()
            if not reply.has_next or not reply.cursor:
                return found
            cursor = reply.cursor

    # -- orders ------------------------------------------------------------------------------------
    async def place_order(self, order: Order) -> OrderReport:
        """Create an order; idempotent by its client_order_id.

        A 5xx or 429 is retried with the same client_order_id (the exchange returns the existing
        order). A timeout is resolved by looking the order up, never by sending it again.
        """
        body = {
            "client_order_id": order.client_order_id,
            "product_id": order.product_id,
            "side": order.side.value,
            "order_configuration": build_configuration(order),
        }
        urgent = order.side.value == "SELL"  # exits protect money: they go first
        try:
            data = await self.transport.call("POST", "/orders", body=body, urgent=urgent)
        except RequestTimedOut:
            log.warning("create timed out; looking it up", extra={"cid": order.client_order_id})
            return await self._resolve_after_timeout(order)
        reply = parse_reply(wire.CreateOrderReply, data, "create order")
        if not reply.success or reply.success_response is None:
            error = reply.error_response or wire.ErrorResponse()
            raise OrderRefused(order.client_order_id, error.reason, error.message)
        return OrderReport(
            exchange_order_id=reply.success_response.order_id,
            client_order_id=order.client_order_id,
            product_id=order.product_id,
            side=order.side,
            order_type=order.order_type,
            status=order.status.PENDING,
            size=order.size,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
        )

    async def _resolve_after_timeout(self, order: Order) -> OrderReport:
        for attempt in range(1, self._lookup_attempts + 1):
            try:
                found = await self.find_order(order.client_order_id, product_id=order.product_id)
            except ExchangeUnavailable:
                found = None
            if found is not None:
                return found
            await asyncio.sleep(self.transport.retry.delay(attempt))
        raise OrderStateUnknown(order.client_order_id)

    async def cancel_orders(self, exchange_order_ids: Sequence[str]) -> list[CancelResult]:
        """Cancel orders (in batches of 100); each id gets a result, failures included."""
        results: list[CancelResult] = []
        ids = list(dict.fromkeys(exchange_order_ids))
        for start in range(0, len(ids), MAX_CANCEL_BATCH):
            batch = ids[start : start + MAX_CANCEL_BATCH]
            data = await self.transport.call(
                "POST", "/orders/batch_cancel", body={"order_ids": batch}, urgent=True
            )
            reply = parse_reply(wire.BatchCancelReply, data, "cancel orders")
            results.extend(
                CancelResult(row.order_id, row.success, row.failure_reason) for row in reply.results
            )
        return results

    async def edit_order(
        self,
        exchange_order_id: str,
        *,
        size: Decimal,
        limit_price: Decimal,
        stop_price: Decimal | None = None,
    ) -> EditResult:
        """Edit price/size (and stop price): applied, or refused with the exchange's reasons."""
        body = {"order_id": exchange_order_id, "price": str(limit_price), "size": str(size)}
        if stop_price is not None:
            body["stop_price"] = str(stop_price)
        data = await self.transport.call("POST", "/orders/edit", body=body, urgent=True)
        reply = parse_reply(wire.EditOrderReply, data, "edit order")
        if reply.success:
            return EditResult(True)
        reasons = [e.edit_failure_reason or e.preview_failure_reason for e in reply.errors]
        log.info("edit refused", extra={"order_id": exchange_order_id, "reasons": reasons})
        return EditResult(False, ", ".join(r for r in reasons if r) or "no reason given")

    async def get_order(self, exchange_order_id: str) -> OrderReport:
        """One order by exchange id; :class:`OrderNotFound` when the exchange does not know it."""
        try:
            data = await self.transport.call("GET", f"/orders/historical/{exchange_order_id}")
        except HttpError as exc:
            if exc.status in (400, 404):
                raise OrderNotFound(f"order {exchange_order_id}: {exc}") from None
            raise
        return self._report(parse_reply(wire.GetOrderReply, data, "get order").order)

    @staticmethod
    def _report(item: wire.OrderWire) -> OrderReport:
        try:
            return item.to_report()
        except (UnsupportedConfiguration, ValueError) as exc:
            raise UnexpectedReply(f"order {item.order_id}: {exc}") from None

    async def find_order(
        self, client_order_id: str, *, product_id: str | None = None
    ) -> OrderReport | None:
        """The order with this client_order_id, or None (the API has no filter: scan)."""
        products = [product_id] if product_id else None
        for report in await self.list_orders(product_ids=products):
            if report.client_order_id == client_order_id:
                return report
        return None

    async def list_orders(
        self, *, product_ids: Sequence[str] | None = None, open_only: bool = False
    ) -> list[OrderReport]:
        """Orders (every page), optionally only open ones."""
        reports: list[OrderReport] = []
        for products in _chunks(product_ids):
            params: dict[str, Any] = {"limit": 250}
            if products:
                params["product_ids"] = products
            if open_only:
                params["order_status"] = ["OPEN"]
            path = "/orders/historical/batch"
            async for page in self._pages(path, params, wire.ListOrdersReply):
                reports.extend(self._report(item) for item in page.orders)
        return reports

    async def list_fills(
        self,
        *,
        exchange_order_ids: Sequence[str] | None = None,
        product_ids: Sequence[str] | None = None,
        skip_trade_ids: Collection[str] = (),
    ) -> list[FillReport]:
        """Fills (every page), optionally of some orders or products; fills whose trade id
        is in ``skip_trade_ids`` (already known) are left out before they are parsed (an
        order read again and again after partial fills would otherwise parse them all each
        time)."""
        fills: list[FillReport] = []
        for orders in _chunks(exchange_order_ids):
            for products in _chunks(product_ids):
                params: dict[str, Any] = {"limit": 250}
                if orders:
                    params["order_ids"] = orders
                if products:
                    params["product_ids"] = products
                path = "/orders/historical/fills"
                skip = _known_fills(skip_trade_ids)
                async for page in self._pages(path, params, wire.ListFillsReply, skip):
                    fills.extend(item.to_report() for item in page.fills)
        return fills

    async def _pages(
        self,
        path: str,
        params: dict[str, Any],
        model: type[M],
        prune: Callable[[Any], Any] | None = None,
    ) -> Any:
        cursor = ""
        while True:
            query = dict(params, cursor=cursor) if cursor else params
            data = await self.transport.call("GET", path, params=query)
            page = parse_reply(model, prune(data) if prune else data, f"GET {path}")
            yield page
            cursor = getattr(page, "cursor", "")
            if not cursor or getattr(page, "has_next", True) is False:
                return

    # -- market data ---------------------------------------------------------------------------
    async def candles(self, product_id: str, start: int, end: int) -> list[Candle]:
        """5-minute candles with ``start <= candle.start < end``, oldest first (paged)."""
        found: dict[int, Candle] = {}
        span = CANDLES_PER_PAGE * CANDLE_SECONDS
        for page_start in range(start, end, span):
            page_end = min(end, page_start + span)
            params: dict[str, Any] = {
                "start": page_start,
                "end": page_end,
                "granularity": "FIVE_MINUTE",
            }
            data = await self.transport.call(
                "GET", f"/products/{product_id}/candles", params=params
            )
            reply = parse_reply(wire.CandlesReply, data, "get candles")
            for item in reply.candles:
                if start <= item.start < end:
                    try:
                        found[item.start] = item.to_candle()
                    except ValueError as exc:
                        raise UnexpectedReply(f"candle {item.start}: {exc}") from None
        return [found[key] for key in sorted(found)]

    async def best_bid_ask(self, product_ids: Sequence[str]) -> dict[str, Quote]:
        """Best bid and ask per product (products with an empty side are left out)."""
        data = await self.transport.call(
            "GET", "/best_bid_ask", params={"product_ids": list(product_ids)}
        )
        reply = parse_reply(wire.BestBidAskReply, data, "best bid/ask")
        quotes = (book.to_quote() for book in reply.pricebooks)
        return {quote.product_id: quote for quote in quotes if quote is not None}

    async def server_time(self) -> float:
        """The exchange's clock, Unix seconds."""
        data = await self.transport.call("GET", "/time", public=True)
        reply = parse_reply(wire.ServerTimeReply, data, "server time")
        try:
            return int(reply.epochMillis) / 1000
        except ValueError:
            raise UnexpectedReply(f"server time: bad epochMillis {reply.epochMillis!r}") from None
