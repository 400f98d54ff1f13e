"""Checks of create and edit requests against a product and the last price: the refusal reasons.

Pure functions: each returns the first reason the exchange would refuse with (or None). Reason
names are the wire API's (``new_order_failure_reason``, ``edit_failure_reason``, and its
``PREVIEW_…`` reasons for stops placed on the wrong side of the last trade).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ratchet.domain.money import ZERO, Product, is_multiple
from ratchet.domain.order_types import OrderSide, OrderType
from ratchet.sim.moves import takes_on_arrival
from ratchet.sim.records import (
    CreateOrderRequest,
    SimOrder,
    StopDirection,
    TimeInForce,
    TriggerStatus,
)

UNSUPPORTED = "UNSUPPORTED_ORDER_CONFIGURATION"
SIZE_PRECISION = "INVALID_SIZE_PRECISION"
PRICE_PRECISION = "INVALID_PRICE_PRECISION"
TOO_SMALL = "ORDER_SIZE_TOO_SMALL"
TOO_LARGE = "ORDER_SIZE_TOO_LARGE"
INSUFFICIENT_FUND = "INSUFFICIENT_FUND"
STOP_ABOVE_LAST = "PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE"
STOP_BELOW_LAST = "PREVIEW_STOP_PRICE_BELOW_LAST_TRADE_PRICE"

_TIME_IN_FORCE = {
    OrderType.LIMIT: frozenset({TimeInForce.GTC, TimeInForce.GTD, TimeInForce.IOC}),
    OrderType.STOP_LIMIT: frozenset({TimeInForce.GTC, TimeInForce.GTD}),
    OrderType.MARKET: frozenset({TimeInForce.IOC}),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order is refused: the wire failure reason and a message for people."""

    reason: str
    message: str


def natural_time_in_force(order_type: OrderType) -> str:
    """The time in force of a configuration that names none: IOC for market, else GTC."""
    return TimeInForce.IOC if order_type is OrderType.MARKET else TimeInForce.GTC


def check_create(
    req: CreateOrderRequest,
    product: Product,
    last: Decimal | None,
    now: float,
    taker_fee_rate: Decimal,
) -> Refusal | None:
    """The first reason to refuse ``req`` (configuration, precision, size, price), or None.

    Funds are not checked here: the engine checks them against the hold it computes.
    """
    return (
        _check_configuration(req, now)
        or _check_precision(req, product)
        or _check_market_price(req, last)
        or _check_size(req, product, last, taker_fee_rate)
        or _check_against_last(req, last)
    )


def _check_configuration(req: CreateOrderRequest, now: float) -> Refusal | None:
    if not req.client_order_id:
        return Refusal("INVALID_REQUEST", "client_order_id is required")
    problem = _configuration_problem(req)
    tif = req.time_in_force or natural_time_in_force(req.order_type)
    if problem is None and tif not in _TIME_IN_FORCE[req.order_type]:
        problem = f"time in force {tif} is not available for {req.order_type.value} orders"
    if problem is None and tif == TimeInForce.GTD:
        if req.end_time is None:
            problem = "a GOOD_UNTIL_DATE_TIME order needs end_time"
        elif req.end_time <= now:
            problem = f"end_time {req.end_time} is not in the future (now {now})"
    elif problem is None and req.end_time is not None:
        problem = "end_time is only for GOOD_UNTIL_DATE_TIME orders"
    return None if problem is None else Refusal(UNSUPPORTED, problem)


def _configuration_problem(req: CreateOrderRequest) -> str | None:
    kind = req.order_type
    if kind is OrderType.MARKET:
        if (req.base_size is None) == (req.quote_size is None):
            return "a market order needs exactly one of base_size and quote_size"
        if req.quote_size is not None and req.side is OrderSide.SELL:
            return "a market sell is sized in base (base_size)"
        if req.limit_price is not None or req.stop_price is not None or req.post_only:
            return "a market order has no limit price, stop price or post-only flag"
        return None
    if req.base_size is None or req.quote_size is not None:
        return f"a {kind.value} order is sized in base: base_size only"
    if req.limit_price is None:
        return f"a {kind.value} order needs limit_price"
    if kind is OrderType.STOP_LIMIT:
        if req.stop_price is None:
            return "a stop-limit order needs stop_price"
        if req.stop_direction not in tuple(StopDirection):
            return f"stop_direction must be one of {[d.value for d in StopDirection]}"
        if req.post_only:
            return "a stop-limit order cannot be post-only"
        return None
    if req.stop_price is not None or req.stop_direction is not None:
        return "a limit order has no stop price or stop direction"
    if req.post_only and req.time_in_force == TimeInForce.IOC:
        return "an immediate-or-cancel order cannot be post-only"
    return None


def _check_precision(req: CreateOrderRequest, product: Product) -> Refusal | None:
    if req.base_size is not None and not is_multiple(req.base_size, product.base_increment):
        return Refusal(
            SIZE_PRECISION, f"size {req.base_size} is not a multiple of {product.base_increment}"
        )
    if req.quote_size is not None and not is_multiple(req.quote_size, product.quote_tick):
        return Refusal(
            SIZE_PRECISION, f"quote size {req.quote_size} is not a multiple of {product.quote_tick}"
        )
    for name, price in (("limit price", req.limit_price), ("stop price", req.stop_price)):
        if price is None:
            continue
        if price <= ZERO:
            return Refusal("INVALID_LIMIT_PRICE", f"{name} must be > 0, got {price}")
        if not is_multiple(price, product.price_increment):
            return Refusal(
                PRICE_PRECISION, f"{name} {price} is not a multiple of {product.price_increment}"
            )
    return None


def _check_market_price(req: CreateOrderRequest, last: Decimal | None) -> Refusal | None:
    if req.order_type is OrderType.MARKET and last is None:
        return Refusal(
            "INVALID_NO_LIQUIDITY",
            f"{req.product_id} has no last trade price yet: a market order has nothing to take",
        )
    return None


def _check_size(
    req: CreateOrderRequest, product: Product, last: Decimal | None, taker_fee_rate: Decimal
) -> Refusal | None:
    if req.base_size is not None:
        price = req.limit_price if req.limit_price is not None else last
        return size_refusal(product, req.base_size, price)
    quote = req.quote_size
    assert quote is not None  # the configuration check guarantees one of the sizes
    if quote <= ZERO or quote < product.quote_min_size:
        return Refusal(TOO_SMALL, f"quote size {quote} is below {product.quote_min_size}")
    if last is not None:
        smallest = max(product.base_min_size, product.base_increment)
        if product.buy_size(quote, last, taker_fee_rate) < smallest:
            return Refusal(TOO_SMALL, f"quote size {quote} buys less than {smallest} at {last}")
    return None


def size_refusal(product: Product, size: Decimal, price: Decimal | None) -> Refusal | None:
    """ORDER_SIZE_TOO_SMALL / _TOO_LARGE for ``size`` (at ``price``, when known), or None."""
    if size <= ZERO or size < product.base_min_size:
        return Refusal(TOO_SMALL, f"size {size} is below the minimum {product.base_min_size}")
    if product.base_max_size is not None and size > product.base_max_size:
        return Refusal(TOO_LARGE, f"size {size} is above the maximum {product.base_max_size}")
    if price is not None and price * size < product.quote_min_size:
        return Refusal(
            TOO_SMALL, f"order value {price * size} is below the minimum {product.quote_min_size}"
        )
    return None


def _check_against_last(req: CreateOrderRequest, last: Decimal | None) -> Refusal | None:
    if last is None:
        return None
    if req.order_type is OrderType.LIMIT and req.post_only:
        assert req.limit_price is not None
        if takes_on_arrival(req.side, req.limit_price, last):
            return Refusal(
                "INVALID_LIMIT_PRICE_POST_ONLY",
                f"post-only {req.side.value} at {req.limit_price} would take at {last}",
            )
    if req.order_type is OrderType.STOP_LIMIT:
        assert req.stop_price is not None and req.stop_direction is not None
        reason = stop_refusal(req.stop_direction, req.stop_price, last)
        if reason is not None:
            return Refusal(reason, f"stop {req.stop_price} is past the last trade {last}")
    return None


def stop_refusal(direction: str, stop_price: Decimal, last: Decimal) -> str | None:
    """The preview reason for a stop already past the last trade (it would trigger at once)."""
    if direction == StopDirection.DOWN and stop_price > last:
        return STOP_ABOVE_LAST
    if direction == StopDirection.UP and stop_price < last:
        return STOP_BELOW_LAST
    return None


def check_edit(
    order: SimOrder,
    product: Product,
    *,
    price: Decimal,
    size: Decimal,
    stop_price: Decimal | None,
    last: Decimal | None,
) -> str | None:
    """The first ``edit_failure_reason`` for editing ``order`` to ``price``/``size``/stop, or None.

    Only OPEN GTC limit orders, and OPEN GTC stop-limit orders whose stop has not triggered, can
    be edited. The new size is the whole order's size and must stay above what has filled.
    Funds are checked by the engine.
    """
    if not order.is_open:
        return "ONLY_OPEN_ORDERS_CAN_BE_EDITED"
    is_stop = order.order_type is OrderType.STOP_LIMIT
    if not (order.order_type is OrderType.LIMIT or is_stop):
        return "ONLY_LIMIT_ORDER_EDITS_SUPPORTED"
    if order.time_in_force != TimeInForce.GTC:
        return "ONLY_LIMIT_ORDER_EDITS_SUPPORTED"
    if not is_stop and stop_price is not None:
        return "FIELD_STOPPRICE_NOT_SUPPORTED"
    if is_stop and order.trigger_status == TriggerStatus.TRIGGERED:
        return "CANNOT_EDIT_STOP_PRICE_FOR_TRIGGERED_ORDER"
    stop = stop_price if stop_price is not None else order.stop_price
    reason = _edit_amount_problem(order, product, price, size, stop)
    if reason is not None:
        return reason
    if (price, size, stop) == (order.limit_price, order.size, order.stop_price):
        return "EDIT_REQUEST_EQUAL_TO_ORIGINAL_REQUEST"
    if last is not None and order.post_only and takes_on_arrival(order.side, price, last):
        return "INVALID_EDITED_LIMIT_PRICE_POST_ONLY"
    if last is not None and is_stop:
        assert stop is not None and order.stop_direction is not None
        return stop_refusal(order.stop_direction, stop, last)
    return None


def _edit_amount_problem(
    order: SimOrder, product: Product, price: Decimal, size: Decimal, stop: Decimal | None
) -> str | None:
    if price <= ZERO or (stop is not None and stop <= ZERO):
        return "INVALID_EDITED_PRICE"
    if size <= ZERO:
        return "INVALID_EDITED_SIZE"
    if not is_multiple(price, product.price_increment) or (
        stop is not None and not is_multiple(stop, product.price_increment)
    ):
        return PRICE_PRECISION
    if not is_multiple(size, product.base_increment):
        return SIZE_PRECISION
    if size <= order.filled_size:
        return "CANNOT_EDIT_TO_BELOW_FILLED_SIZE"
    refusal = size_refusal(product, size, price)
    return None if refusal is None else refusal.reason
