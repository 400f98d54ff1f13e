"""Engine views -> JSON: Decimals become plain decimal strings (never floats, never "1E-8"),
enums their values.

Dataclasses and named tuples are walked field by field (plus the derived figures of
``PortfolioMetrics``, which are properties); mappings, lists and tuples recursively. A float
stays a float (times, indicator values), a bool stays a bool.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from ratchet.domain.metrics import PortfolioMetrics

DERIVED = ("win_rate", "top_concentration_pct", "deployed_pct", "drawdown_pct", "pnl_pct")


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python values (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")  # never exponent notation: "0.00000001", not "1E-8"
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, PortfolioMetrics):  # its derived figures are properties
            found.update({name: plain(getattr(value, name)) for name in DERIVED})
        return found
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple: a record
        return {name: plain(item) for name, item in zip(value._fields, value, strict=True)}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def dumps(value: Any) -> str:
    """Compact JSON of :func:`plain` ``(value)``."""
    return json.dumps(plain(value), separators=(",", ":"))


def json_response(value: Any, status: int = 200, **headers: str) -> web.Response:
    """A JSON response of ``value`` (through :func:`plain`)."""
    return web.Response(
        text=dumps(value), status=status, content_type="application/json", headers=headers
    )


def error_response(status: int, message: str, **headers: str) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return json_response({"error": message}, status, **headers)
