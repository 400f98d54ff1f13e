"""A client of the running engine's web API, for the mutating commands.

``POST /api/login`` with ``{username, password}`` answers ``{"csrf_token": ...}`` and sets a
session cookie; every state-changing call then carries the cookie and the token in the
``X-CSRF-Token`` header:

=========================================  =========================================
call                                       body
=========================================  =========================================
``POST /api/orders/{id}/cancel``           ``{"reason"}``
``POST /api/positions/{pair}/force-exit``  ``{"reason"}``
``POST /api/liquidate``                    ``{"confirm": "LIQUIDATE", "reason"}``
=========================================  =========================================

Every refusal is an :class:`EngineApiError` with a one-line message for the operator.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import aiohttp
import typer
from yarl import URL

CSRF_HEADER = "X-CSRF-Token"
USER_VARIABLE = "RATCHET_USER"
PASSWORD_VARIABLE = "RATCHET_PASSWORD"
MEANINGS = {
    400: "the engine refused the request as malformed",
    401: "not logged in: wrong user name or password, or the session expired",
    403: "forbidden: your role may not do this (or the CSRF token was refused)",
    404: "not found",
    409: "refused by the engine",
    429: "too many attempts: wait and try again",
}


class EngineApiError(Exception):
    """The engine refused a call, or could not be reached; ``status`` 0 = no answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EngineApi:
    """One logged-in session with the engine at ``base_url`` (``http://127.0.0.1:8080``)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = URL(base_url.rstrip("/"))
        # unsafe: keep cookies of IP hosts too (the engine listens on 127.0.0.1 by default)
        self._session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        self._csrf: str | None = None

    def __repr__(self) -> str:
        state = "logged in" if self._csrf else "not logged in"
        return f"EngineApi({self.base_url}, {state})"

    async def __aenter__(self) -> EngineApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    async def login(self, username: str, password: str) -> None:
        """Log in; the session cookie and the CSRF token are kept for the calls that follow."""
        body = await self._call("/api/login", {"username": username, "password": password})
        token = body.get("csrf_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise EngineApiError(200, "the engine's login answer has no csrf_token")
        self._csrf = token

    async def cancel(self, order_id: str, reason: str) -> Any:
        """Ask the engine to cancel a working entry."""
        return await self._call(
            f"/api/orders/{quote(order_id, safe='')}/cancel", {"reason": reason}
        )

    async def force_exit(self, pair: str, reason: str) -> Any:
        """Ask the engine to force-exit ``pair``'s position."""
        return await self._call(
            f"/api/positions/{quote(pair, safe='')}/force-exit", {"reason": reason}
        )

    async def liquidate(self, reason: str) -> Any:
        """Ask the engine to liquidate every position."""
        return await self._call("/api/liquidate", {"confirm": "LIQUIDATE", "reason": reason})

    async def send(self, command: str, target: str, reason: str) -> Any:
        """``cancel`` (an order id), ``force-exit`` (a pair) or ``liquidate``."""
        if command == "cancel":
            return await self.cancel(target, reason)
        if command == "force-exit":
            return await self.force_exit(target, reason)
        if command == "liquidate":
            return await self.liquidate(reason)
        raise ValueError(f"unknown operator command {command!r}")

    async def _call(self, path: str, body: dict[str, str]) -> Any:
        headers = {CSRF_HEADER: self._csrf} if self._csrf else {}
        url = self.base_url.with_path(self.base_url.path.rstrip("/") + path, encoded=True)
        try:
            async with self._session.post(url, json=body, headers=headers) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise EngineApiError(0, f"cannot reach the engine at {self.base_url}: {exc}") from None
        try:
            answer: Any = json.loads(text) if text else {}
        except ValueError:
            answer = {"error": text.strip()[:200]}
        if status >= 400:
            raise EngineApiError(status, _message(status, answer))
        return answer


def login_from_env_or_prompt(*, interactive: bool) -> tuple[str, str]:
    """User and password: ``RATCHET_USER`` / ``RATCHET_PASSWORD``, else asked at the terminal.

    Raises:
        EngineApiError: one is missing and there is no terminal to ask at (status 0).
    """
    user = os.environ.get(USER_VARIABLE) or None
    password = os.environ.get(PASSWORD_VARIABLE) or None
    if (user is None or password is None) and not interactive:
        raise EngineApiError(
            0, f"set {USER_VARIABLE} and {PASSWORD_VARIABLE} to log in to the running engine"
        )
    if user is None:
        user = str(typer.prompt("engine user"))
    if password is None:
        password = str(typer.prompt("password", hide_input=True))
    return user, password


def _message(status: int, answer: Any) -> str:
    meaning = MEANINGS.get(status, "the engine failed")
    detail = ""
    if isinstance(answer, dict):
        found = answer.get("error") or answer.get("message") or answer.get("reason")
        detail = str(found) if found else ""
    return f"{meaning} (HTTP {status}){': ' + detail if detail else ''}"
