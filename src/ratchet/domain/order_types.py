"""The vocabulary of orders: sides, types, time in force, statuses, operator actions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class OrderError(ValueError):
    """An order breaks a trading rule, or an event contradicts what the order already knows."""


class Vocabulary(Enum):
    """An Enum whose members hash by identity. They are singletons that compare by identity
    anyway; Enum's own ``__hash__`` is Python code, and these members are dictionary keys on
    every order event (the transition table, an order's sequence per role)."""

    __hash__ = object.__hash__


class OrderSide(Vocabulary):
    """Buy or sell (spot only: a sell never exceeds what is held)."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(Vocabulary):
    """Limit entries, stop-limit exits; market only for an audited operator action."""

    LIMIT = "LIMIT"
    STOP_LIMIT = "STOP_LIMIT"
    MARKET = "MARKET"


class TimeInForce(Vocabulary):
    """Good till cancelled, good till a date (``end_time``), or immediate-or-cancel (market)."""

    GTC = "GOOD_UNTIL_CANCELLED"
    GTD = "GOOD_UNTIL_DATE_TIME"
    IOC = "IMMEDIATE_OR_CANCEL"


class OrderStatus(Vocabulary):
    """Where an order is in its life; see ``orders.TRANSITIONS`` for the allowed moves."""

    INITIALIZED = "INITIALIZED"
    PENDING = "PENDING"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True when nothing more can happen to the order on the exchange."""
        return self in _TERMINAL


# a tuple: membership is a few identity tests
_TERMINAL = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED)


class OperatorCommand(Vocabulary):
    """What an operator asked for; only the exits may send a market order."""

    FORCE_EXIT = "force_exit"
    EMERGENCY_LIQUIDATION = "emergency_liquidation"
    MANUAL_ENTRY = "manual_entry"
    CANCEL = "cancel"

    @property
    def may_sell_at_market(self) -> bool:
        """True for the operator exits, the only commands that may send a market order."""
        return self in (OperatorCommand.FORCE_EXIT, OperatorCommand.EMERGENCY_LIQUIDATION)


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """Who asked for an operator action, when and why: the audit record a market order needs."""

    command: OperatorCommand
    actor: str
    reason: str
    requested_at: int

    def __post_init__(self) -> None:
        if not self.actor.strip():
            raise OrderError("an operator action needs the name of who asked for it")
        if not self.reason.strip():
            raise OrderError("an operator action needs a reason")
