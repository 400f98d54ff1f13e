"""Pydantic models of the Advanced Trade REST wire shapes (see shared/COINBASE.md §2).

The adapter validates every reply against these and turns them into domain values; the
simulator builds its replies from the same models, so both speak one shape. Numbers travel as
strings and are read as Decimal; an empty string reads as zero (the API sends ``""`` for some
unset amounts). Unknown fields are ignored: the real API adds fields over time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from ratchet.coinbase.order_config import parse_configuration
from ratchet.coinbase.times import parse_time
from ratchet.domain.candles import Candle
from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderSide
from ratchet.domain.reports import Balance, FillReport, OrderReport, Quote, status_from_exchange


def _decimal_text(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "0"
    if isinstance(value, float):
        raise ValueError("amounts must be decimal strings, not floats")
    return value


WireDecimal = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
]
"""A Decimal sent and received as a string ("" reads as 0)."""


class Wire(BaseModel):
    """Base of every wire model: ignore unknown fields, keep Decimals exact."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# -- products ---------------------------------------------------------------------------------
class ProductWire(Wire):
    """One product of ``GET /products`` or ``GET /products/{id}``."""

    product_id: str
    price: WireDecimal = Decimal(0)
    base_increment: WireDecimal
    quote_increment: WireDecimal
    price_increment: WireDecimal | None = None
    base_min_size: WireDecimal = Decimal(0)
    base_max_size: WireDecimal | None = None
    quote_min_size: WireDecimal = Decimal(0)
    quote_max_size: WireDecimal | None = None
    base_currency_id: str = ""
    quote_currency_id: str = ""
    status: str = "online"
    trading_disabled: bool = False
    is_disabled: bool = False
    cancel_only: bool = False
    limit_only: bool = False
    post_only: bool = False
    product_type: str = "SPOT"

    def to_product(self) -> Product:
        """The domain product with its increments and size limits."""
        return Product(
            product_id=self.product_id,
            base_increment=self.base_increment,
            price_increment=self.price_increment or self.quote_increment,
            quote_increment=self.quote_increment,
            base_min_size=self.base_min_size,
            base_max_size=self.base_max_size or None,
            quote_min_size=self.quote_min_size,
            base_currency=self.base_currency_id,
            quote_currency=self.quote_currency_id,
        )


class ProductsReply(Wire):
    """``GET /products``."""

    products: list[ProductWire]
    num_products: int = 0


# -- accounts ---------------------------------------------------------------------------------
class AmountWire(Wire):
    """``{"value": "1.5", "currency": "BTC"}``."""

    value: WireDecimal
    currency: str


class AccountWire(Wire):
    """One account (one currency) of ``GET /accounts``."""

    uuid: str
    name: str = ""
    currency: str
    available_balance: AmountWire
    hold: AmountWire
    default: bool = False
    active: bool = True
    ready: bool = True
    type: str = "ACCOUNT_TYPE_CRYPTO"

    def to_balance(self) -> Balance:
        """The domain balance."""
        return Balance(self.currency, self.available_balance.value, self.hold.value)


class AccountsReply(Wire):
    """``GET /accounts`` (paged by cursor)."""

    accounts: list[AccountWire]
    has_next: bool = False
    cursor: str = ""
    size: int = 0


# -- orders -------------------------------------------------------------------------------------
class SuccessResponse(Wire):
    """``success_response`` of a created order."""

    order_id: str
    product_id: str = ""
    side: str = ""
    client_order_id: str = ""


class ErrorResponse(Wire):
    """``error_response`` of a refused order (HTTP 200 with ``success: false``)."""

    error: str = ""
    message: str = ""
    error_details: str = ""
    preview_failure_reason: str = ""
    new_order_failure_reason: str = ""

    @property
    def reason(self) -> str:
        """The most specific failure reason given."""
        return (
            self.new_order_failure_reason
            or self.preview_failure_reason
            or self.error
            or "UNKNOWN_FAILURE_REASON"
        )


class CreateOrderReply(Wire):
    """``POST /orders``."""

    success: bool
    success_response: SuccessResponse | None = None
    error_response: ErrorResponse | None = None
    order_configuration: dict[str, Any] | None = None


class OrderWire(Wire):
    """An order of ``GET /orders/historical/{id}`` and ``.../batch``."""

    order_id: str
    product_id: str
    user_id: str = ""
    order_configuration: dict[str, Any] = Field(default_factory=dict)
    side: str
    client_order_id: str = ""
    status: str
    time_in_force: str = "UNKNOWN_TIME_IN_FORCE"
    created_time: str = ""
    completion_percentage: WireDecimal = Decimal(0)
    filled_size: WireDecimal = Decimal(0)
    average_filled_price: WireDecimal = Decimal(0)
    number_of_fills: WireDecimal = Decimal(0)
    filled_value: WireDecimal = Decimal(0)
    total_fees: WireDecimal = Decimal(0)
    total_value_after_fees: WireDecimal = Decimal(0)
    pending_cancel: bool = False
    order_type: str = ""
    trigger_status: str = ""
    reject_reason: str = ""
    cancel_message: str = ""
    outstanding_hold_amount: WireDecimal = Decimal(0)
    last_fill_time: str | None = None
    edit_history: list[dict[str, Any]] = Field(default_factory=list)

    def to_report(self) -> OrderReport:
        """The domain order report (the order configuration decides type, size and prices)."""
        config = parse_configuration(self.order_configuration)
        status = status_from_exchange(self.status, self.filled_size)
        if self.pending_cancel and not status.is_terminal:
            status = status_from_exchange("CANCEL_QUEUED")
        return OrderReport(
            exchange_order_id=self.order_id,
            client_order_id=self.client_order_id,
            product_id=self.product_id,
            side=OrderSide(self.side.upper()),
            order_type=config.order_type,
            status=status,
            size=config.base_size,
            filled_size=self.filled_size,
            average_filled_price=self.average_filled_price,
            fees=self.total_fees,
            limit_price=config.limit_price,
            stop_price=config.stop_price,
            created_time=parse_time(self.created_time),
            reason=self.reject_reason or self.cancel_message,
        )


class GetOrderReply(Wire):
    """``GET /orders/historical/{order_id}``."""

    order: OrderWire


class ListOrdersReply(Wire):
    """``GET /orders/historical/batch`` (paged by cursor)."""

    orders: list[OrderWire]
    has_next: bool = False
    cursor: str = ""
    sequence: str = ""


class CancelResultWire(Wire):
    """One row of ``POST /orders/batch_cancel``."""

    success: bool
    failure_reason: str = ""
    order_id: str


class BatchCancelReply(Wire):
    """``POST /orders/batch_cancel``."""

    results: list[CancelResultWire]


class EditErrorWire(Wire):
    """One reason an edit was refused."""

    edit_failure_reason: str = ""
    preview_failure_reason: str = ""


class EditOrderReply(Wire):
    """``POST /orders/edit``."""

    success: bool
    errors: list[EditErrorWire] = Field(default_factory=list)


# -- fills ----------------------------------------------------------------------------------------
class FillWire(Wire):
    """One fill of ``GET /orders/historical/fills``."""

    entry_id: str
    trade_id: str
    order_id: str
    trade_time: str = ""
    trade_type: str = "FILL"
    price: WireDecimal
    size: WireDecimal
    commission: WireDecimal = Decimal(0)
    product_id: str
    sequence_timestamp: str = ""
    liquidity_indicator: str = "UNKNOWN_LIQUIDITY_INDICATOR"
    size_in_quote: bool = False
    user_id: str = ""
    side: str

    def to_report(self) -> FillReport:
        """The domain fill report (the entry id is unique per fill; it is the trade id we use)."""
        return FillReport(
            trade_id=self.entry_id or self.trade_id,
            exchange_order_id=self.order_id,
            product_id=self.product_id,
            side=OrderSide(self.side.upper()),
            price=self.price,
            size=self.size,
            fee=self.commission,
            liquidity=self.liquidity_indicator,
            time=parse_time(self.trade_time),
        )


class ListFillsReply(Wire):
    """``GET /orders/historical/fills`` (paged by cursor)."""

    fills: list[FillWire]
    cursor: str = ""


# -- market data ---------------------------------------------------------------------------
class CandleWire(Wire):
    """One candle of ``GET /products/{id}/candles`` or of the candles channel."""

    start: int
    low: WireDecimal
    high: WireDecimal
    open: WireDecimal
    close: WireDecimal
    volume: WireDecimal
    product_id: str = ""

    def to_candle(self) -> Candle:
        """The domain candle."""
        return Candle(self.start, self.open, self.high, self.low, self.close, self.volume)


class CandlesReply(Wire):
    """``GET /products/{id}/candles`` (newest first on the wire)."""

    candles: list[CandleWire]


class PriceLevelWire(Wire):
    """One level of a price book."""

    price: WireDecimal
    size: WireDecimal


class PriceBookWire(Wire):
    """Best bid/ask of one product."""

    product_id: str
    bids: list[PriceLevelWire] = Field(default_factory=list)
    asks: list[PriceLevelWire] = Field(default_factory=list)
    time: str = ""

    def to_quote(self) -> Quote | None:
        """The domain quote, or None when one side of the book is empty."""
        if not self.bids or not self.asks:
            return None
        return Quote(self.product_id, self.bids[0].price, self.asks[0].price, parse_time(self.time))


class BestBidAskReply(Wire):
    """``GET /best_bid_ask``."""

    pricebooks: list[PriceBookWire]


class ServerTimeReply(Wire):
    """``GET /time`` (camelCase on the wire)."""

    iso: str
    epochSeconds: str  # noqa: N815 - the wire's name
    epochMillis: str  # noqa: N815 - the wire's name


class ErrorBody(Wire):
    """The generic non-2xx error body."""

    error: str = ""
    code: int = 0
    message: str = ""
    error_details: str = ""
