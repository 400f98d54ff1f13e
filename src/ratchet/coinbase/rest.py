"""The HTTP layer of the adapter: one authenticated call, rate-limited, retried only when safe.

Retry rules (DESIGN.md §3, §8):

* 429: the request was not processed; wait for ``Retry-After`` (the whole limit class waits)
  and retry. Coinbase sometimes answers 429 with HTML: the body is never trusted to be JSON.
* 5xx and connection errors: retried with backoff and jitter when the caller says the request is
  safe to repeat (reads, cancels, and order creation — which is idempotent by client_order_id).
* A timeout raises :class:`RequestTimedOut`: for an order the caller looks it up, never sends
  a second one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson
from yarl import URL

from ratchet.coinbase.auth import Credentials, rest_jwt
from ratchet.coinbase.limits import PRIVATE_RATE, PUBLIC_RATE, RateLimiter, RetryPolicy
from ratchet.coinbase.limits import retry_after_seconds as _retry_after
from ratchet.ports import (
    AuthenticationError,
    ExchangeError,
    ExchangeUnavailable,
    UnexpectedReply,
)

log = logging.getLogger("ratchet.coinbase")

Params = Mapping[str, str | int | Sequence[str]] | None


class RequestTimedOut(ExchangeUnavailable):
    """No reply in time: the request may or may not have been carried out."""


class HttpError(ExchangeError):
    """A 4xx reply other than 401/403/429; ``status`` and the API's message are kept."""

    def __init__(self, status: int, message: str, body: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


def _query(params: Params) -> list[tuple[str, str]]:
    """Query pairs; list values become repeated keys (``product_ids=A&product_ids=B``)."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if isinstance(value, str | int):
            pairs.append((key, str(value)))
        else:
            pairs.extend((key, str(item)) for item in value)
    return pairs


def _error_message(text: str) -> str:
    try:
        body = orjson.loads(text)
    except ValueError:
        return text[:200].strip() or "no body"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]


class RestTransport:
    """Authenticated JSON calls to one Advanced Trade base URL (``.../api/v3/brokerage``)."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        *,
        retry: RetryPolicy | None = None,
        private_limiter: RateLimiter | None = None,
        public_limiter: RateLimiter | None = None,
        ssl_context: ssl.SSLContext | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base = URL(base_url.rstrip("/"))
        port = self._base.explicit_port
        self._jwt_host = f"{self._base.host}:{port}" if port else str(self._base.host)
        self._credentials = credentials
        self.retry = retry or RetryPolicy()
        self._private = private_limiter or RateLimiter(PRIVATE_RATE)
        self._public = public_limiter or RateLimiter(PUBLIC_RATE)
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session = session
        self._owns_session = session is None
        self._rng = random.Random()
        self.calls = 0

    def __repr__(self) -> str:
        state = "open" if self._session and not self._session.closed else "closed"
        return f"RestTransport({self._base}, {state}, calls={self.calls})"

    @property
    def base_url(self) -> URL:
        """The base URL calls are made against."""
        return self._base

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, ssl=self._ssl),
                json_serialize=json.dumps,
            )
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (if this transport made it)."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        body: Mapping[str, Any] | None = None,
        public: bool = False,
        urgent: bool = False,
        safe_to_retry: bool = True,
    ) -> Any:
        """Make one call and return its parsed JSON.

        Raises:
            RequestTimedOut: no reply within the policy's timeout (never retried here).
            ExchangeUnavailable: network errors, 5xx or 429 that outlasted the retries.
            AuthenticationError: 401/403, or a private call without credentials.
            HttpError: any other 4xx, with the API's message.
            UnexpectedReply: a 2xx whose body is not JSON.
        """
        url = self._base.with_path(self._base.path + path)
        limiter = self._public if public else self._private
        attempts = self.retry.attempts if safe_to_retry else 1
        last_problem = "no attempt made"
        for attempt in range(1, attempts + 1):
            await limiter.acquire(urgent=urgent)
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if not public:
                headers["Authorization"] = f"Bearer {self._token(method, url.path)}"
            try:
                status, text, retry_after = await self._send(method, url, params, body, headers)
            except aiohttp.ConnectionTimeoutError as exc:  # never sent: safe to try again
                last_problem = f"connect timeout: {exc}"
            except TimeoutError:
                raise RequestTimedOut(
                    f"{method} {url.path}: no reply in {self.retry.timeout}s"
                ) from None
            except aiohttp.ClientError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                if status == 429:
                    wait = _retry_after(retry_after)
                    limiter.pause(wait)
                    last_problem = f"HTTP 429 (retry after {wait}s)"
                    if attempt < attempts:
                        log.warning("rate limited", extra={"path": url.path, "wait": wait})
                        continue
                    break
                if status < 500:
                    return self._result(method, url.path, status, text)
                last_problem = f"HTTP {status}: {_error_message(text)}"
            if attempt < attempts:
                delay = self.retry.delay(attempt, self._rng)
                log.warning(
                    "retrying", extra={"path": url.path, "problem": last_problem, "delay": delay}
                )
                await asyncio.sleep(delay)
        raise ExchangeUnavailable(f"{method} {url.path}: {last_problem}")

    def _token(self, method: str, path: str) -> str:
        if self._credentials is None:
            raise AuthenticationError(
                "this call needs API credentials: set CB_API_KEY and CB_API_SECRET"
            )
        return rest_jwt(self._credentials, method, self._jwt_host, path, time.time())

    async def _send(
        self,
        method: str,
        url: URL,
        params: Params,
        body: Mapping[str, Any] | None,
        headers: dict[str, str],
    ) -> tuple[int, str, str | None]:
        self.calls += 1
        # connect and read are timed apart: waiting for a pooled connection or connecting is
        # "not sent" (retry is safe); only a reply that does not come is "may have happened"
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.retry.timeout, sock_read=self.retry.timeout
        )
        async with self._session_now().request(
            method, url, params=_query(params), json=body, headers=headers, timeout=timeout
        ) as response:
            text = await response.text(encoding="utf-8", errors="replace")  # JSON is UTF-8
            return response.status, text, response.headers.get("Retry-After")

    @staticmethod
    def _result(method: str, path: str, status: int, text: str) -> Any:
        if status in (401, 403):
            raise AuthenticationError(f"{method} {path}: HTTP {status}: {_error_message(text)}")
        if status >= 400:
            raise HttpError(status, _error_message(text), text)
        try:
            return orjson.loads(text) if text else {}
        except ValueError:
            log.error("reply is not JSON", extra={"path": path, "body": text[:500]})
            raise UnexpectedReply(f"{method} {path}: reply is not JSON: {text[:120]!r}") from None
