"""Middlewares: security headers on every response, and errors as JSON ``{"error": ...}``.

The CSP allows scripts, styles, images and connections from the server itself only: no inline
script, no CDN, no framing. API replies are never cached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ratchet.web.auth import AUDITED, SAFE_METHODS, actor
from ratchet.web.context import context
from ratchet.web.serialize import error_response

log = logging.getLogger("ratchet.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

PASSED_ON = ("Retry-After", "WWW-Authenticate", "Allow")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add :data:`HEADERS` to every response, errors included; ``no-store`` on the API."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _decorate(request, exc)
        raise
    _decorate(request, response)
    return response


def _decorate(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a WebSocket or stream: its headers are already sent
        return
    response.headers.update(HEADERS)
    if request.path.startswith("/api/") or request.path in ("/healthz", "/metrics"):
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn HTTP errors into ``{"error": message}`` and unexpected exceptions into a 500.

    A refused state-changing request (any 4xx) is written to the audit log with who asked and
    why, unless its handler audited the outcome itself.
    """
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and exc.text != f"{exc.status}: {exc.reason}" else None
        if exc.status == 413:
            limit = context(request).settings.max_body // 1024
            message = f"the request body is too large (at most {limit} KiB)"
        message = message or exc.reason.lower()
        if request.method not in SAFE_METHODS and not request.get(AUDITED):
            detail = f"{exc.status}: {message}"
            await context(request).control.audit(actor(request), "refused", request.path, detail)
        headers = {k: v for k, v in exc.headers.items() if k in PASSED_ON}
        return error_response(exc.status, message, **headers)
    except Exception:
        log.exception("web request failed: %s %s", request.method, request.path)
        return error_response(500, "internal error (see the server log)")
