"""WebSocket message shapes (shared/COINBASE.md §5) and their translation to domain events.

Tickers arrive by the thousand, so they are read with plain dict access and explicit checks
(a pydantic model per ticker would cost more than the rest of the feed). Order updates of the
user channel are rarer and go through a pydantic model.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from ratchet.coinbase.times import parse_time
from ratchet.coinbase.wire import CandleWire, Wire, WireDecimal
from ratchet.domain.candles import Candle, CandleError
from ratchet.domain.order_types import OrderSide, OrderType
from ratchet.domain.reports import OrderReport, Ticker, status_from_exchange
from ratchet.ports import CandleEvent, OrderUpdateEvent, TickerEvent

MARKET_CHANNELS = ("heartbeats", "ticker", "candles")
USER_CHANNELS = ("heartbeats", "user")

_ORDER_TYPES = {"LIMIT": OrderType.LIMIT, "STOP_LIMIT": OrderType.STOP_LIMIT}
_CANDLE_AMOUNTS = ("low", "high", "open", "close", "volume")


class BadMessage(ValueError):
    """A feed message that does not have the documented shape."""


class UserOrderWire(Wire):
    """One order of a ``user`` channel event."""

    order_id: str
    client_order_id: str = ""
    status: str
    product_id: str
    order_side: str
    order_type: str = ""
    cumulative_quantity: WireDecimal = Decimal(0)
    leaves_quantity: WireDecimal = Decimal(0)
    avg_price: WireDecimal = Decimal(0)
    total_fees: WireDecimal = Decimal(0)
    limit_price: WireDecimal | None = None
    stop_price: WireDecimal | None = None
    creation_time: str = ""
    cancel_reason: str = ""
    reject_reason: str = ""

    def to_report(self) -> OrderReport:
        """The domain report (order type compared case-insensitively: "Limit" vs "LIMIT")."""
        kind = self.order_type.upper().replace("-", "_")
        return OrderReport(
            exchange_order_id=self.order_id,
            client_order_id=self.client_order_id,
            product_id=self.product_id,
            side=OrderSide(self.order_side.upper()),
            order_type=_ORDER_TYPES.get(kind, OrderType.MARKET),
            status=status_from_exchange(self.status, self.cumulative_quantity),
            size=self.cumulative_quantity + self.leaves_quantity,
            filled_size=self.cumulative_quantity,
            average_filled_price=self.avg_price,
            fees=self.total_fees,
            limit_price=self.limit_price or None,
            stop_price=self.stop_price or None,
            created_time=parse_time(self.creation_time),
            reason=self.reject_reason or self.cancel_reason,
        )


def ticker_events(message: dict[str, Any], time: float, received: float = 0.0) -> list[TickerEvent]:
    """Ticker events of one ``ticker`` message (the hot path of the feed: kept lean), read
    at ``received`` (``perf_counter``)."""
    out = []
    for event in _events(message):
        for item in event.get("tickers") or ():
            try:
                product, raw = item["product_id"], item["price"]
                bid, ask = item.get("best_bid"), item.get("best_ask")
                if (
                    type(raw) is not str
                    or (bid and type(bid) is not str)
                    or (ask and type(ask) is not str)
                ):
                    raise TypeError("amounts must be decimal strings")
                price = Decimal(raw)
                best_bid = Decimal(bid) if bid else None
                best_ask = Decimal(ask) if ask else None
            except (KeyError, TypeError, InvalidOperation):
                raise BadMessage(f"ticker: malformed ticker {str(item)[:200]}") from None
            if not (isinstance(product, str) and product and price.is_finite() and price > 0):
                raise BadMessage(f"ticker: product_id and a price > 0 are required: {item}")
            out.append(TickerEvent(Ticker(product, price, time, best_bid, best_ask), received))
    return out


def candle_events(message: dict[str, Any]) -> list[CandleEvent]:
    """Candle events of one ``candles`` message.

    They come with every ticker, so the documented shape (start an integer or a string of
    digits, amounts non-empty decimal strings) is read directly; anything else goes through
    :class:`CandleWire`, which accepts what the API allows (``""`` as zero, ...) and names
    what is wrong with the rest.
    """
    out = []
    for event in _events(message):
        for item in event.get("candles") or ():
            try:
                found = _plain_candle(item)
                if found is None:
                    wire = CandleWire.model_validate(item)
                    found = CandleEvent(wire.product_id, wire.to_candle())
            except (ValidationError, CandleError) as exc:
                raise BadMessage(f"candles: {exc}") from None
            out.append(found)
    return out


def _plain_candle(item: Any) -> CandleEvent | None:
    """The candle of an item of the documented shape (None: not that shape, validate it)."""
    if type(item) is not dict:
        return None
    start, product = item.get("start"), item.get("product_id", "")
    if type(product) is not str:
        return None
    if type(start) is str and start.isdigit():
        start = int(start)
    elif type(start) is not int:
        return None
    amounts = []
    for key in _CANDLE_AMOUNTS:
        text = item.get(key)
        if type(text) is not str or not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            return None
        if not amount.is_finite():
            return None
        amounts.append(amount)
    low, high, open_, close, volume = amounts
    return CandleEvent(product, Candle(start, open_, high, low, close, volume))


def order_events(message: dict[str, Any]) -> list[OrderUpdateEvent]:
    """Order update events of one ``user`` message (snapshot and update alike)."""
    out = []
    for event in _events(message):
        for item in event.get("orders") or ():
            try:
                out.append(OrderUpdateEvent(UserOrderWire.model_validate(item).to_report()))
            except (ValidationError, ValueError) as exc:
                raise BadMessage(f"user: {exc}") from None
    return out


def _events(message: dict[str, Any]) -> list[dict[str, Any]]:
    events = message.get("events")
    if type(events) is not list or any(type(e) is not dict for e in events):
        raise BadMessage(f"{message.get('channel')}: 'events' must be a list of objects")
    return events
