"""The simulated account: balances per currency, holds of open orders, and fill settlement.

Every movement keeps two rules: no balance or hold ever goes negative, and a currency's
``available + hold`` changes only when a fill settles (what was bought or sold, and the fee).
Holds move ``available -> hold`` when an order is placed and back when it ends; a fill consumes
its order's hold. Fees are rounded up to the quote increment per fill, so a buy's fills can cost
up to one quote tick per fill more than :meth:`Product.order_cost` held: that excess is taken
from ``available``, and a fill is shrunk (never the balance overdrawn) if even that is short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from ratchet.domain.money import ZERO, MoneyError, Product, ceil_to, to_decimal
from ratchet.domain.order_types import OrderSide
from ratchet.sim.records import SimAccount, SimOrder


def fee_for(value: Decimal, rate: Decimal, quote_tick: Decimal) -> Decimal:
    """The commission of one fill: ``value * rate`` rounded up to the quote increment."""
    return ceil_to(value * rate, quote_tick)


class Ledger:
    """Accounts by currency, with the hold bookkeeping of orders and the settlement of fills."""

    def __init__(self, currencies: Iterable[str], balances: Mapping[str, Decimal]) -> None:
        self._accounts: dict[str, SimAccount] = {}
        for currency in currencies:
            self._accounts.setdefault(currency, SimAccount(currency))
        for currency, amount in balances.items():
            value = to_decimal(amount, f"balance of {currency}")
            if value < ZERO:
                raise MoneyError(f"balance of {currency} must be >= 0, got {value}")
            self._accounts[currency] = SimAccount(currency, value)

    def get(self, currency: str) -> SimAccount | None:
        """The live account of ``currency`` (None when unknown)."""
        return self._accounts.get(currency)

    def all(self) -> list[SimAccount]:
        """Copies of every account, in the order they were created."""
        return [account.copy() for account in self._accounts.values()]

    def available(self, currency: str) -> Decimal:
        """What is free to use in ``currency``."""
        return self._accounts[currency].available

    # -- holds ------------------------------------------------------------------------------
    def set_hold(self, order: SimOrder, amount: Decimal) -> None:
        """Make ``order`` hold exactly ``amount`` (moving the difference from/to available).

        The caller has checked that an increase fits the available balance.
        """
        account = self._accounts[order.hold_currency]
        delta = amount - order.hold
        if delta > account.available:
            raise MoneyError(f"hold of {delta} {account.currency} exceeds {account.available}")
        account.available -= delta
        account.hold += delta
        order.hold = amount

    def release(self, order: SimOrder) -> None:
        """Give back whatever ``order`` still holds (it ended, or its hold is no longer needed)."""
        self.set_hold(order, ZERO)

    # -- fills ------------------------------------------------------------------------------
    def affordable(
        self, order: SimOrder, product: Product, price: Decimal, size: Decimal, rate: Decimal
    ) -> Decimal:
        """The largest size ``<= size`` (on the base grid) whose settlement overdraws nothing."""
        quote = self._accounts[product.quote_currency]
        while size > ZERO:
            value = price * size
            fee = fee_for(value, rate, product.quote_tick)
            if order.side is OrderSide.BUY:
                fits = value + fee <= order.hold + quote.available
            else:
                fits = size <= order.hold and quote.available + value - fee >= ZERO
            if fits:
                return size
            size -= product.base_increment
        return ZERO

    def settle(
        self, order: SimOrder, product: Product, price: Decimal, size: Decimal, fee: Decimal
    ) -> None:
        """Move the money of one fill: the bought/sold base, its value and the fee in quote."""
        base = self._accounts[product.base_currency]
        quote = self._accounts[product.quote_currency]
        value = price * size
        if order.side is OrderSide.BUY:
            cost = value + fee
            from_hold = min(cost, order.hold)
            order.hold -= from_hold
            quote.hold -= from_hold
            quote.available -= cost - from_hold
            base.available += size
        else:
            order.hold -= size
            base.hold -= size
            quote.available += value - fee
