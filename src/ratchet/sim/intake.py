"""Admitting a create request: its checks, the hold it needs, and the order it becomes.

Pure functions over a product, the last price and the ledger: the engine asks :func:`admit`
whether (and with what hold) a request may become an order, then builds it with
:func:`new_order` and the next id from its seeded generator.
"""

from __future__ import annotations

from decimal import Decimal

from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderType
from ratchet.sim.accounts import Ledger, hold_for
from ratchet.sim.records import CreateOrderRequest, SimOrder, TriggerStatus
from ratchet.sim.validation import (
    INSUFFICIENT_FUND,
    Refusal,
    check_create,
    natural_time_in_force,
)


def admit(
    req: CreateOrderRequest,
    product: Product,
    last: Decimal | None,
    now: float,
    *,
    ledger: Ledger,
    taker_fee_rate: Decimal,
) -> Refusal | tuple[str, Decimal]:
    """The first reason to refuse ``req``, or the currency and amount its order will hold.

    The request's own checks (:func:`~ratchet.sim.validation.check_create`) come first, then
    whether the hold fits what is available in its currency.
    """
    refusal = check_create(req, product, last, now, taker_fee_rate)
    if refusal is not None:
        return refusal
    currency, hold = hold_for(req, product, last, taker_fee_rate)
    available = ledger.available(currency)
    if hold > available:
        message = f"needs {hold} {currency} on hold, {available} available"
        return Refusal(INSUFFICIENT_FUND, message)
    return currency, hold


def new_order(req: CreateOrderRequest, order_id: str, hold_currency: str, now: float) -> SimOrder:
    """The OPEN order an admitted request becomes (nothing held yet, not on the book)."""
    is_stop = req.order_type is OrderType.STOP_LIMIT
    return SimOrder(
        order_id=order_id,
        client_order_id=req.client_order_id,
        product_id=req.product_id,
        side=req.side,
        order_type=req.order_type,
        size=req.base_size,
        quote_size=req.quote_size,
        limit_price=req.limit_price,
        stop_price=req.stop_price,
        stop_direction=req.stop_direction,
        post_only=req.post_only,
        time_in_force=req.time_in_force or natural_time_in_force(req.order_type),
        end_time=req.end_time,
        created_time=now,
        hold_currency=hold_currency,
        trigger_status=TriggerStatus.PENDING if is_stop else TriggerStatus.NOT_A_STOP,
    )
