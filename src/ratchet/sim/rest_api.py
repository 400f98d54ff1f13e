"""The simulator's REST side: the Advanced Trade endpoints over the matching core.

Private endpoints check the JWT of every request (``Authorization: Bearer``) against the
request's own method, host and path. Faults (latency, 429, 5xx, a timeout after an order was
accepted) are applied by :func:`fault_middleware` and the create handler.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from ratchet.coinbase.auth import AuthFailure
from ratchet.coinbase.jwt_verify import JwtVerifier
from ratchet.coinbase.order_config import UnsupportedConfiguration, parse_configuration
from ratchet.coinbase.times import format_time
from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.domain.order_types import OrderSide
from ratchet.sim import serialize
from ratchet.sim.faults import Faults
from ratchet.sim.matching import CreateOrderRequest, MatchingEngine

PREFIX = "/api/v3/brokerage"
MAX_CANDLES = 350
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str) -> web.Response:
    """The API's generic error body."""
    grpc = {400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 500: 13, 503: 14}.get(status, 2)
    body = {"error": code, "code": grpc, "message": message, "details": []}
    return web.json_response(body, status=status)


def fault_middleware(faults: Faults) -> Any:
    """Latency, 429 and 5xx for API paths, as the faults say."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PREFIX) or not faults.applies_to(request.path):
            return await handler(request)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.take("http_429"):
            headers = {"Retry-After": f"{faults.retry_after:g}"}
            if faults.hits["http_429"] % 2 == 0:  # Coinbase sometimes answers 429 in HTML
                html = "<html><body><h1>429 Too Many Requests</h1></body></html>"
                return web.Response(
                    status=429, text=html, content_type="text/html", headers=headers
                )
            response = error(429, "RATE_LIMIT_EXCEEDED", "Too many requests")
            response.headers.update(headers)
            return response
        if faults.roll_5xx():
            return error(503, "UNAVAILABLE", "service unavailable (injected)")
        return await handler(request)

    return middleware


class SimRestApi:
    """Route handlers of the simulated Advanced Trade REST API."""

    def __init__(
        self,
        engine: MatchingEngine,
        verifier: JwtVerifier,
        faults: Faults,
        candles: Mapping[str, list[Candle]],
        *,
        sim_now: Callable[[], float],
        after_change: Callable[[], None],
    ) -> None:
        self._engine = engine
        self._verifier = verifier
        self._faults = faults
        self._candles = candles
        self._now = sim_now
        self._after_change = after_change

    def routes(self) -> list[web.RouteDef]:
        """Every route, private and public."""
        p, m = PREFIX, f"{PREFIX}/market"
        private = [
            web.get(f"{p}/products", self._auth(self.products)),
            web.get(f"{p}/products/{{product_id}}", self._auth(self.product)),
            web.get(f"{p}/products/{{product_id}}/candles", self._auth(self.candles)),
            web.get(f"{p}/best_bid_ask", self._auth(self.best_bid_ask)),
            web.get(f"{p}/accounts", self._auth(self.accounts)),
            web.post(f"{p}/orders", self._auth(self.create_order)),
            web.post(f"{p}/orders/batch_cancel", self._auth(self.cancel_orders)),
            web.post(f"{p}/orders/edit", self._auth(self.edit_order)),
            web.get(f"{p}/orders/historical/batch", self._auth(self.list_orders)),
            web.get(f"{p}/orders/historical/fills", self._auth(self.list_fills)),
            web.get(f"{p}/orders/historical/{{order_id}}", self._auth(self.get_order)),
        ]
        public = [
            web.get(f"{p}/time", self.server_time),
            web.get(f"{m}/products", self.products),
            web.get(f"{m}/products/{{product_id}}", self.product),
            web.get(f"{m}/products/{{product_id}}/candles", self.candles),
        ]
        return private + public

    def _auth(self, handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                return error(401, "UNAUTHENTICATED", "missing bearer token")
            try:
                self._verifier.verify_rest(
                    header[7:], request.method, request.host, request.path, time.time()
                )
            except AuthFailure as exc:
                return error(401, "UNAUTHENTICATED", f"invalid token: {exc.reason}")
            return await handler(request)

        return checked

    # -- market and account ---------------------------------------------------------------------
    async def server_time(self, request: web.Request) -> web.Response:
        """``GET /time`` (camelCase keys): the replay's clock — the exchange's own time.

        JWT lifetimes are still checked against the wall clock (clients sign with it).
        """
        now = self._now()
        body = {
            "iso": format_time(now),
            "epochSeconds": str(int(now)),
            "epochMillis": str(int(now * 1000)),
        }
        return web.json_response(body)

    async def products(self, request: web.Request) -> web.Response:
        """``GET /products`` (optionally ``product_ids``)."""
        wanted = set(request.query.getall("product_ids", []))
        items = [
            serialize.product_json(product, self._engine.last_price(pid))
            for pid, product in sorted(self._engine_products().items())
            if not wanted or pid in wanted
        ]
        return web.json_response({"products": items, "num_products": len(items)})

    async def product(self, request: web.Request) -> web.Response:
        """``GET /products/{id}``."""
        pid = request.match_info["product_id"]
        product = self._engine.product(pid)
        if product is None:
            return error(404, "NOT_FOUND", f"product {pid} not found")
        return web.json_response(serialize.product_json(product, self._engine.last_price(pid)))

    def _engine_products(self) -> dict[str, Any]:
        return {pid: self._engine.product(pid) for pid in self._candles}

    async def candles(self, request: web.Request) -> web.Response:
        """``GET /products/{id}/candles``: closed candles only, newest first, at most 350."""
        pid = request.match_info["product_id"]
        if pid not in self._candles:
            return error(404, "NOT_FOUND", f"product {pid} not found")
        try:
            start, end = int(request.query["start"]), int(request.query["end"])
        except (KeyError, ValueError):
            return error(400, "INVALID_ARGUMENT", "start and end (Unix seconds) are required")
        if request.query.get("granularity", "FIVE_MINUTE") != "FIVE_MINUTE":
            return error(400, "INVALID_ARGUMENT", "the simulator serves FIVE_MINUTE candles")
        if (end - start) / CANDLE_SECONDS > MAX_CANDLES:
            return error(
                400, "INVALID_ARGUMENT", "number of candles requested should be less than 350"
            )
        closed_before = self._now()
        found = [
            serialize.candle_json(c)
            for c in self._candles[pid]
            if start <= c.start < end and c.start + CANDLE_SECONDS <= closed_before
        ]
        return web.json_response({"candles": found[::-1]})

    async def best_bid_ask(self, request: web.Request) -> web.Response:
        """``GET /best_bid_ask``: one tick either side of the last price."""
        books = []
        for pid in request.query.getall("product_ids", []) or sorted(self._candles):
            product, last = self._engine.product(pid), self._engine.last_price(pid)
            if product is None or last is None:
                continue
            tick = product.price_increment
            size = format(product.base_min_size * 100, "f")
            books.append(
                {
                    "product_id": pid,
                    "bids": [{"price": format(last - tick, "f"), "size": size}],
                    "asks": [{"price": format(last + tick, "f"), "size": size}],
                    "time": format_time(self._now()),
                }
            )
        return web.json_response({"pricebooks": books})

    async def accounts(self, request: web.Request) -> web.Response:
        """``GET /accounts`` (cursor paging)."""
        items = [serialize.account_json(a) for a in self._engine.accounts()]
        page, cursor, has_next = _page(items, request, default_limit=49, max_limit=250)
        return web.json_response(
            {"accounts": page, "has_next": has_next, "cursor": cursor, "size": len(page)}
        )

    # -- orders ---------------------------------------------------------------------------------
    async def create_order(self, request: web.Request) -> web.StreamResponse:
        """``POST /orders``; a repeated client_order_id returns the existing order."""
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
        cid, pid, side = body.get("client_order_id"), body.get("product_id"), body.get("side")
        if not isinstance(cid, str) or not cid:
            return error(400, "INVALID_ARGUMENT", "client_order_id is required")
        if not isinstance(pid, str) or side not in ("BUY", "SELL"):
            return error(400, "INVALID_ARGUMENT", "product_id and side BUY/SELL are required")
        config_json = body.get("order_configuration")
        try:
            config = parse_configuration(config_json)
        except UnsupportedConfiguration as exc:
            return _refused("UNSUPPORTED_ORDER_CONFIGURATION", str(exc), config_json)
        req = CreateOrderRequest(
            client_order_id=cid,
            product_id=pid,
            side=OrderSide(side),
            order_type=config.order_type,
            base_size=config.base_size or None,
            quote_size=config.quote_size,
            limit_price=config.limit_price,
            stop_price=config.stop_price,
            stop_direction=config.stop_direction,
            post_only=config.post_only,
            time_in_force=config.time_in_force.value,
            end_time=config.end_time,
        )
        result = self._engine.create_order(req, self._now())
        self._after_change()
        if not result.success or result.order is None:
            return _refused(result.failure_reason, result.message, config_json)
        if self._faults.take("timeout_after_accept"):
            await asyncio.sleep(self._faults.hang_seconds)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=504)
        order = result.order
        success = {
            "order_id": order.order_id,
            "product_id": order.product_id,
            "side": order.side.value,
            "client_order_id": order.client_order_id,
        }
        reply = {
            "success": True,
            "success_response": success,
            "order_configuration": serialize.order_configuration(order),
        }
        return web.json_response(reply)

    async def cancel_orders(self, request: web.Request) -> web.Response:
        """``POST /orders/batch_cancel``."""
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
        ids = body.get("order_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 100:
            return error(400, "INVALID_ARGUMENT", "order_ids must be a list of at most 100 ids")
        results = self._engine.cancel_orders(ids, self._now())
        self._after_change()
        rows = [
            {"success": r.success, "failure_reason": r.failure_reason, "order_id": r.order_id}
            for r in results
        ]
        return web.json_response({"results": rows})

    async def edit_order(self, request: web.Request) -> web.Response:
        """``POST /orders/edit`` (price and size required; stop_price optional)."""
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            order_id = str(body["order_id"])
            price, size = Decimal(str(body["price"])), Decimal(str(body["size"]))
            stop = Decimal(str(body["stop_price"])) if body.get("stop_price") else None
        except (KeyError, ArithmeticError, ValueError):
            return error(400, "INVALID_ARGUMENT", "order_id, price and size are required")
        result = self._engine.edit_order(
            order_id, price=price, size=size, stop_price=stop, now=self._now()
        )
        self._after_change()
        errors = [
            {"edit_failure_reason": reason, "preview_failure_reason": ""}
            for reason in result.errors
        ]
        return web.json_response({"success": result.success, "errors": errors})

    async def get_order(self, request: web.Request) -> web.Response:
        """``GET /orders/historical/{order_id}``."""
        order = self._engine.order(request.match_info["order_id"])
        if order is None:
            return error(404, "NOT_FOUND", "order not found")
        return web.json_response({"order": serialize.order_json(order)})

    async def list_orders(self, request: web.Request) -> web.Response:
        """``GET /orders/historical/batch`` (filters and cursor paging)."""
        query = request.query
        statuses = query.getall("order_status", []) or None
        orders = self._engine.orders(query.getall("product_ids", []) or None, statuses)
        ids = set(query.getall("order_ids", []))
        items = [serialize.order_json(o) for o in reversed(orders) if not ids or o.order_id in ids]
        page, cursor, has_next = _page(items, request, default_limit=100, max_limit=1000)
        return web.json_response(
            {"orders": page, "has_next": has_next, "cursor": cursor, "sequence": "0"}
        )

    async def list_fills(self, request: web.Request) -> web.Response:
        """``GET /orders/historical/fills`` (filters and cursor paging)."""
        query = request.query
        fills = self._engine.fills(
            query.getall("order_ids", []) or None, query.getall("product_ids", []) or None
        )
        items = [serialize.fill_json(f) for f in reversed(fills)]
        page, cursor, _ = _page(items, request, default_limit=100, max_limit=1000)
        return web.json_response({"fills": page, "cursor": cursor})


def _page(
    items: list[dict[str, Any]], request: web.Request, *, default_limit: int, max_limit: int
) -> tuple[list[dict[str, Any]], str, bool]:
    """One page of ``items`` and the cursor of the next (``""`` on the last page)."""
    try:
        limit = min(max_limit, max(1, int(request.query.get("limit", default_limit))))
        offset = int(request.query.get("cursor") or 0)
    except ValueError:
        limit, offset = default_limit, 0
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return page, str(offset + limit) if more else "", more


async def _json_body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "INVALID_ARGUMENT", "the body must be JSON")
    if not isinstance(body, dict):
        return error(400, "INVALID_ARGUMENT", "the body must be a JSON object")
    return body


def _refused(reason: str, message: str, config: Any) -> web.Response:
    error_response = {
        "error": reason,
        "message": message,
        "error_details": message,
        "preview_failure_reason": "",
        "new_order_failure_reason": reason,
    }
    body = {"success": False, "error_response": error_response, "order_configuration": config}
    return web.json_response(body)
