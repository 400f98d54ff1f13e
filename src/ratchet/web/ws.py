"""``/ws``: live snapshots (prices, positions, orders, pairs, portfolio) pushed to browsers.

One publisher task builds a snapshot every ``push_interval`` seconds, serialises it once, and
offers it to every client's bounded queue without ever awaiting a client: a client whose queue
is full is too slow and is dropped (closed with code 4008), so no browser can slow the engine.
A snapshot is only pushed when it differs from the previous one; a new client gets the current
one at once. Each client's own task drains its queue onto its socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from ratchet.web.auth import principal
from ratchet.web.context import WebContext
from ratchet.web.serialize import dumps

log = logging.getLogger("ratchet.web")
TOO_SLOW = 4008


@dataclass(eq=False, slots=True)
class _Client:
    socket: web.WebSocketResponse
    queue: asyncio.Queue[str]
    username: str
    transport: asyncio.BaseTransport | None
    dropped: bool = False


@dataclass(slots=True)
class HubStats:
    """What the hub did: snapshots built and clients connected/dropped."""

    snapshots: int = 0
    pushed: int = 0
    connected: int = 0
    dropped: int = 0


@dataclass(slots=True)
class SnapshotHub:
    """The clients of ``/ws`` and the task that pushes snapshots to them."""

    ctx: WebContext
    clients: set[_Client] = field(default_factory=set)
    stats: HubStats = field(default_factory=HubStats)
    _last: str = ""
    _task: asyncio.Task[None] | None = None
    _closing: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self) -> None:
        """Start publishing (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._publish(), name="ratchet-web-snapshots")

    async def stop(self) -> None:
        """Stop publishing and close every client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for client in list(self.clients):
            await client.socket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    def snapshot(self) -> str:
        """The current state as one JSON message."""
        control = self.ctx.control
        self.stats.snapshots += 1
        return dumps(
            {
                "type": "snapshot",
                "prices": control.prices(),
                "positions": control.positions(),
                "orders": control.orders(),
                "pairs": control.pairs(),
                "portfolio": control.portfolio(),
            }
        )

    def offer(self, message: str) -> None:
        """Queue ``message`` for every client; drop those whose queue is full. Never awaits."""
        for client in list(self.clients):
            try:
                client.queue.put_nowait(message)
            except asyncio.QueueFull:
                self._drop(client)
            else:
                self.stats.pushed += 1

    def _drop(self, client: _Client) -> None:
        client.dropped = True
        self.clients.discard(client)
        self.stats.dropped += 1
        log.warning("web: dropped slow WebSocket client of %s", client.username)
        # closing may wait on the slow socket: let it happen beside the publisher
        task = asyncio.create_task(_abort(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _publish(self) -> None:
        interval = self.ctx.settings.push_interval
        while True:
            started = time.monotonic()
            if self.clients:
                message = self.snapshot()
                if message != self._last:
                    self._last = message
                    self.offer(message)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws``: a session-authenticated WebSocket of snapshots."""
        who = await principal(request)
        if who is None:
            raise web.HTTPUnauthorized(text="log in first")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise web.HTTPForbidden(text="cross-origin WebSocket refused")
        socket = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await socket.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue(self.ctx.settings.client_queue)
        client = _Client(socket, queue, who.username, request.transport)
        self.stats.connected += 1
        fresh = self.snapshot()
        if fresh == self._last:
            client.queue.put_nowait(fresh)
            self.clients.add(client)
        else:  # news for everyone
            self._last = fresh
            self.clients.add(client)
            self.offer(fresh)
        sender = asyncio.create_task(_send(client))
        try:
            async for message in socket:  # the browser sends nothing we act on
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return socket


async def _send(client: _Client) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        while not client.dropped:
            message = await client.queue.get()
            await client.socket.send_str(message)


async def _abort(client: _Client) -> None:
    """Close with :data:`TOO_SLOW`; if the socket cannot take even that, cut the connection."""
    try:
        await asyncio.wait_for(
            client.socket.close(code=TOO_SLOW, message=b"too slow: dropped"), timeout=1.0
        )
    except (TimeoutError, ConnectionError, RuntimeError):
        if client.transport is not None:
            client.transport.abort()  # type: ignore[attr-defined]


HUB = web.AppKey("ratchet_web_hub", SnapshotHub)


def hub_of(request: web.Request) -> SnapshotHub:
    """The server's snapshot hub."""
    return request.app[HUB]


async def ws_handler(request: web.Request) -> web.StreamResponse:
    """``GET /ws`` (see :meth:`SnapshotHub.serve`)."""
    return await hub_of(request).serve(request)
