"""Orders and their state machine: one transition table, and ``Order.apply`` as the only mutator.

Exchange statuses map onto ours as follows (Coinbase has no "partially filled" status: an OPEN
order with ``filled_size > 0`` is one):

==========================  ===================================================
ours                        exchange / meaning
==========================  ===================================================
INITIALIZED                 intent written to the store, not yet sent
PENDING                     sent; exchange PENDING / QUEUED, or no reply yet
OPEN                        exchange OPEN, nothing filled
PARTIALLY_FILLED            exchange OPEN with filled_size > 0
CANCEL_REQUESTED            we asked to cancel; exchange CANCEL_QUEUED / pending_cancel
FILLED                      FILLED (terminal)
CANCELLED                   CANCELLED (terminal)
EXPIRED                     EXPIRED (GTD end time reached, terminal)
REJECTED                    FAILED, or refused when created (terminal)
UNKNOWN                     UNKNOWN_ORDER_STATUS, or a look-up that found nothing yet
==========================  ===================================================

Fills are counted by ``trade_id``: the same fill reported twice (WebSocket and REST, or again
after a reconnect) is applied once. A late event that the table marks as harmless (an ack after
the fill, a duplicate cancel) leaves the order as it is; anything else raises
:class:`InvalidTransition` so the engine reconciles instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ratchet.domain.money import ZERO

# Re-exported here because orders are where events are named.
from ratchet.domain.order_events import (
    Accepted,
    Amended,
    Cancelled,
    CancelRejected,
    CancelRequested,
    Expired,
    Fill,
    MarkedUnknown,
    OrderEvent,
    Rejected,
    Submitted,
    exact,
)
from ratchet.domain.order_types import (
    OperatorAction,
    OperatorCommand,
    OrderError,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    Vocabulary,
)

# read on every event: a module name is found faster than a member through its Enum class
# (Python 3.11 looks those up through EnumType.__getattr__'s hook, ~50 ns more each)
_INITIALIZED = OrderStatus.INITIALIZED
_OPEN = OrderStatus.OPEN
_PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED

__all__ = [
    "TRANSITIONS",
    "Accepted",
    "Amended",
    "CancelRejected",
    "CancelRequested",
    "Cancelled",
    "Expired",
    "Fill",
    "InvalidTransition",
    "MarkedUnknown",
    "OperatorAction",
    "OperatorCommand",
    "Order",
    "OrderError",
    "OrderEvent",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Rejected",
    "Submitted",
    "TimeInForce",
    "Trigger",
]


class Trigger(Vocabulary):
    """What an event does to the state machine (a fill is partial or completing)."""

    SUBMIT = "submit"
    ACCEPT = "accept"
    AMEND = "amend"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    REQUEST_CANCEL = "request_cancel"
    CANCEL_REJECTED = "cancel_rejected"
    CANCEL = "cancel"
    EXPIRE = "expire"
    REJECT = "reject"
    MARK_UNKNOWN = "mark_unknown"


class InvalidTransition(OrderError):
    """An event that the transition table does not allow in the order's current status."""


S, T = OrderStatus, Trigger

TRANSITIONS: dict[tuple[OrderStatus, Trigger], OrderStatus] = {
    # -- intent written, not sent yet ---------------------------------------------------
    (S.INITIALIZED, T.SUBMIT): S.PENDING,
    (S.INITIALIZED, T.REJECT): S.REJECTED,  # refused before sending (validation, risk)
    (S.INITIALIZED, T.CANCEL): S.CANCELLED,  # intent withdrawn; it never reached the exchange
    (S.INITIALIZED, T.ACCEPT): S.OPEN,  # restart: it reached the exchange before we noted the send
    (S.INITIALIZED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # restart: ... and traded meanwhile
    (S.INITIALIZED, T.FILL): S.FILLED,  # restart: ... and filled meanwhile
    (S.INITIALIZED, T.EXPIRE): S.EXPIRED,  # restart: ... and expired meanwhile
    (S.INITIALIZED, T.MARK_UNKNOWN): S.UNKNOWN,
    # -- sent, no acknowledgement yet --------------------------------------------------------
    (S.PENDING, T.SUBMIT): S.PENDING,  # a retry with the same client_order_id
    (S.PENDING, T.ACCEPT): S.OPEN,
    (S.PENDING, T.AMEND): S.PENDING,
    (S.PENDING, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # the fill overtook the ack
    (S.PENDING, T.FILL): S.FILLED,  # the fill overtook the ack
    (S.PENDING, T.REQUEST_CANCEL): S.CANCEL_REQUESTED,
    (S.PENDING, T.CANCEL): S.CANCELLED,
    (S.PENDING, T.EXPIRE): S.EXPIRED,
    (S.PENDING, T.REJECT): S.REJECTED,
    (S.PENDING, T.MARK_UNKNOWN): S.UNKNOWN,  # timeout after sending: look it up, never resend
    # -- working ---------------------------------------------------------------------------
    (S.OPEN, T.ACCEPT): S.OPEN,  # duplicate ack
    (S.OPEN, T.AMEND): S.OPEN,
    (S.OPEN, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.OPEN, T.FILL): S.FILLED,
    (S.OPEN, T.REQUEST_CANCEL): S.CANCEL_REQUESTED,
    (S.OPEN, T.CANCEL_REJECTED): S.OPEN,  # a stale cancel failure; nothing changes
    (S.OPEN, T.CANCEL): S.CANCELLED,  # cancelled by someone else (operator, exchange)
    (S.OPEN, T.EXPIRE): S.EXPIRED,
    (S.OPEN, T.MARK_UNKNOWN): S.UNKNOWN,
    (S.PARTIALLY_FILLED, T.ACCEPT): S.PARTIALLY_FILLED,  # late ack
    (S.PARTIALLY_FILLED, T.AMEND): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.REQUEST_CANCEL): S.CANCEL_REQUESTED,
    (S.PARTIALLY_FILLED, T.CANCEL_REJECTED): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL): S.CANCELLED,
    (S.PARTIALLY_FILLED, T.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, T.MARK_UNKNOWN): S.UNKNOWN,
    # -- cancel asked for ---------------------------------------------------------------------
    (S.CANCEL_REQUESTED, T.REQUEST_CANCEL): S.CANCEL_REQUESTED,  # duplicate request
    (S.CANCEL_REQUESTED, T.ACCEPT): S.CANCEL_REQUESTED,  # late ack
    (S.CANCEL_REQUESTED, T.PARTIAL_FILL): S.CANCEL_REQUESTED,  # a fill raced the cancel
    (S.CANCEL_REQUESTED, T.FILL): S.FILLED,  # the fill won the race
    (S.CANCEL_REQUESTED, T.CANCEL_REJECTED): S.OPEN,  # OPEN or PARTIALLY_FILLED by filled size
    (S.CANCEL_REQUESTED, T.CANCEL): S.CANCELLED,
    (S.CANCEL_REQUESTED, T.EXPIRE): S.EXPIRED,
    (S.CANCEL_REQUESTED, T.MARK_UNKNOWN): S.UNKNOWN,
    # -- not known: any exchange truth resolves it ---------------------------------------------
    (S.UNKNOWN, T.SUBMIT): S.PENDING,  # looked up, never reached the exchange: resend same id
    (S.UNKNOWN, T.ACCEPT): S.OPEN,
    (S.UNKNOWN, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.UNKNOWN, T.FILL): S.FILLED,
    (S.UNKNOWN, T.REQUEST_CANCEL): S.CANCEL_REQUESTED,
    (S.UNKNOWN, T.CANCEL): S.CANCELLED,
    (S.UNKNOWN, T.EXPIRE): S.EXPIRED,
    (S.UNKNOWN, T.REJECT): S.REJECTED,
    (S.UNKNOWN, T.MARK_UNKNOWN): S.UNKNOWN,
    # -- terminal: only late or duplicated news, which changes nothing -----------------------
    (S.FILLED, T.ACCEPT): S.FILLED,  # late ack
    (S.FILLED, T.CANCEL_REJECTED): S.FILLED,  # "ORDER_IS_FULLY_FILLED"
    (S.FILLED, T.REQUEST_CANCEL): S.FILLED,  # a cancel that raced the fill: nothing to cancel
    (S.CANCELLED, T.ACCEPT): S.CANCELLED,  # late ack
    (S.CANCELLED, T.CANCEL): S.CANCELLED,  # duplicate
    (S.CANCELLED, T.CANCEL_REJECTED): S.CANCELLED,  # "DUPLICATE_CANCEL_REQUEST"
    (S.CANCELLED, T.REQUEST_CANCEL): S.CANCELLED,  # already gone
    (S.CANCELLED, T.PARTIAL_FILL): S.CANCELLED,  # late report of a fill made before the cancel
    (S.CANCELLED, T.FILL): S.FILLED,  # the late fills complete it: it was filled after all
    (S.EXPIRED, T.ACCEPT): S.EXPIRED,
    (S.EXPIRED, T.EXPIRE): S.EXPIRED,
    (S.EXPIRED, T.CANCEL_REJECTED): S.EXPIRED,
    (S.EXPIRED, T.REQUEST_CANCEL): S.EXPIRED,
    (S.EXPIRED, T.PARTIAL_FILL): S.EXPIRED,  # late report of a fill made before expiry
    (S.EXPIRED, T.FILL): S.FILLED,
    (S.REJECTED, T.REJECT): S.REJECTED,  # duplicate
}

_TRIGGERS: dict[type[OrderEvent], Trigger] = {
    Submitted: T.SUBMIT,
    Accepted: T.ACCEPT,
    Amended: T.AMEND,
    CancelRequested: T.REQUEST_CANCEL,
    CancelRejected: T.CANCEL_REJECTED,
    Cancelled: T.CANCEL,
    Expired: T.EXPIRE,
    Rejected: T.REJECT,
    MarkedUnknown: T.MARK_UNKNOWN,
}


@dataclass(slots=True, eq=False)
class Order:
    """One order, from intent to its end. Change it only through :meth:`apply`.

    Rules checked at construction: entries are limit buys (``BUY`` must be ``LIMIT``); a
    ``MARKET`` order exists only with an :class:`OperatorAction` that asked for it; a stop-limit
    sell has a stop price at or above its limit price.
    """

    client_order_id: str
    product_id: str
    side: OrderSide
    order_type: OrderType
    size: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    end_time: int | None = None
    post_only: bool = False
    operator_action: OperatorAction | None = None
    exchange_order_id: str | None = None
    status: OrderStatus = OrderStatus.INITIALIZED
    filled_size: Decimal = ZERO
    filled_value: Decimal = ZERO
    fees: Decimal = ZERO
    reason: str = ""
    fills: list[Fill] = field(default_factory=list)
    _trade_ids: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        _check_new_order(self)
        self._trade_ids.update(fill.trade_id for fill in self.fills)

    # -- queries -----------------------------------------------------------------------------
    @property
    def remaining_size(self) -> Decimal:
        """Size not filled yet."""
        return self.size - self.filled_size

    @property
    def average_fill_price(self) -> Decimal | None:
        """Volume-weighted price of the fills so far (exact), or None before any fill."""
        return self.filled_value / self.filled_size if self.filled_size else None

    @property
    def is_done(self) -> bool:
        """True in a terminal status: nothing more will happen to it on the exchange."""
        return self.status.is_terminal

    @property
    def is_working(self) -> bool:
        """True while the order may rest on (or be on its way to) the exchange."""
        return not self.status.is_terminal and self.status is not _INITIALIZED

    def allows(self, event: OrderEvent) -> bool:
        """Would :meth:`apply` accept this event now (without applying it)?"""
        if isinstance(event, Fill) and event.trade_id in self._trade_ids:
            return True
        try:
            self._check(event)
        except OrderError:
            return False
        return (self.status, self._trigger(event)) in TRANSITIONS

    # -- the only mutator ----------------------------------------------------------------------
    def apply(self, event: OrderEvent) -> bool:
        """Apply one event; return True when it changed the order, False for a harmless repeat.

        Raises:
            InvalidTransition: the table has no row for (status, event).
            OrderError: a fill that would exceed the order size, or an exchange id that
                contradicts the one already known.
        """
        if isinstance(event, Fill) and event.trade_id in self._trade_ids:
            return False  # the same fill reported again: never counted twice
        trigger = self._trigger(event)
        target = TRANSITIONS.get((self.status, trigger))
        if target is None:
            raise InvalidTransition(
                f"{self.client_order_id}: {self.status.name} -> {trigger.name} is not allowed"
            )
        self._check(event)
        before = self._state()
        self._take(event)
        if target is _OPEN and self.filled_size > ZERO:
            target = _PARTIALLY_FILLED
        self.status = target
        return self._state() != before

    def _state(self) -> tuple[object, ...]:
        return (
            self.status,
            self.exchange_order_id,
            self.filled_size,
            self.reason,
            self.limit_price,
            self.stop_price,
            self.size,
        )

    def _check(self, event: OrderEvent) -> None:
        """Raise :class:`OrderError` when the event's data contradicts the order."""
        exchange_id = getattr(event, "exchange_order_id", None)
        if exchange_id and self.exchange_order_id and self.exchange_order_id != exchange_id:
            raise OrderError(
                f"{self.client_order_id}: exchange id {exchange_id} contradicts "
                f"{self.exchange_order_id}"
            )
        if isinstance(event, Fill) and self.filled_size + event.size > self.size:
            raise OrderError(
                f"{self.client_order_id}: fill {event.trade_id} of {event.size} would exceed "
                f"the order size {self.size} (filled {self.filled_size})"
            )
        if isinstance(event, Amended):
            if event.size <= self.filled_size:
                raise OrderError(
                    f"{self.client_order_id}: an amended size must exceed the filled size "
                    f"{self.filled_size}, got {event.size}"
                )
            limit = event.limit_price if event.limit_price is not None else self.limit_price
            stop = event.stop_price if event.stop_price is not None else self.stop_price
            if (
                self.order_type is OrderType.STOP_LIMIT
                and limit is not None
                and stop is not None
                and limit > stop
            ):
                raise OrderError(
                    f"{self.client_order_id}: a sell stop's limit price must not exceed its stop"
                )

    def _trigger(self, event: OrderEvent) -> Trigger:
        if isinstance(event, Fill):
            completes = self.filled_size + event.size >= self.size
            return Trigger.FILL if completes else Trigger.PARTIAL_FILL
        return _TRIGGERS[type(event)]

    def _take(self, event: OrderEvent) -> None:
        """Copy the event's data into the order (after the table and the checks said yes)."""
        exchange_id = getattr(event, "exchange_order_id", None)
        if exchange_id:
            self.exchange_order_id = exchange_id
        if isinstance(event, Fill):
            self.filled_size += event.size
            self.filled_value += event.value
            self.fees += event.fee
            self.fills.append(event)
            self._trade_ids.add(event.trade_id)
        elif isinstance(event, Amended):
            self.size = event.size
            if event.limit_price is not None:
                self.limit_price = event.limit_price
            if event.stop_price is not None:
                self.stop_price = event.stop_price
        elif (
            isinstance(event, Rejected | Cancelled | Expired | CancelRejected | MarkedUnknown)
            and event.reason
        ):
            self.reason = event.reason


def _check_new_order(order: Order) -> None:
    """The trading rules an order must satisfy to exist at all."""
    where = order.client_order_id
    if not where:
        raise OrderError("an order needs a client_order_id")
    for name in ("size", "limit_price", "stop_price", "filled_size", "filled_value", "fees"):
        value = getattr(order, name)
        if value is not None:
            exact(value, f"{where} {name}")
    if order.size <= ZERO:
        raise OrderError(f"{where}: size must be > 0, got {order.size}")
    if order.order_type is OrderType.MARKET:
        if order.operator_action is None or not order.operator_action.command.may_sell_at_market:
            raise OrderError(
                f"{where}: a market order needs an explicit operator action (force-exit or "
                "emergency liquidation); the engine never sends one on its own"
            )
        if order.side is not OrderSide.SELL:
            raise OrderError(f"{where}: operator market orders only sell (spot exits)")
        return
    if order.limit_price is None or order.limit_price <= ZERO:
        raise OrderError(f"{where}: a {order.order_type.name} order needs a limit price > 0")
    if order.side is OrderSide.BUY and order.order_type is not OrderType.LIMIT:
        raise OrderError(f"{where}: entries are limit buys only, got {order.order_type.name}")
    if order.order_type is OrderType.STOP_LIMIT:
        if order.stop_price is None or order.stop_price <= ZERO:
            raise OrderError(f"{where}: a stop-limit order needs a stop price > 0")
        if order.limit_price > order.stop_price:
            raise OrderError(f"{where}: a sell stop's limit price must not exceed its stop price")
    if order.time_in_force is TimeInForce.GTD and order.end_time is None:
        raise OrderError(f"{where}: a good-till-date order needs an end time")
