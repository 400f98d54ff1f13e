"""Who is asking: sessions, roles, CSRF, and the login / logout / session endpoints.

A session is an encrypted cookie (aiohttp-session + Fernet) holding the username, a random
session id, the CSRF token and the login time. The server checks on every request that the
session is younger than ``session_ttl`` (whatever the cookie's own expiry says), that it was not
logged out (revoked ids are remembered until they would have expired), and that the user still
exists, reading the role from the store each time. A state-changing request must carry the
session's CSRF token in ``X-CSRF-Token``. Every refused state-changing request is audited (by the
error middleware, :mod:`ratchet.web.security`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import math
import secrets
from dataclasses import dataclass

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from ratchet.web import schemas
from ratchet.web.context import WebContext, context
from ratchet.web.serialize import error_response, json_response
from ratchet.web.users import Role, User, authenticate, find_user

CSRF_HEADER = "X-CSRF-Token"
AUDITED = web.RequestKey("ratchet_audited", bool)  # set when a handler audited its own outcome
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    """A logged-in user for the length of one request."""

    username: str
    role: Role
    csrf_token: str
    session_id: str
    login_at: float

    def describe(self) -> dict[str, str]:
        """What ``/api/login`` and ``/api/session`` answer."""
        return {"username": self.username, "role": self.role.value, "csrf_token": self.csrf_token}


PRINCIPAL = web.RequestKey("ratchet_principal", Principal)


def address(request: web.Request) -> str:
    """The client's address (the server binds loopback by default; no proxy headers trusted)."""
    return request.remote or "unknown"


async def read_json(request: web.Request) -> object:
    """The request body as JSON (``{}`` when there is none), or a 400/413/415 saying why not."""
    if not request.body_exists:
        return {}
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    raw = await request.read()  # over client_max_size: 413 from aiohttp
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="the body is not valid JSON") from None


async def body(request: web.Request, schema: dict[str, object]) -> dict[str, object]:
    """The JSON body checked against ``schema`` (400 naming the first problem)."""
    try:
        return schemas.validate(await read_json(request), schema)
    except schemas.BodyError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def principal(request: web.Request) -> Principal | None:
    """The logged-in user of this request, or None (expired, revoked, unknown, no session)."""
    ctx = context(request)
    session = await get_session(request)
    found = await _from_session(ctx, session)
    if found is None and not session.empty:
        session.invalidate()  # a dead session's cookie is deleted with the reply
    if found is None and ctx.dev_user is not None:
        found = await _from_basic_auth(request, ctx)
    return found


async def require(request: web.Request, needed: Role) -> Principal:
    """The principal if it may do what ``needed`` may, else 401 / 403.

    A write must carry the session's CSRF token. Refused writes are audited by
    :func:`ratchet.web.security.json_errors`, which finds the principal under :data:`PRINCIPAL`.
    """
    ctx = context(request)
    who = await principal(request)
    if who is None:
        raise web.HTTPUnauthorized(text="log in first", headers=_challenge(ctx))
    request[PRINCIPAL] = who
    writes = request.method not in SAFE_METHODS
    if writes and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), who.csrf_token.encode()
    ):
        raise web.HTTPForbidden(text=f"missing or wrong {CSRF_HEADER} header")
    if not who.role.allows(needed):
        raise web.HTTPForbidden(
            text=f"your role ({who.role.value}) may not do this; it needs {needed.value}"
        )
    return who


def actor(request: web.Request) -> str:
    """Who to name in the audit log for this request (``anonymous@ADDRESS`` if unknown)."""
    who = request.get(PRINCIPAL)
    return who.username if who is not None else f"{ANONYMOUS}@{address(request)}"


async def login(request: web.Request) -> web.Response:
    """``POST /api/login``: check the password (throttled), start a session."""
    ctx = context(request)
    request[AUDITED] = True  # login audits its own outcomes (failures count, throttling)
    given = await body(request, schemas.LOGIN)
    username, password = str(given["username"]), str(given["password"])
    where = address(request)
    wait = ctx.throttle.retry_after(username, where)
    if wait > 0:
        await ctx.control.audit(username, "login_locked", where, f"retry in {wait:.0f}s")
        return error_response(
            429, "too many failed logins; try again later", **{"Retry-After": _seconds(wait)}
        )
    user = await _check_password(ctx, username, password)
    if user is None:
        lock = ctx.throttle.failed(username, where)
        detail = f"wrong password or unknown user; locked {lock:.0f}s" if lock else "bad password"
        await ctx.control.audit(username, "login_failed", where, detail)
        return error_response(401, "wrong username or password")
    ctx.throttle.succeeded(username)
    who = await _start_session(request, ctx, user)
    await ctx.control.audit(user.username, "login", where, f"role {user.role.value}")
    return json_response(who.describe())


async def logout(request: web.Request) -> web.Response:
    """``POST /api/logout``: end the session (its cookie is refused from now on)."""
    ctx = context(request)
    who = await require(request, Role.VIEWER)
    ctx.revoke(who.session_id, who.login_at)
    (await get_session(request)).invalidate()
    await ctx.control.audit(who.username, "logout", address(request), "")
    return json_response({"status": "logged out"})


async def session_info(request: web.Request) -> web.Response:
    """``GET /api/session``: who is logged in, with the CSRF token (401 if nobody)."""
    return json_response((await require(request, Role.VIEWER)).describe())


# -- internals ---------------------------------------------------------------------------------
async def _from_session(ctx: WebContext, session: Session) -> Principal | None:
    try:
        username = str(session["user"])
        sid, csrf = str(session["sid"]), str(session["csrf"])
        login_at = float(session["login_at"])
    except (KeyError, TypeError, ValueError):
        return None
    age = ctx.now() - login_at
    if not 0 <= age <= ctx.settings.session_ttl or sid in ctx.revoked:
        return None
    user = await _lookup(ctx, username)
    if user is None:
        return None
    return Principal(user.username, user.role, csrf, sid, login_at)


async def _lookup(ctx: WebContext, username: str) -> User | None:
    if ctx.dev_user is not None and username == ctx.dev_user[0].username:
        return ctx.dev_user[0]
    database = ctx.control.database
    if database is None:
        return None
    return await asyncio.to_thread(find_user, database, username)


async def _check_password(ctx: WebContext, username: str, password: str) -> User | None:
    if ctx.dev_user is not None and username == ctx.dev_user[0].username:
        good = hmac.compare_digest(password.encode(), ctx.dev_user[1].encode())
        return ctx.dev_user[0] if good else None
    database = ctx.control.database
    if database is None:
        return None
    check = ctx.settings.password_hasher()
    return await asyncio.to_thread(
        authenticate, database, username, password, password_hasher=check
    )


async def _start_session(request: web.Request, ctx: WebContext, user: User) -> Principal:
    session = await new_session(request)
    who = Principal(
        user.username, user.role, secrets.token_urlsafe(32), secrets.token_urlsafe(16), ctx.now()
    )
    session.update(
        user=who.username, sid=who.session_id, csrf=who.csrf_token, login_at=who.login_at
    )
    return who


async def _from_basic_auth(request: web.Request, ctx: WebContext) -> Principal | None:
    """Dev mode only: ``Authorization: Basic`` starts a session (throttled like a login)."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    where = address(request)
    if ctx.throttle.retry_after(username, where) > 0:
        return None
    user = await _check_password(ctx, username, password)
    if user is None:
        ctx.throttle.failed(username, where)
        await ctx.control.audit(username, "login_failed", where, "basic auth (dev mode)")
        return None
    await ctx.control.audit(username, "login", where, "basic auth (dev mode)")
    return await _start_session(request, ctx, user)


def _challenge(ctx: WebContext) -> dict[str, str]:
    return {"WWW-Authenticate": 'Basic realm="ratchet dev mode"'} if ctx.dev_user else {}


def _seconds(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
