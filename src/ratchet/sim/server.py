"""``SimServer``: the Coinbase-compatible simulator on 127.0.0.1 (REST + WebSocket).

It replays candles through the matching core — each candle as four legs (open, nearer extreme,
farther extreme, close) — publishing tickers and candle updates, and order updates on the user
channel. Time is the replay's: ``sim_now`` is the time of the last leg applied. With
``speed > 0`` a background task paces the legs at ``speed`` × real time; with ``speed == 0``
the market moves only when :meth:`SimServer.step` is called (deterministic tests).

Products named in ``SimSettings.stagger`` have their legs shifted by a seeded phase within the
leg interval (see :func:`~ratchet.sim.replay.stagger_shifts`), so they do not all move at the
same instant; the others keep the candles' own leg times.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

from aiohttp import web

from ratchet.coinbase.auth import Credentials, generate_test_credentials, write_key_file
from ratchet.coinbase.jwt_verify import JwtVerifier
from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.sim import serialize
from ratchet.sim.faults import FaultError, Faults
from ratchet.sim.matching import MatchingEngine
from ratchet.sim.products import product_for
from ratchet.sim.replay import Leg, candle_path, stagger_shifts
from ratchet.sim.rest_api import PREFIX, SimRestApi, fault_middleware
from ratchet.sim.tls import self_signed_certificate
from ratchet.sim.ws_hub import WsHub

log = logging.getLogger("ratchet.sim")

DEFAULT_BALANCES = {"BTC": Decimal(10), "USD": Decimal(100_000)}
CATCH_UP = 0.005
"""Seconds the pacing may run behind its schedule and still catch up (a sleep's overshoot);
after a longer stall it carries on from where it is, never rushing through the missed time."""


@dataclass
class SimSettings:
    """How the simulator runs."""

    host: str = "127.0.0.1"
    port: int = 0
    speed: float = 60.0
    seed: int = 0
    tls: bool = False
    keys_out: Path | None = None
    balances: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_BALANCES))
    maker_fee_rate: Decimal = Decimal("0.004")
    taker_fee_rate: Decimal = Decimal("0.006")
    participation: Decimal = Decimal("0.25")
    heartbeat_interval: float = 1.0
    stagger: frozenset[str] = frozenset()  # products whose legs get a seeded phase shift


@dataclass(frozen=True)
class Endpoints:
    """Where the simulator listens."""

    rest: str
    ws: str
    ws_user: str

    def as_json(self) -> dict[str, str]:
        """For ``endpoints.json``."""
        return {"rest": self.rest, "ws": self.ws, "ws_user": self.ws_user}


class SimServer:
    """The simulator: matching core, replay, REST and WebSocket on one loopback port."""

    def __init__(
        self,
        candles: Mapping[str, list[Candle]],
        settings: SimSettings | None = None,
        *,
        faults: Faults | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        if not candles or not all(candles.values()):
            raise ValueError("the simulator needs at least one product with candles")
        self.settings = settings or SimSettings()
        self.faults = faults or Faults(seed=self.settings.seed)
        self.candles = {pid: list(series) for pid, series in candles.items()}
        products = [
            product_for(pid, median(c.close for c in series))
            for pid, series in self.candles.items()
        ]
        self.engine = MatchingEngine(
            products,
            self.settings.balances,
            maker_fee_rate=self.settings.maker_fee_rate,
            taker_fee_rate=self.settings.taker_fee_rate,
            participation=self.settings.participation,
            seed=self.settings.seed,
        )
        key_name = f"organizations/ratchet-sim/apiKeys/{uuid.UUID(int=self.settings.seed)}"
        if credentials is None:
            credentials, self.private_key_pem = generate_test_credentials(key_name)
        else:
            self.private_key_pem = ""
        self.credentials = credentials
        staggered = sorted(self.settings.stagger & self.candles.keys())
        shifts = stagger_shifts(staggered, self.settings.seed)
        per_product = [
            [leg for candle in series for leg in candle_path(candle, pid, shifts.get(pid, 0.0))]
            for pid, series in self.candles.items()
        ]
        self._legs = list(heapq.merge(*per_product, key=lambda leg: leg.time))
        self._next_leg = 0
        self._partial: dict[str, Candle] = {}
        self.sim_now = float(min(series[0].start for series in self.candles.values()))
        self.hub = WsHub(
            self.faults, JwtVerifier.for_credentials(credentials), self._open_orders, self._clock
        )
        self.rest = SimRestApi(
            self.engine,
            JwtVerifier.for_credentials(credentials),
            self.faults,
            self.candles,
            sim_now=self._clock,
            after_change=self.publish_order_updates,
        )
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.endpoints: Endpoints | None = None
        self.finished = asyncio.Event()

    def __repr__(self) -> str:
        state = "listening" if self._runner else "stopped"
        return f"SimServer({state}, legs={self._next_leg}/{len(self._legs)}, {self.hub!r})"

    def _clock(self) -> float:
        return self.sim_now

    @property
    def legs_total(self) -> int:
        """How many legs the replay has in all."""
        return len(self._legs)

    @property
    def legs_done(self) -> int:
        """How many legs have been applied."""
        return self._next_leg

    # -- life cycle -------------------------------------------------------------------------------
    def app(self) -> web.Application:
        """The aiohttp application (REST, WebSocket and the /sim admin routes)."""
        app = web.Application(middlewares=[fault_middleware(self.faults)])
        app.add_routes(self.rest.routes())
        app.add_routes(
            [
                web.get("/ws", self.hub.handle),
                web.get("/ws/user", self.hub.handle),
                web.get("/sim/state", self._state),
                web.get("/sim/faults", self._get_faults),
                web.post("/sim/faults", self._set_faults),
                web.post("/sim/step", self._step),
            ]
        )
        return app

    async def start(self, *, pace: bool = True) -> Endpoints:
        """Listen on the configured host/port (0: any free port); start heartbeats and pacing.

        With ``pace=False`` the replay waits for :meth:`begin_pacing` (so a client can connect
        and subscribe before the first price moves).
        """
        settings = self.settings
        context = None
        if settings.tls:
            folder = settings.keys_out or Path.cwd()
            context = self_signed_certificate(folder, settings.host)
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.port, ssl_context=context)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        scheme, ws_scheme = ("https", "wss") if context else ("http", "ws")
        base = f"{settings.host}:{port}"
        self.endpoints = Endpoints(
            rest=f"{scheme}://{base}{PREFIX}",
            ws=f"{ws_scheme}://{base}/ws",
            ws_user=f"{ws_scheme}://{base}/ws/user",
        )
        if settings.keys_out is not None:
            self._write_keys(settings.keys_out)
        self._tasks.append(asyncio.create_task(self._heartbeats()))
        if pace:
            self.begin_pacing()
        return self.endpoints

    def _write_keys(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.private_key_pem:
            write_key_file(
                folder / "cdp_api_key.json", self.credentials.key_name, self.private_key_pem
            )
        assert self.endpoints is not None
        (folder / "endpoints.json").write_text(
            json.dumps(self.endpoints.as_json(), indent=1) + "\n"
        )

    def begin_pacing(self) -> None:
        """Start replaying at ``speed`` × real time (nothing happens when speed is 0)."""
        if self.settings.speed > 0 and not any(t.get_name() == "pace" for t in self._tasks):
            self._tasks.append(asyncio.create_task(self._pace(), name="pace"))

    async def stop(self) -> None:
        """Stop pacing, close every connection and the listener."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the market -------------------------------------------------------------------------------
    def step(self, legs: int = 1) -> int:
        """Apply the next ``legs`` legs now; return how many were applied (0 at the end)."""
        done = 0
        while done < legs and self._next_leg < len(self._legs):
            self._apply(self._legs[self._next_leg])
            self._next_leg += 1
            done += 1
        if self._next_leg >= len(self._legs):
            self.finished.set()
        return done

    def step_candles(self, candles: int = 1) -> int:
        """Apply whole candles' worth of legs (all products at the same times)."""
        target = self._next_leg
        end_time = None
        while target < len(self._legs):
            leg = self._legs[target]
            boundary = (leg.time // CANDLE_SECONDS) * CANDLE_SECONDS
            if end_time is None:
                end_time = boundary + CANDLE_SECONDS * candles
            if leg.time >= end_time:
                break
            target += 1
        return self.step(target - self._next_leg)

    def _apply(self, leg: Leg) -> None:
        self.sim_now = max(self.sim_now, leg.time)
        self.engine.market_move(leg.product_id, leg.price, leg.volume, leg.time, gap=leg.gap)
        product = self.engine.product(leg.product_id)
        assert product is not None
        tick = product.price_increment
        self.hub.publish(
            "ticker",
            [{"type": "update", "tickers": [self._ticker(leg, tick)]}],
            leg.product_id,
        )
        candle = self._grow_candle(leg)
        self.hub.publish(
            "candles",
            [{"type": "update", "candles": [serialize.candle_json(candle, leg.product_id)]}],
            leg.product_id,
        )
        self.publish_order_updates()

    @staticmethod
    def _ticker(leg: Leg, tick: Decimal) -> dict[str, Any]:
        return {
            "type": "ticker",
            "product_id": leg.product_id,
            "price": format(leg.price, "f"),
            "best_bid": format(leg.price - tick, "f"),
            "best_ask": format(leg.price + tick, "f"),
            "best_bid_quantity": "1",
            "best_ask_quantity": "1",
        }

    def _grow_candle(self, leg: Leg) -> Candle:
        start = int(leg.time // CANDLE_SECONDS) * CANDLE_SECONDS
        current = self._partial.get(leg.product_id)
        if current is None or current.start != start:
            candle = Candle(start, leg.price, leg.price, leg.price, leg.price, leg.volume)
        else:
            candle = Candle(
                start,
                current.open,
                max(current.high, leg.price),
                min(current.low, leg.price),
                leg.price,
                current.volume + leg.volume,
            )
        self._partial[leg.product_id] = candle
        return candle

    def publish_order_updates(self) -> None:
        """Send every order change since the last call on the user channel.

        One message per product, so a subscription to some products gets only their orders
        (as its snapshot does).
        """
        by_product: dict[str, list[dict[str, Any]]] = {}
        for order in self.engine.drain_updates():
            by_product.setdefault(order.product_id, []).append(serialize.user_order_json(order))
        for product_id, orders in by_product.items():
            self.hub.publish("user", [{"type": "update", "orders": orders}], product_id)

    def _open_orders(self) -> list[dict[str, Any]]:
        return [serialize.user_order_json(o) for o in self.engine.orders(statuses=["OPEN"])]

    async def _pace(self) -> None:
        # each leg is due its market interval after the previous one; a sleep's overshoot (and
        # the time a step takes) is made up on the next legs, up to CATCH_UP
        loop = asyncio.get_running_loop()
        due = loop.time()
        while self._next_leg < len(self._legs):
            leg = self._legs[self._next_leg]
            interval = (leg.time - self.sim_now) / self.settings.speed
            if interval > 0:
                due += interval
                now = loop.time()
                if due > now:
                    await asyncio.sleep(due - now)
                elif now - due > CATCH_UP:
                    due = now
            self.step(1)
        self.finished.set()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            self.hub.heartbeat()

    # -- admin routes ------------------------------------------------------------------------------
    async def _state(self, request: web.Request) -> web.Response:
        body = {
            "sim_time": self.sim_now,
            "legs_done": self._next_leg,
            "legs_total": len(self._legs),
            "finished": self.finished.is_set(),
            "connections": self.hub.connections,
            "orders": len(self.engine.orders()),
            "fills": len(self.engine.fills()),
            "dropped_slow_clients": self.hub.dropped_slow_clients,
        }
        return web.json_response(body)

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.snapshot())

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise FaultError("the body must be a JSON object of fault=value")
            if body.pop("clear", False):
                self.faults.clear()
            self.faults.set(**body)
        except (ValueError, FaultError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.faults.snapshot())

    async def _step(self, request: web.Request) -> web.Response:
        try:
            legs = int(request.query.get("legs", "1"))
        except ValueError:
            return web.json_response({"error": "legs must be an integer"}, status=400)
        return web.json_response({"applied": self.step(legs), "sim_time": self.sim_now})


def ssl_client_context(cert: Path) -> ssl.SSLContext:
    """A client TLS context that trusts the simulator's self-signed certificate."""
    return ssl.create_default_context(cafile=str(cert))
