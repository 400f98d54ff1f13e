"""Login throttling per username and per client address, with exponential back-off.

Each key (``user:NAME`` and ``addr:IP``) counts failed logins. From the ``free_failures``-th
failure on, the key is locked for ``base_lockout * 2**(failures - free_failures)`` seconds
(capped at ``max_lockout``); while either key is locked, every login is answered 429 without
looking at the password, so guessing costs time even with the right password in hand. A success
clears the username's count (not the address's: one good account must not launder an attack
on others). Counts are forgotten after ``forget_after`` quiet seconds; the table is bounded.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """How many failures are free, and how long the locks then last (seconds)."""

    free_failures: int = 5
    base_lockout: float = 30.0
    max_lockout: float = 3600.0
    forget_after: float = 24 * 3600.0


@dataclass(slots=True)
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    """Counts failures per key and says how long a login must wait."""

    def __init__(
        self, settings: ThrottleSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or ThrottleSettings()
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    @staticmethod
    def keys(username: str, address: str) -> tuple[str, str]:
        """The two keys a login attempt counts against."""
        return f"user:{username.lower()}", f"addr:{address}"

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until a login for ``username`` from ``address`` may be tried (0: now)."""
        now = self._clock()
        wait = 0.0
        for key in self.keys(username, address):
            record = self._get(key, now)
            if record is not None:
                wait = max(wait, record.locked_until - now)
        return wait

    def failed(self, username: str, address: str) -> float:
        """Count a failure; return the lock it started (0: none yet)."""
        now = self._clock()
        longest = 0.0
        for key in self.keys(username, address):
            record = self._get(key, now) or _Record()
            record.failures += 1
            record.last_failure = now
            over = record.failures - self.settings.free_failures
            if over >= 0:
                lock = min(self.settings.max_lockout, self.settings.base_lockout * 2**over)
                record.locked_until = now + lock
                longest = max(longest, lock)
            self._records[key] = record
            self._records.move_to_end(key)
        while len(self._records) > MAX_KEYS:
            self._records.popitem(last=False)
        return longest

    def succeeded(self, username: str) -> None:
        """Forget the username's failures after a good login."""
        self._records.pop(self.keys(username, "")[0], None)

    def _get(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and now - record.last_failure > self.settings.forget_after:
            del self._records[key]
            return None
        return record
