"""What every handler of one web server shares: the engine control, settings, auth state.

Kept in the aiohttp application under :data:`CONTEXT`; handlers read it with :func:`context`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from argon2 import PasswordHasher

from ratchet.web.port import ControlPort
from ratchet.web.throttle import LoginThrottle, ThrottleSettings
from ratchet.web.users import User, hasher

SESSION_TTL = 12 * 3600.0
MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Knobs of the web server; the defaults are the production ones."""

    session_ttl: float = SESSION_TTL
    max_body: int = MAX_BODY
    push_interval: float = 0.5
    client_queue: int = 8
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    password_hasher: Callable[[], PasswordHasher] = hasher
    clock: Callable[[], float] = time.time
    metrics_token: str | None = None


@dataclass(slots=True)
class WebContext:
    """The shared state of one server."""

    control: ControlPort
    settings: WebSettings
    throttle: LoginThrottle
    dev_user: tuple[User, str] | None = None  # (the user, its password) in dev mode only
    revoked: dict[str, float] = field(default_factory=dict)  # session id -> login time

    def now(self) -> float:
        """The server's clock (Unix seconds)."""
        return self.settings.clock()

    def revoke(self, session_id: str, login_at: float) -> None:
        """Refuse this session from now on (kept until it would have expired anyway)."""
        now = self.now()
        self.revoked = {
            sid: at for sid, at in self.revoked.items() if now - at <= self.settings.session_ttl
        }
        self.revoked[session_id] = login_at


CONTEXT = web.AppKey("ratchet_web_context", WebContext)


def context(request: web.Request) -> WebContext:
    """The server's shared state, from a request."""
    return request.app[CONTEXT]
