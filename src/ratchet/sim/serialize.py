"""The simulator's records as Coinbase JSON, built through the adapter's own wire models.

Building replies with :mod:`ratchet.coinbase.wire` keeps one definition of each shape: what the
simulator sends is, by construction, what the adapter validates.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from ratchet.coinbase import wire
from ratchet.coinbase.times import format_time
from ratchet.domain.candles import Candle
from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderType
from ratchet.sim.records import SimAccount, SimFill, SimOrder

USER_ID = "sim-user"


def _text(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def order_configuration(order: SimOrder) -> dict[str, dict[str, Any]]:
    """The order's configuration, as it was created (or last edited)."""
    gtd = order.time_in_force == "GOOD_UNTIL_DATE_TIME"
    if order.order_type is OrderType.MARKET:
        size = {"quote_size": _text(order.quote_size)} if order.size is None else {}
        return {"market_market_ioc": size or {"base_size": _text(order.size)}}
    body: dict[str, Any] = {"base_size": _text(order.size), "limit_price": _text(order.limit_price)}
    if order.order_type is OrderType.LIMIT:
        body["post_only"] = order.post_only
        kind = "limit_limit_gtd" if gtd else "limit_limit_gtc"
    else:
        body["stop_price"] = _text(order.stop_price)
        body["stop_direction"] = order.stop_direction
        kind = "stop_limit_stop_limit_gtd" if gtd else "stop_limit_stop_limit_gtc"
    if gtd and order.end_time is not None:
        body["end_time"] = format_time(order.end_time)
    return {kind: body}


def order_json(order: SimOrder) -> dict[str, Any]:
    """The order as ``GET /orders/historical/{id}`` shows it."""
    model = wire.OrderWire(
        order_id=order.order_id,
        product_id=order.product_id,
        user_id=USER_ID,
        order_configuration=order_configuration(order),
        side=order.side.value,
        client_order_id=order.client_order_id,
        status=str(order.status),
        time_in_force=order.time_in_force,
        created_time=format_time(order.created_time),
        completion_percentage=order.completion_percentage,
        filled_size=order.filled_size,
        average_filled_price=order.average_filled_price,
        number_of_fills=Decimal(order.number_of_fills),
        filled_value=order.filled_value,
        total_fees=order.total_fees,
        total_value_after_fees=order.total_value_after_fees,
        pending_cancel=False,
        order_type=order.order_type.value,
        trigger_status=str(order.trigger_status),
        reject_reason=order.reject_reason,
        cancel_message=order.cancel_reason,
        outstanding_hold_amount=order.hold,
        last_fill_time=format_time(order.last_fill_time) if order.last_fill_time else None,
        edit_history=[
            {
                "price": _text(e.price),
                "size": _text(e.size),
                "replace_accept_timestamp": format_time(e.time),
            }
            for e in order.edit_history
        ],
    )
    return model.model_dump(mode="json")


def user_order_json(order: SimOrder) -> dict[str, Any]:
    """The order as the ``user`` WebSocket channel shows it."""
    leaves = Decimal(0) if order.size is None else max(Decimal(0), order.size - order.filled_size)
    if order.status != "OPEN":
        leaves = Decimal(0)
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "status": str(order.status),
        "product_id": order.product_id,
        "order_side": order.side.value,
        "order_type": order.order_type.value,
        "time_in_force": order.time_in_force,
        "creation_time": format_time(order.created_time),
        "cumulative_quantity": _text(order.filled_size),
        "leaves_quantity": _text(leaves),
        "avg_price": _text(order.average_filled_price),
        "filled_value": _text(order.filled_value),
        "number_of_fills": str(order.number_of_fills),
        "completion_percentage": _text(order.completion_percentage),
        "limit_price": _text(order.limit_price),
        "stop_price": _text(order.stop_price),
        "post_only": "true" if order.post_only else "false",
        "total_fees": _text(order.total_fees),
        "total_value_after_fees": _text(order.total_value_after_fees),
        "outstanding_hold_amount": _text(order.hold),
        "cancel_reason": order.cancel_reason,
        "reject_reason": order.reject_reason,
        "trigger_status": str(order.trigger_status),
        "end_time": format_time(order.end_time) if order.end_time else "0001-01-01T00:00:00Z",
        "start_time": "0001-01-01T00:00:00Z",
    }


def fill_json(fill: SimFill) -> dict[str, Any]:
    """One fill as ``GET /orders/historical/fills`` shows it."""
    model = wire.FillWire(
        entry_id=fill.entry_id,
        trade_id=fill.trade_id,
        order_id=fill.order_id,
        trade_time=format_time(fill.time),
        price=fill.price,
        size=fill.size,
        commission=fill.commission,
        product_id=fill.product_id,
        sequence_timestamp=format_time(fill.time),
        liquidity_indicator=str(fill.liquidity),
        user_id=USER_ID,
        side=fill.side.value,
    )
    return model.model_dump(mode="json")


def account_json(account: SimAccount) -> dict[str, Any]:
    """One account as ``GET /accounts`` shows it."""
    fiat = account.currency in ("USD", "USDC", "EUR")
    model = wire.AccountWire(
        uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"ratchet-sim/{account.currency}")),
        name=f"{account.currency} Wallet",
        currency=account.currency,
        available_balance=wire.AmountWire(value=account.available, currency=account.currency),
        hold=wire.AmountWire(value=account.hold, currency=account.currency),
        default=True,
        type="ACCOUNT_TYPE_FIAT" if fiat else "ACCOUNT_TYPE_CRYPTO",
    )
    return model.model_dump(mode="json")


def product_json(product: Product, price: Decimal | None) -> dict[str, Any]:
    """One product as ``GET /products`` shows it."""
    model = wire.ProductWire(
        product_id=product.product_id,
        price=price or Decimal(0),
        base_increment=product.base_increment,
        quote_increment=product.quote_tick,
        price_increment=product.price_increment,
        base_min_size=product.base_min_size,
        base_max_size=product.base_max_size,
        quote_min_size=product.quote_min_size,
        base_currency_id=product.base_currency,
        quote_currency_id=product.quote_currency,
    )
    return model.model_dump(mode="json")


def candle_json(candle: Candle, product_id: str = "") -> dict[str, Any]:
    """One candle (REST and the candles channel; ``start`` as a string of Unix seconds)."""
    data: dict[str, Any] = {
        "start": str(candle.start),
        "low": _text(candle.low),
        "high": _text(candle.high),
        "open": _text(candle.open),
        "close": _text(candle.close),
        "volume": _text(candle.volume),
    }
    if product_id:
        data["product_id"] = product_id
    return data
