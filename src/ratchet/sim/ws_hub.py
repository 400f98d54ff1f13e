"""The simulator's WebSocket side: subscriptions, sequence numbers, heartbeats, faults.

Each connection has its own ``sequence_num`` counter across channels (as the real feed does)
and its own writer task with a bounded queue: a client that cannot keep up is disconnected,
it never slows the market. Subscribing to ``user`` needs a valid JWT; the first user messages
are a snapshot of the open orders in batches of 50, then updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from ratchet.coinbase.auth import AuthFailure
from ratchet.coinbase.jwt_verify import JwtVerifier
from ratchet.coinbase.times import format_time
from ratchet.sim.faults import Faults

log = logging.getLogger("ratchet.sim.ws")

PUBLIC_CHANNELS = frozenset({"heartbeats", "ticker", "ticker_batch", "candles", "status"})
PRIVATE_CHANNELS = frozenset({"user"})
SNAPSHOT_BATCH = 50
SUBSCRIBE_DEADLINE = 5.0
QUEUE_LIMIT = 10_000


@dataclass(eq=False)
class Connection:
    """One client connection and what it subscribed to."""

    ws: web.WebSocketResponse
    user_endpoint: bool
    transport: asyncio.BaseTransport | None = None
    subscriptions: dict[str, set[str]] = field(default_factory=dict)
    sequence: int = 0
    heartbeat_counter: int = 0
    held: str | None = None
    outbox: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))

    def wants(self, channel: str, product_id: str | None) -> bool:
        """True when this connection subscribed to ``channel`` for ``product_id``."""
        products = self.subscriptions.get(channel)
        if products is None:
            return False
        return product_id is None or not products or product_id in products


class WsHub:
    """Every WebSocket connection of the simulator and the publishing to them."""

    def __init__(
        self,
        faults: Faults,
        verifier: JwtVerifier,
        open_orders: Callable[[], list[dict[str, Any]]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._faults = faults
        self._verifier = verifier
        self._open_orders = open_orders
        self._connections: set[Connection] = set()
        self.dropped_slow_clients = 0

    def __repr__(self) -> str:
        return f"WsHub(connections={len(self._connections)})"

    @property
    def connections(self) -> int:
        """How many clients are connected."""
        return len(self._connections)

    def subscribers(self, channel: str) -> int:
        """How many connected clients subscribed to ``channel``."""
        return sum(1 for conn in self._connections if channel in conn.subscriptions)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The aiohttp handler of ``/ws`` (market data) and ``/ws/user``."""
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Connection(ws, request.path.endswith("/user"), request.transport)
        self._connections.add(conn)
        writer = asyncio.create_task(self._write(conn))
        try:
            await self._read(conn)
        finally:
            self._connections.discard(conn)
            with contextlib.suppress(asyncio.QueueFull):
                conn.outbox.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
            await ws.close()
        return ws

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for conn in list(self._connections):
            await conn.ws.close()

    def drop_all(self) -> None:
        """Abruptly drop every connection (a fault)."""
        for conn in list(self._connections):
            self._drop(conn)

    # -- reading: subscribe / unsubscribe -------------------------------------------------------
    async def _read(self, conn: Connection) -> None:
        deadline = time.monotonic() + SUBSCRIBE_DEADLINE
        while not conn.ws.closed:
            timeout = None if conn.subscriptions else max(0.0, deadline - time.monotonic())
            try:
                msg = await conn.ws.receive(timeout=timeout)
            except TimeoutError:
                self._send_raw(conn, {"type": "error", "message": "subscribe within 5 seconds"})
                return
            if msg.type is not WSMsgType.TEXT:
                return
            try:
                request = json.loads(msg.data)
                if not isinstance(request, dict):
                    raise ValueError("a message must be a JSON object")
                self._subscription(conn, request)
            except ValueError as exc:
                self._send_raw(conn, {"type": "error", "message": str(exc)})

    def _subscription(self, conn: Connection, request: dict[str, Any]) -> None:
        kind, channel = request.get("type"), request.get("channel")
        if kind not in ("subscribe", "unsubscribe"):
            raise ValueError(f"unknown message type {kind!r}")
        if channel not in PUBLIC_CHANNELS | PRIVATE_CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        products = request.get("product_ids") or []
        if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
            raise ValueError("product_ids must be a list of strings")
        if channel in PRIVATE_CHANNELS or conn.user_endpoint:
            token = request.get("jwt")
            if not isinstance(token, str):
                raise ValueError(f"channel {channel} needs a jwt")
            try:
                self._verifier.verify_ws(token, time.time())
            except AuthFailure as exc:
                raise ValueError(f"authentication failed: {exc.reason}") from None
        if kind == "unsubscribe":
            if products and channel in conn.subscriptions:
                conn.subscriptions[channel] -= set(products)
            else:
                conn.subscriptions.pop(channel, None)
        else:
            conn.subscriptions.setdefault(channel, set()).update(products)
        current = {name: sorted(ids) for name, ids in conn.subscriptions.items()}
        self._send(conn, "subscriptions", [{"subscriptions": current}], count_faults=False)
        if kind == "subscribe" and channel == "user":
            self._user_snapshot(conn, set(products))

    def _user_snapshot(self, conn: Connection, products: set[str]) -> None:
        orders = [o for o in self._open_orders() if not products or o["product_id"] in products]
        batches = [orders[i : i + SNAPSHOT_BATCH] for i in range(0, len(orders), SNAPSHOT_BATCH)]
        if not batches or len(batches[-1]) == SNAPSHOT_BATCH:
            batches.append([])  # a batch of fewer than 50 says the snapshot is complete
        for batch in batches:
            self._send(conn, "user", [{"type": "snapshot", "orders": batch}], count_faults=False)

    # -- publishing -------------------------------------------------------------------------
    def publish(self, channel: str, events: list[dict[str, Any]], product_id: str | None) -> None:
        """Send one message on ``channel`` to every connection subscribed for ``product_id``."""
        for conn in list(self._connections):
            if conn.wants(channel, product_id):
                self._send(conn, channel, events)

    def heartbeat(self) -> None:
        """One heartbeat to every connection subscribed to ``heartbeats``."""
        for conn in list(self._connections):
            if conn.wants("heartbeats", None):
                conn.heartbeat_counter += 1
                events = [
                    {
                        "current_time": format_time(self._clock()),
                        "heartbeat_counter": conn.heartbeat_counter,
                    }
                ]
                self._send(conn, "heartbeats", events)

    def _send(
        self, conn: Connection, channel: str, events: list[Any], *, count_faults: bool = True
    ) -> None:
        faults = self._faults
        if count_faults and faults.take("ws_drop"):
            self._drop(conn)
            return
        if count_faults and faults.take("ws_gap"):
            conn.sequence += 1  # a message the client never gets
        envelope = {
            "channel": channel,
            "client_id": "",
            "timestamp": format_time(self._clock()),
            "sequence_num": conn.sequence,
            "events": events,
        }
        conn.sequence += 1
        text = json.dumps(envelope)
        if count_faults and faults.take("ws_reorder") and conn.held is None:
            conn.held = text
            return
        self._enqueue(conn, text)
        if count_faults and faults.take("ws_duplicate"):
            self._enqueue(conn, text)
        if conn.held is not None:
            held, conn.held = conn.held, None
            self._enqueue(conn, held)

    def _send_raw(self, conn: Connection, message: dict[str, Any]) -> None:
        self._enqueue(conn, json.dumps(message))

    def _enqueue(self, conn: Connection, text: str) -> None:
        try:
            conn.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped_slow_clients += 1
            log.warning("dropping a slow WebSocket client")
            self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        self._connections.discard(conn)
        if isinstance(conn.transport, asyncio.WriteTransport):
            conn.transport.abort()
        with contextlib.suppress(asyncio.QueueFull):
            conn.outbox.put_nowait(None)

    async def _write(self, conn: Connection) -> None:
        while True:
            text = await conn.outbox.get()
            if text is None:
                return
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
