"""``CoinbaseFeed``: the :class:`~ratchet.ports.MarketData` port over the Advanced Trade WebSocket.

Two connections: market data (heartbeats, ticker, candles) and the user channel (heartbeats,
user). Each subscribe message carries a fresh JWT. Per connection the feed

* tracks ``sequence_num``: a repeat or an older number is dropped (duplicate / out of order);
  a jump is a gap, and a gap is always followed by a REST resync;
* reconnects with jittered exponential backoff when the socket drops or goes quiet (no
  message, not even a heartbeat, for ``idle_timeout`` seconds — at most a quarter more), then
  resyncs;
* after every resync emits :class:`~ratchet.ports.Resynced` with the open orders and balances,
  so the engine compares them with what it believes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from ratchet.coinbase.auth import Credentials, ws_jwt
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.times import parse_time
from ratchet.coinbase.ws_wire import (
    MARKET_CHANNELS,
    USER_CHANNELS,
    BadMessage,
    candle_events,
    order_events,
    ticker_events,
)
from ratchet.ports import ExchangeError, MarketEvent, Resynced

log = logging.getLogger("ratchet.coinbase.ws")


@dataclass(slots=True)
class FeedStats:
    """Counters of what the feed saw, for logs, metrics and tests."""

    messages: int = 0
    duplicates: int = 0
    gaps: int = 0
    resyncs: int = 0
    reconnects: int = 0
    bad_messages: int = 0


class CoinbaseFeed:
    """Market and user events of some products, resilient to drops and gaps."""

    def __init__(
        self,
        market_url: str,
        user_url: str | None,
        product_ids: Sequence[str],
        exchange: CoinbaseExchange,
        credentials: Credentials | None,
        *,
        market_channels: Sequence[str] = MARKET_CHANNELS,
        idle_timeout: float = 10.0,
        max_backoff: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._market_url = market_url
        self._user_url = user_url
        self._products = list(product_ids)
        self._exchange = exchange
        self._credentials = credentials
        self._market_channels = tuple(market_channels)
        self._idle_timeout = idle_timeout
        self._max_backoff = max_backoff
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._queue: asyncio.Queue[MarketEvent | None] = asyncio.Queue()  # None: the end
        self._listener: Callable[[MarketEvent], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._resync_lock = asyncio.Lock()
        self._closed = False
        self._ended = False
        self.stats = FeedStats()
        self.connected: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"CoinbaseFeed(products={len(self._products)}, connected={self.connected})"

    async def start(self) -> None:
        """Open the connections (returns at once; events flow through :meth:`events`)."""
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl))
        self._tasks.append(
            asyncio.create_task(self._run("market", self._market_url, self._market_channels))
        )
        if self._user_url:
            self._tasks.append(
                asyncio.create_task(self._run("user", self._user_url, USER_CHANNELS))
            )

    async def events(self) -> AsyncIterator[MarketEvent]:
        """Every event, in arrival order; the iteration ends after :meth:`close`."""
        while (event := await self._queue.get()) is not None:
            yield event
        self._queue.put_nowait(None)  # the end marker stays, for every other consumer

    def listen(self, handler: Callable[[MarketEvent], None] | None) -> None:
        """Hand every event to ``handler`` as soon as it is read, in the task that read it
        (events already queued first); ``None`` goes back to queueing them for :meth:`events`.

        A consumer of :meth:`events` is a task of its own: an event waits in the queue until
        that task's turn comes, behind whatever else the event loop has ready. A listener
        takes it at once. Its exceptions are logged, not raised into the connection.
        """
        self._listener = handler
        while handler is not None and not self._queue.empty():
            event = self._queue.get_nowait()
            if event is None:  # the end marker stays, for the consumers of events()
                self._queue.put_nowait(None)
                return
            self._emit(event)

    def _emit(self, event: MarketEvent) -> None:
        listener = self._listener
        if listener is None:
            self._queue.put_nowait(event)
            return
        try:
            listener(event)
        except Exception:
            log.exception("feed listener failed", extra={"event": type(event).__name__})

    def pending(self) -> int:
        """Events received but not consumed yet."""
        return self._queue.qsize() - self._ended

    async def close(self) -> None:
        """Close both connections."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(None)  # wakes a consumer waiting in events()

    # -- one connection ---------------------------------------------------------------------------
    async def _run(self, name: str, url: str, channels: Sequence[str]) -> None:
        attempt = 0
        first = True
        while not self._closed:
            try:
                assert self._session is not None
                async with self._session.ws_connect(url, max_msg_size=0, autoping=True) as ws:
                    await self._subscribe(ws, channels)
                    self.connected[name] = True
                    attempt = 0
                    if not first:
                        await self.resync(f"{name} reconnected")
                    first = False
                    await self._read(name, ws)
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                log.warning("feed connection lost", extra={"feed": name, "error": str(exc)})
            self.connected[name] = False
            if self._closed:
                return
            attempt += 1
            self.stats.reconnects += 1
            ceiling = min(self._max_backoff, 0.05 * 2**attempt)
            await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    async def _subscribe(
        self, ws: aiohttp.ClientWebSocketResponse, channels: Sequence[str]
    ) -> None:
        for channel in channels:
            message: dict[str, Any] = {"type": "subscribe", "channel": channel}
            if channel != "heartbeats":
                message["product_ids"] = self._products
            if self._credentials is not None:
                message["jwt"] = ws_jwt(self._credentials, time.time())
            await ws.send_str(json.dumps(message))

    async def _read(self, name: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        # one timeout for the whole connection, pushed on by the messages (at most every
        # quarter of idle_timeout, not per message: a timeout per receive costs more than the
        # rest of the loop): a connection is dropped after idle_timeout .. 1.25 x idle_timeout
        # without a message (TimeoutError, as a receive timeout would)
        loop = asyncio.get_running_loop()
        limit, step = self._idle_timeout * 1.25, self._idle_timeout / 4
        pushed = loop.time()
        async with asyncio.timeout_at(pushed + limit) as quiet:
            last_sequence: int | None = None
            while True:
                msg = await ws.receive()
                received = time.perf_counter()  # where a ticker's latency starts
                if (now := loop.time()) - pushed > step:  # a message: the deadline moves on
                    quiet.reschedule(now + limit)
                    pushed = now
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    if msg.type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.ERROR,
                    ):
                        return
                    continue
                self.stats.messages += 1
                try:
                    message = orjson.loads(msg.data)
                    if not isinstance(message, dict):
                        raise BadMessage("a feed message must be a JSON object")
                except (ValueError, BadMessage) as exc:
                    self._bad(name, exc, msg.data)
                    continue
                sequence = message.get("sequence_num")
                if isinstance(sequence, int):
                    if last_sequence is not None and sequence <= last_sequence:
                        self.stats.duplicates += 1
                        continue
                    gap = last_sequence is not None and sequence > last_sequence + 1
                    last_sequence = sequence
                    if gap:
                        self.stats.gaps += 1
                        quiet.reschedule(None)  # the idle timeout never cuts a resync short
                        await self.resync(f"{name} sequence gap")
                        pushed = loop.time()
                        quiet.reschedule(pushed + limit)
                try:
                    self._dispatch(message, received)
                except BadMessage as exc:
                    self._bad(name, exc, msg.data)

    def _dispatch(self, message: dict[str, Any], received: float = 0.0) -> None:
        channel = message.get("channel")
        put = self._emit
        if channel == "ticker":
            moment = parse_time(message.get("timestamp"))
            for event in ticker_events(message, moment, received):
                put(event)
        elif channel == "user":
            for update in order_events(message):
                put(update)
        elif channel == "candles":
            for candle in candle_events(message):
                put(candle)
        elif message.get("type") == "error":
            log.error("feed error message", extra={"message": message.get("message")})

    def _bad(self, name: str, exc: Exception, data: Any) -> None:
        self.stats.bad_messages += 1
        log.error(
            "bad feed message", extra={"feed": name, "error": str(exc), "body": str(data)[:300]}
        )

    async def resync(self, reason: str) -> None:
        """Re-read open orders and balances over REST and emit :class:`Resynced`.

        A failing REST call is retried with backoff until it works (or the feed closes): a gap
        is never left without its resync.
        """
        async with self._resync_lock:
            delay = 0.1
            while not self._closed:
                try:
                    orders = await self._exchange.list_orders(
                        product_ids=self._products, open_only=True
                    )
                    balances = await self._exchange.balances()
                except ExchangeError as exc:
                    log.error(
                        "resync failed; retrying", extra={"reason": reason, "error": str(exc)}
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                self.stats.resyncs += 1
                self._emit(Resynced(reason, tuple(orders), tuple(balances.values())))
                return
