"""Rate limits and retry timing for the Advanced Trade API.

One :class:`RateLimiter` per limit class (private ≈ 30 req/s per key, public ≈ 10 req/s per IP;
we stay below both). Urgent requests — stop placement and cancels, which protect money — are
served before ordinary ones. A 429 pauses the whole class until its ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

PRIVATE_RATE = 25.0
PUBLIC_RATE = 8.0


class RateLimiter:
    """A leaky bucket (aiolimiter) with an urgent lane and a pause for 429 replies."""

    def __init__(
        self, rate: float, per: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._bucket = AsyncLimiter(rate, per)
        self._urgent_waiting = 0
        self._urgent_done = asyncio.Event()
        self._urgent_done.set()
        self._paused_until = 0.0
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"RateLimiter(rate={self._bucket.max_rate}/{self._bucket.time_period}s, "
            f"urgent_waiting={self._urgent_waiting})"
        )

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for a slot; urgent callers go ahead of ordinary ones."""
        if urgent:
            self._urgent_waiting += 1
            self._urgent_done.clear()
            try:
                await self._wait_pause()
                await self._bucket.acquire()
            finally:
                self._urgent_waiting -= 1
                if not self._urgent_waiting:
                    self._urgent_done.set()
            return
        while True:
            await self._urgent_done.wait()
            await self._wait_pause()
            if not self._urgent_waiting:
                break
        await self._bucket.acquire()

    def pause(self, seconds: float) -> None:
        """Hold every caller of this class for ``seconds`` (a 429's Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    async def _wait_pause(self) -> None:
        while (delay := self._paused_until - self._clock()) > 0:
            await asyncio.sleep(delay)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; used only where a retry is safe."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    timeout: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)


def retry_after_seconds(header: str | None, default: float = 1.0) -> float:
    """Seconds from a ``Retry-After`` header (seconds form); ``default`` when absent or odd."""
    if not header:
        return default
    try:
        return min(60.0, max(0.0, float(header)))
    except ValueError:
        return default
