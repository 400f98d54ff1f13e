"""``order_configuration``: the one-key object that says an order's type, size and prices.

Built from a domain :class:`~ratchet.domain.orders.Order` by the adapter, read back by the
adapter (reports) and by the simulator (requests). Only the configurations ratchet uses are
supported; anything else is a clear :class:`UnsupportedConfiguration`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ratchet.domain.order_types import OrderSide, OrderType, TimeInForce
from ratchet.domain.orders import Order

STOP_DOWN = "STOP_DIRECTION_STOP_DOWN"
STOP_UP = "STOP_DIRECTION_STOP_UP"

_KINDS: dict[str, tuple[OrderType, TimeInForce]] = {
    "limit_limit_gtc": (OrderType.LIMIT, TimeInForce.GTC),
    "limit_limit_gtd": (OrderType.LIMIT, TimeInForce.GTD),
    "stop_limit_stop_limit_gtc": (OrderType.STOP_LIMIT, TimeInForce.GTC),
    "stop_limit_stop_limit_gtd": (OrderType.STOP_LIMIT, TimeInForce.GTD),
    "market_market_ioc": (OrderType.MARKET, TimeInForce.IOC),
}


class UnsupportedConfiguration(ValueError):
    """An order_configuration that is malformed or of a kind ratchet does not use."""


@dataclass(frozen=True, slots=True)
class OrderConfig:
    """What an order_configuration says, as domain values."""

    kind: str
    order_type: OrderType
    time_in_force: TimeInForce
    base_size: Decimal
    quote_size: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    stop_direction: str | None = None
    post_only: bool = False
    end_time: float | None = None


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_configuration(order: Order) -> dict[str, dict[str, Any]]:
    """The wire ``order_configuration`` of a domain order."""
    size = format(order.size, "f")
    if order.order_type is OrderType.MARKET:
        return {"market_market_ioc": {"base_size": size}}
    assert order.limit_price is not None  # the Order checked it at construction
    limit = format(order.limit_price, "f")
    gtd = order.time_in_force is TimeInForce.GTD
    if order.order_type is OrderType.LIMIT:
        body: dict[str, Any] = {
            "base_size": size,
            "limit_price": limit,
            "post_only": order.post_only,
        }
        kind = "limit_limit_gtd" if gtd else "limit_limit_gtc"
    else:
        assert order.stop_price is not None
        direction = STOP_DOWN if order.side is OrderSide.SELL else STOP_UP
        body = {
            "base_size": size,
            "limit_price": limit,
            "stop_price": format(order.stop_price, "f"),
            "stop_direction": direction,
        }
        kind = "stop_limit_stop_limit_gtd" if gtd else "stop_limit_stop_limit_gtc"
    if gtd:
        assert order.end_time is not None
        body["end_time"] = _rfc3339(order.end_time)
    return {kind: body}


def parse_configuration(config: Any) -> OrderConfig:
    """Read an ``order_configuration`` (exactly one known key)."""
    if not isinstance(config, dict) or len(config) != 1:
        raise UnsupportedConfiguration("order_configuration must have exactly one key")
    kind, body = next(iter(config.items()))
    if kind not in _KINDS:
        raise UnsupportedConfiguration(f"unsupported order configuration {kind!r}")
    if not isinstance(body, dict):
        raise UnsupportedConfiguration(f"{kind} must be an object")
    order_type, tif = _KINDS[kind]
    quote_size = _amount(body, "quote_size", kind, required=False)
    base_size = _amount(body, "base_size", kind, required=quote_size is None) or Decimal(0)
    post_only = body.get("post_only", False)
    if not isinstance(post_only, bool):
        raise UnsupportedConfiguration(f"{kind}.post_only must be true or false")
    direction = body.get("stop_direction")
    if order_type is OrderType.STOP_LIMIT and direction not in (STOP_DOWN, STOP_UP):
        raise UnsupportedConfiguration(f"{kind}.stop_direction must be {STOP_DOWN} or {STOP_UP}")
    end_time = None
    if tif is TimeInForce.GTD:
        end_time = _end_time(body.get("end_time"), kind)
    return OrderConfig(
        kind=kind,
        order_type=order_type,
        time_in_force=tif,
        base_size=base_size,
        quote_size=quote_size,
        limit_price=_amount(body, "limit_price", kind, required=order_type is not OrderType.MARKET),
        stop_price=_amount(body, "stop_price", kind, required=order_type is OrderType.STOP_LIMIT),
        stop_direction=direction if isinstance(direction, str) else None,
        post_only=post_only,
        end_time=end_time,
    )


def _amount(body: dict[str, Any], key: str, kind: str, *, required: bool) -> Decimal | None:
    raw = body.get(key)
    if raw is None or raw == "":
        if required:
            raise UnsupportedConfiguration(f"{kind}.{key} is required")
        return None
    if not isinstance(raw, str):
        raise UnsupportedConfiguration(f"{kind}.{key} must be a decimal string, got {raw!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise UnsupportedConfiguration(f"{kind}.{key} is not a number: {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise UnsupportedConfiguration(f"{kind}.{key} must be > 0, got {raw!r}")
    return value


def _end_time(raw: Any, kind: str) -> float:
    if not isinstance(raw, str) or not raw:
        raise UnsupportedConfiguration(f"{kind}.end_time is required (RFC 3339)")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise UnsupportedConfiguration(
            f"{kind}.end_time is not an RFC 3339 time: {raw!r}"
        ) from None
