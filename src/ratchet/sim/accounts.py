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
from ratchet.sim.records import CreateOrderRequest, SimAccount, SimOrder


def fee_for(value: Decimal, rate: Decimal, quote_tick: Decimal) -> Decimal:
    """The commission of one fill: ``value * rate`` rounded up to the quote increment."""
    return ceil_to(value * rate, quote_tick)


def hold_amount(
    side: OrderSide, product: Product, price: Decimal, size: Decimal, taker_fee_rate: Decimal
) -> Decimal:
    """What an order of ``size`` at ``price`` holds: quote with the taker fee, or base."""
    if side is OrderSide.SELL:
        return size
    return product.order_cost(price, size, taker_fee_rate)


def hold_for(
    req: CreateOrderRequest, product: Product, last: Decimal | None, taker_fee_rate: Decimal
) -> tuple[str, Decimal]:
    """The currency and amount a new order holds: base for a sell, else quote (fee included).

    A market buy sized in quote holds that quote size; a buy sized in base holds its cost at
    its limit price (at ``last`` for a market order). The request has passed its checks.
    """
    if req.side is OrderSide.SELL:
        assert req.base_size is not None
        return product.base_currency, req.base_size
    if req.quote_size is not None:
        return product.quote_currency, req.quote_size
    price = req.limit_price if req.limit_price is not None else last
    assert price is not None and req.base_size is not None
    return product.quote_currency, hold_amount(
        req.side, product, price, req.base_size, taker_fee_rate
    )


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
