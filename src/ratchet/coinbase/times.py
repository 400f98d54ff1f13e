"""RFC 3339 times of the wire API, read fast (the feed parses one per message) and written."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"\.(\d+)")
_DAY_STARTS: dict[str, float] = {}


def parse_time(text: str | None) -> float:
    """Unix seconds of an RFC 3339 time (``""``, None and year 1 read as 0).

    The feed's own form (``2026-11-26T12:34:56.123456789Z``) takes a fast path: the day's
    start is cached, the clock time is read by slicing. Anything else goes through
    :func:`datetime.fromisoformat` (fractions cut to the microseconds it accepts).
    """
    if not text or text.startswith("0001-"):
        return 0.0
    if len(text) >= 20 and text[10] == "T" and text[-1] == "Z" and text[13] == text[16] == ":":
        day = _DAY_STARTS.get(text[:10])
        if day is None:
            day = datetime.fromisoformat(text[:10] + "T00:00:00+00:00").timestamp()
            if len(_DAY_STARTS) > 64:
                _DAY_STARTS.clear()
            _DAY_STARTS[text[:10]] = day
        try:
            seconds = int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
            return day + seconds + (float("0" + text[19:-1]) if text[19] == "." else 0.0)
        except ValueError:
            pass
    cleaned = _FRACTION.sub(lambda m: "." + m[1][:6].ljust(6, "0"), text.strip(), count=1)
    when = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def format_time(seconds: float) -> str:
    """RFC 3339 UTC time with microseconds, as the API writes it."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
