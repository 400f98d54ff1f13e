"""Build and start the web server: routes, middlewares, sessions, static files.

``start_web`` binds 127.0.0.1 by default (port 0 picks a free port) and returns a
:class:`WebServer` to stop. Dev mode (``dev_basic_auth``) adds HTTP basic auth with a ``dev``
admin user and is refused unless the server binds a loopback address; it says so loudly.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp_session import Session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from prometheus_client import CollectorRegistry

from ratchet.web import api, auth, metrics, openapi
from ratchet.web.context import CONTEXT, WebContext, WebSettings
from ratchet.web.port import ControlPort
from ratchet.web.secret import SecretError, session_secret
from ratchet.web.security import json_errors, security_headers
from ratchet.web.serialize import error_response, json_response
from ratchet.web.throttle import LoginThrottle
from ratchet.web.users import Role, User
from ratchet.web.ws import HUB, SnapshotHub, ws_handler

log = logging.getLogger("ratchet.web")

STATIC = Path(__file__).with_name("static")
UPLOT = Path(__file__).parents[1] / "vendor" / "uplot"
COOKIE = "ratchet_session"
DEV_USER = "dev"
DEV_PASSWORD_VARIABLE = "RATCHET_WEB_DEV_PASSWORD"
METRICS_TOKEN_VARIABLE = "RATCHET_METRICS_TOKEN"
REGISTRY = web.AppKey("ratchet_web_registry", CollectorRegistry)


class WebConfigError(ValueError):
    """The server cannot start like this (dev mode off loopback, a bad secret, ...)."""


@dataclass(slots=True)
class WebServer:
    """A running server: its URL, and :meth:`stop`."""

    url: str
    app: web.Application
    runner: web.AppRunner

    @property
    def hub(self) -> SnapshotHub:
        """The WebSocket hub (for its stats)."""
        return self.app[HUB]

    async def stop(self) -> None:
        """Close every WebSocket and stop listening."""
        await self.hub.stop()
        await self.runner.cleanup()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def start_web(
    control: ControlPort,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    state_dir: Path,
    dev_basic_auth: bool = False,
    settings: WebSettings | None = None,
) -> WebServer:
    """Start the web GUI and API for ``control`` on ``host:port``.

    Raises:
        WebConfigError: dev mode on a non-loopback address, or an unusable session secret.
    """
    loopback = is_loopback(host)
    if dev_basic_auth and not loopback:
        raise WebConfigError(
            f"dev mode (basic auth) is only allowed on a loopback address, not {host!r}"
        )
    config = settings or WebSettings(metrics_token=os.environ.get(METRICS_TOKEN_VARIABLE) or None)
    ctx = WebContext(control, config, LoginThrottle(config.throttle, config.clock))
    if dev_basic_auth:
        password = os.environ.get(DEV_PASSWORD_VARIABLE) or secrets.token_urlsafe(12)
        ctx.dev_user = (User(DEV_USER, Role.ADMIN), password)
        _warn(
            "DEV MODE: HTTP basic auth is ON for user 'dev' (role admin) with password "
            f"{password!r}; loopback only, never use it for real money"
        )
    if control.database is None:
        _warn(
            "the web GUI has no user database (in-memory run): nobody can log in except the "
            "dev user of --web-dev mode"
        )
    try:
        secret = session_secret(state_dir)
    except (SecretError, OSError) as exc:
        raise WebConfigError(f"no usable session secret: {exc}") from exc
    app = make_app(ctx, secret, secure_cookie=not loopback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
    server = WebServer(f"http://{shown}:{bound[1]}", app, runner)
    app[HUB].start()
    log.info("web GUI at %s", server.url)
    return server


class SessionCookies(EncryptedCookieStorage):
    """Encrypted session cookies whose ``Secure`` flag follows the connection.

    ``Secure`` is set on every cookie except one answered over plain http to a loopback
    client (a browser or ``ratchet cancel`` on the same machine); a request that came over TLS,
    directly or through a proxy saying ``X-Forwarded-Proto: https``, always gets it. A server
    bound off loopback sets it on every cookie.
    """

    def __init__(self, secret: bytes, *, secure: bool, **options: Any) -> None:
        super().__init__(secret, secure=secure, **options)
        self._always_secure = secure

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        """Save as usual, with ``Secure`` decided for this request (no await in between)."""
        tls = request.secure or request.headers.get("X-Forwarded-Proto") == "https"
        local = is_loopback(request.remote or "")
        self._cookie_params["secure"] = self._always_secure or tls or not local
        await super().save_session(request, response, session)


def make_app(ctx: WebContext, secret: bytes, *, secure_cookie: bool) -> web.Application:
    """The aiohttp application (routes, middlewares, sessions), not yet listening."""
    app = web.Application(client_max_size=ctx.settings.max_body, middlewares=[security_headers])
    app[CONTEXT] = ctx
    app[HUB] = SnapshotHub(ctx)
    app[REGISTRY] = metrics.registry_for(ctx.control, app[HUB])
    storage = SessionCookies(
        secret,
        cookie_name=COOKIE,
        max_age=int(ctx.settings.session_ttl),
        httponly=True,
        samesite="Strict",
        secure=secure_cookie,
    )
    setup_sessions(app, storage)
    app.middlewares.append(json_errors)
    add_routes(app.router)
    return app


def add_routes(router: web.UrlDispatcher) -> None:
    """Every route of the server (the OpenAPI test walks these)."""
    router.add_post("/api/login", auth.login)
    router.add_post("/api/logout", auth.logout)
    router.add_get("/api/session", auth.session_info)
    router.add_get("/api/portfolio", api.portfolio)
    router.add_get("/api/positions", api.positions)
    router.add_get("/api/positions/{pair}", api.position_detail)
    router.add_post("/api/positions/{pair}/force-exit", api.force_exit)
    router.add_get("/api/orders", api.orders)
    router.add_post("/api/orders/{id}/cancel", api.cancel_order)
    router.add_get("/api/pairs", api.pairs)
    router.add_get("/api/prices", api.prices)
    router.add_post("/api/entries", api.place_entry)
    router.add_post("/api/liquidate", api.liquidate)
    router.add_get("/api/openapi.json", openapi_handler)
    router.add_get("/healthz", healthz)
    router.add_get("/metrics", metrics_handler)
    router.add_get("/ws", ws_handler)
    router.add_get("/", index)
    router.add_static("/static/vendor/uplot/", UPLOT, follow_symlinks=False)
    router.add_static("/static/", STATIC, follow_symlinks=False)


async def index(_request: web.Request) -> web.FileResponse:
    """The single page of the GUI."""
    return web.FileResponse(STATIC / "index.html")


async def openapi_handler(_request: web.Request) -> web.Response:
    """``GET /api/openapi.json``."""
    return json_response(openapi.document())


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: no authentication; whether the engine is running (``null`` when the
    control does not say: it needs a ``running`` attribute)."""
    running = getattr(request.app[CONTEXT].control, "running", None)  # None: not reported
    return json_response(
        {"status": "ok", "engine_running": None if running is None else bool(running)}
    )


async def metrics_handler(request: web.Request) -> web.Response:
    """``GET /metrics``: Prometheus text (a bearer token is required if one is configured)."""
    token = request.app[CONTEXT].settings.metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return error_response(401, "send Authorization: Bearer <RATCHET_METRICS_TOKEN>")
    body = metrics.render(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


def _warn(message: str) -> None:
    banner = "!" * 78
    print(f"{banner}\n!! ratchet web: {message}\n{banner}", file=sys.stderr, flush=True)
    log.warning("web: %s", message)
