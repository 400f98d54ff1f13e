"""Fault injection for the simulator, switchable per test (Python or ``POST /sim/faults``) and
from the command line (``--fault NAME=VALUE``).

Count faults hit the *next N* matching requests or messages and then stop by themselves, so a
test says exactly what goes wrong and when. ``latency_ms`` and the ``*_rate`` faults stay on
until changed; rates draw from a seeded generator, so a run is repeatable.

===================  ==========================================================================
fault                effect
===================  ==========================================================================
latency_ms           every REST reply is delayed by this many milliseconds
http_5xx             the next N REST requests get 503 (nothing is done)
http_5xx_rate        each REST request gets 503 with this probability
http_429             the next N REST requests get 429 with ``Retry-After: retry_after``
                     (every other one with an HTML body, as Coinbase sometimes does)
timeout_after_accept the next N order creations are carried out, then the reply hangs for
                     ``hang_seconds`` and the connection is dropped
ws_drop              the next N WebSocket messages are replaced by dropping the connection
ws_gap               the next N WebSocket messages skip a sequence number
ws_duplicate         the next N WebSocket messages are sent twice
ws_reorder           the next N WebSocket messages are held and sent after the following one
===================  ==========================================================================
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any

COUNT_FAULTS = (
    "http_5xx",
    "http_429",
    "timeout_after_accept",
    "ws_drop",
    "ws_gap",
    "ws_duplicate",
    "ws_reorder",
)


class FaultError(ValueError):
    """An unknown fault name or a bad value."""


@dataclass
class Faults:
    """The faults in force; the simulator consults and consumes them."""

    latency_ms: float = 0.0
    http_5xx: int = 0
    http_5xx_rate: float = 0.0
    http_429: int = 0
    retry_after: float = 0.2
    timeout_after_accept: int = 0
    hang_seconds: float = 30.0
    ws_drop: int = 0
    ws_gap: int = 0
    ws_duplicate: int = 0
    ws_reorder: int = 0
    path_prefix: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.hits: dict[str, int] = dict.fromkeys(COUNT_FAULTS, 0)

    def set(self, **values: Any) -> None:
        """Change faults by name (unknown names and negative values raise :class:`FaultError`).

        All or nothing: every value is checked before any is changed.
        """
        known = {f.name: f for f in fields(self)}
        parsed_values: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise FaultError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            kind = known[name].type
            try:
                parsed: Any = (
                    str(value) if kind == "str" else int(value) if kind == "int" else float(value)
                )
            except (TypeError, ValueError):
                raise FaultError(f"fault {name}: not a number: {value!r}") from None
            if not isinstance(parsed, str) and parsed < 0:
                raise FaultError(f"fault {name} must be >= 0, got {value!r}")
            parsed_values[name] = parsed
        for name, parsed in parsed_values.items():
            setattr(self, name, parsed)
        if "seed" in values:
            self._rng = random.Random(self.seed)

    def clear(self) -> None:
        """Switch every fault off (hit counters are kept)."""
        for f in fields(self):
            if f.name not in ("seed", "retry_after", "hang_seconds"):
                setattr(self, f.name, f.default)

    def applies_to(self, path: str) -> bool:
        """True when REST faults apply to ``path`` (all paths unless ``path_prefix`` is set)."""
        return path.startswith(self.path_prefix) if self.path_prefix else True

    def take(self, name: str) -> bool:
        """Consume one of the next-N fault ``name``; True when it fires now."""
        left: int = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        self.hits[name] += 1
        return True

    def roll_5xx(self) -> bool:
        """True when a 503 fires now (count first, then the rate)."""
        if self.take("http_5xx"):
            return True
        if self.http_5xx_rate and self._rng.random() < self.http_5xx_rate:
            self.hits["http_5xx"] += 1
            return True
        return False

    def snapshot(self) -> dict[str, Any]:
        """The settings and hit counts, for ``GET /sim/faults`` and logs."""
        return {**asdict(self), "hits": dict(self.hits)}


def parse_fault_options(options: list[str]) -> dict[str, str]:
    """``["latency_ms=50", "http_5xx=3"]`` → ``{"latency_ms": "50", "http_5xx": "3"}``."""
    parsed: dict[str, str] = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise FaultError(f"--fault expects NAME=VALUE, got {option!r}")
        parsed[name.strip()] = value.strip()
    return parsed
