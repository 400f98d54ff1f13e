"""Products and the one place where prices and sizes are rounded — Decimal only.

Every rounding is *direction-aware*: it always errs on the side that protects the trader.

=====================  ===========  ===============================================
what                   rounds       why
=====================  ===========  ===============================================
buy limit price        down         never pay more than the price that was asked for
sell limit price       up           never sell for less than the price asked for
protective stop price  up           a stop never sits below its computed level
buy size               down         the order (with its fee) never costs more than
                                    the quote balance that was offered for it
sell size              down         never sell more than is held
order cost / hold      up           a budget check never underestimates the cost
=====================  ===========  ===============================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, InvalidOperation

ZERO = Decimal(0)
ONE = Decimal(1)
INFINITY = Decimal("Infinity")
"""Above every price: a bound that nothing reaches."""

EXACT = Context(prec=60)
"""Money arithmetic runs in 60 significant digits: products and sums of realistic amounts
(and far larger ones) are exact, so no rounding happens anywhere but in the functions below."""


class MoneyError(ValueError):
    """A money value or a product definition is invalid (float, NaN, negative, off-increment)."""


def to_decimal(value: Decimal | str | int, what: str = "value") -> Decimal:
    """Return ``value`` as a finite Decimal; floats are refused (they are not exact money)."""
    if type(value) is Decimal and value.is_finite():  # the common case, on every order path
        return value
    if isinstance(value, bool | float):
        raise MoneyError(f"{what}: floats are not accepted for money, got {value!r}")
    try:
        result = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise MoneyError(f"{what}: not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise MoneyError(f"{what}: must be finite, got {value!r}")
    return result


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    """Largest multiple of ``increment`` that is ``<= value``."""
    if _is_power_of_ten(increment):
        return value.quantize(increment, ROUND_FLOOR, EXACT)
    steps = EXACT.divide(value, increment).to_integral_value(rounding=ROUND_FLOOR)
    return EXACT.multiply(steps, increment).quantize(increment, context=EXACT)


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    """Smallest multiple of ``increment`` that is ``>= value``."""
    if _is_power_of_ten(increment):
        return value.quantize(increment, ROUND_CEILING, EXACT)
    steps = EXACT.divide(value, increment).to_integral_value(rounding=ROUND_CEILING)
    return EXACT.multiply(steps, increment).quantize(increment, context=EXACT)


_POWERS_OF_TEN: dict[int, tuple[Decimal, bool]] = {}
"""id(increment) -> (increment, whether it is a power of ten). Keyed by identity: ``0.010``
equals ``0.01`` (and hashes alike) but is not a power of ten; the entry holds the Decimal, so
its id is not reused while cached."""


def _is_power_of_ten(increment: Decimal) -> bool:
    """True for ``1``, ``0.01``, ``1E+2``...: rounding to it is one ``quantize`` (``0.010`` is
    not one: its multiples are those of 0.01, written with three places)."""
    known = _POWERS_OF_TEN.get(id(increment))
    if known is not None and known[0] is increment:
        return known[1]
    answer = increment.as_tuple().digits == (1,)
    if len(_POWERS_OF_TEN) < 1024:  # products' increments, the same few objects: a handful
        _POWERS_OF_TEN[id(increment)] = (increment, answer)
    return answer


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """True when ``value`` lies exactly on the ``increment`` grid."""
    return value % increment == ZERO


@dataclass(frozen=True, slots=True)
class Product:
    """A spot product with its increments and size limits, as the exchange defines them.

    ``price_increment`` is the tick of limit/stop prices; ``quote_increment`` the tick of quote
    amounts (costs, fees); ``base_increment`` the tick of sizes. All are positive Decimals.
    """

    product_id: str
    base_increment: Decimal
    price_increment: Decimal
    base_min_size: Decimal
    quote_min_size: Decimal = ZERO
    base_max_size: Decimal | None = None
    quote_increment: Decimal | None = None
    base_currency: str = field(default="")
    quote_currency: str = field(default="")

    def __post_init__(self) -> None:
        base, sep, quote = self.product_id.partition("-")
        if not (base and sep and quote) or "-" in quote:
            raise MoneyError(f"product id must look like BASE-QUOTE, got {self.product_id!r}")
        for name in ("base_increment", "price_increment"):
            inc = to_decimal(getattr(self, name), f"{self.product_id}.{name}")
            if inc <= ZERO:
                raise MoneyError(f"{self.product_id}.{name} must be > 0, got {inc}")
            object.__setattr__(self, name, inc)
        quote_inc = self.price_increment if self.quote_increment is None else self.quote_increment
        quote_inc = to_decimal(quote_inc, f"{self.product_id}.quote_increment")
        if quote_inc <= ZERO:
            raise MoneyError(f"{self.product_id}.quote_increment must be > 0, got {quote_inc}")
        object.__setattr__(self, "quote_increment", quote_inc)
        for name in ("base_min_size", "quote_min_size"):
            amount = to_decimal(getattr(self, name), f"{self.product_id}.{name}")
            if amount < ZERO:
                raise MoneyError(f"{self.product_id}.{name} must be >= 0, got {amount}")
            object.__setattr__(self, name, amount)
        if self.base_max_size is not None:
            top = to_decimal(self.base_max_size, f"{self.product_id}.base_max_size")
            if top < self.base_min_size:
                raise MoneyError(f"{self.product_id}.base_max_size {top} < base_min_size")
            object.__setattr__(self, "base_max_size", top)
        object.__setattr__(self, "base_currency", self.base_currency or base)
        object.__setattr__(self, "quote_currency", self.quote_currency or quote)

    @property
    def quote_tick(self) -> Decimal:
        """The quote-amount increment (never None after construction)."""
        assert self.quote_increment is not None
        return self.quote_increment

    # -- prices ---------------------------------------------------------------------------
    def buy_limit_price(self, price: Decimal) -> Decimal:
        """A buy's limit price on the grid, rounded down: never pay more than asked."""
        return floor_to(self._positive(price, "price"), self.price_increment)

    def sell_limit_price(self, price: Decimal) -> Decimal:
        """A sell's limit price on the grid, rounded up: never sell for less than asked."""
        return ceil_to(self._positive(price, "price"), self.price_increment)

    def stop_price(self, price: Decimal) -> Decimal:
        """A protective (sell) stop price on the grid, rounded up so it never loosens."""
        return ceil_to(self._positive(price, "stop price"), self.price_increment)

    # -- sizes ----------------------------------------------------------------------------
    def sell_size(self, held: Decimal) -> Decimal:
        """The largest sellable size on the grid that is ``<= held``."""
        return floor_to(self._non_negative(held, "size"), self.base_increment)

    def order_cost(self, price: Decimal, size: Decimal, fee_rate: Decimal = ZERO) -> Decimal:
        """What a buy of ``size`` at ``price`` costs in quote currency, fee included.

        Value and fee are each rounded up to the quote increment (exchanges round the fee of
        a fill up on its own), so the result is never below what the exchange debits.
        """
        gross = EXACT.multiply(self._non_negative(price, "price"), self._non_negative(size, "size"))
        fee = EXACT.multiply(gross, self._non_negative(fee_rate, "fee rate"))
        return ceil_to(gross, self.quote_tick) + ceil_to(fee, self.quote_tick)

    def buy_size(self, budget: Decimal, price: Decimal, fee_rate: Decimal = ZERO) -> Decimal:
        """The largest size on the grid whose cost at ``price`` (fee included) fits ``budget``.

        Returns zero when not even one increment fits; the caller checks the product minimums
        with :meth:`violations` before sending anything. The cost grows with the size: the
        unrounded cost gives the answer, checked against the rounded one (and, when rounding
        moves it, found by bisection over whole increments: a few dozen steps at most).
        """
        budget = self._non_negative(budget, "budget")
        price = self._positive(price, "price")
        fee_rate = self._non_negative(fee_rate, "fee rate")
        step = self.base_increment
        unit = EXACT.multiply(price, step)
        high = int(EXACT.divide(budget, unit).to_integral_value(ROUND_FLOOR))
        with_fee = EXACT.multiply(unit, ONE + fee_rate)
        guess = min(high, int(EXACT.divide(budget, with_fee).to_integral_value(ROUND_FLOOR)))
        if self._fits(guess, budget, price, fee_rate) and (
            guess == high or not self._fits(guess + 1, budget, price, fee_rate)
        ):
            low = high = guess
        else:
            # rounding only adds (less than one tick to the value and one to the fee): no
            # more than the unrounded guess fits, and every size two ticks below fits
            high = min(high, guess)
            spare = budget - 2 * self.quote_tick
            low = (
                max(0, int(EXACT.divide(spare, with_fee).to_integral_value(ROUND_FLOOR)))
                if spare > ZERO
                else 0
            )  # invariant: low increments fit; high + 1 do not
        while low < high:
            middle = (low + high + 1) // 2
            if self._fits(middle, budget, price, fee_rate):
                low = middle
            else:
                high = middle - 1
        return EXACT.multiply(step, low).quantize(step, context=EXACT)

    def _fits(self, increments: int, budget: Decimal, price: Decimal, fee_rate: Decimal) -> bool:
        size = EXACT.multiply(self.base_increment, increments)
        return self.order_cost(price, size, fee_rate) <= budget

    # -- checks ---------------------------------------------------------------------------
    def violations(self, price: Decimal | None, size: Decimal) -> tuple[str, ...]:
        """Every reason the exchange would refuse an order of ``size`` at ``price`` (empty: ok)."""
        found: list[str] = []
        if size <= ZERO:
            found.append(f"size must be > 0, got {size}")
        elif not is_multiple(size, self.base_increment):
            found.append(f"size {size} is not a multiple of {self.base_increment}")
        if size < self.base_min_size:
            found.append(f"size {size} is below the minimum {self.base_min_size}")
        if self.base_max_size is not None and size > self.base_max_size:
            found.append(f"size {size} is above the maximum {self.base_max_size}")
        if price is not None:
            if price <= ZERO:
                found.append(f"price must be > 0, got {price}")
            elif not is_multiple(price, self.price_increment):
                found.append(f"price {price} is not a multiple of {self.price_increment}")
            elif price * size < self.quote_min_size:
                found.append(
                    f"order value {price * size} is below the minimum {self.quote_min_size}"
                )
        return tuple(found)

    def can_carry_order(self, size: Decimal) -> bool:
        """True when ``size`` (rounded down) is large enough to be sent as an order at all."""
        rounded = floor_to(size, self.base_increment)
        return rounded > ZERO and rounded >= self.base_min_size

    def _positive(self, value: Decimal, what: str) -> Decimal:
        amount = self._finite(value, what)
        if amount <= ZERO:
            raise MoneyError(f"{self.product_id} {what} must be > 0, got {amount}")
        return amount

    def _non_negative(self, value: Decimal, what: str) -> Decimal:
        amount = self._finite(value, what)
        if amount < ZERO:
            raise MoneyError(f"{self.product_id} {what} must be >= 0, got {amount}")
        return amount

    def _finite(self, value: Decimal, what: str) -> Decimal:
        """``value`` as a finite Decimal; the message (named after this product) is only
        written when it is not one."""
        if type(value) is Decimal and value.is_finite():
            return value
        return to_decimal(value, f"{self.product_id} {what}")
