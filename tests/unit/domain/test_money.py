"""Rounding in money.py: every price and size lands on the grid, on the trader's side."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.domain.money import MoneyError, Product, ceil_to, floor_to, to_decimal

D = Decimal
INCREMENTS = sorted({D(m).scaleb(-e) for e in range(9) for m in (1, 2, 5) if D(m).scaleb(-e) <= 1})
FAST = settings(max_examples=150, deadline=None)


# -- helpers -------------------------------------------------------------------------------
def ada_btc() -> Product:
    """An ADA-BTC-like product: whole-coin sizes, satoshi prices and quote amounts."""
    return Product("ADA-BTC", D("1"), D("0.00000001"), D("1"), quote_min_size=D("0.0001"))


def on_grid(value: Decimal, increment: Decimal) -> bool:
    """True when ``value`` is an exact multiple of ``increment`` (computed without rounding)."""
    with localcontext() as ctx:
        ctx.prec = 100
        steps = value / increment
        return steps == steps.to_integral_value()


def exact_cost(price: Decimal, size: Decimal, fee_rate: Decimal, tick: Decimal) -> Decimal:
    """A buy's value and its fee, each computed exactly and rounded up to ``tick``."""
    with localcontext() as ctx:
        ctx.prec = 100
        value = price * size
        up = [
            (v / tick).to_integral_value(rounding=ROUND_CEILING) * tick
            for v in (value, value * fee_rate)
        ]
        return up[0] + up[1]


@st.composite
def products(draw: st.DrawFn) -> Product:
    """Any product: increments 1e-8..1, minimums on the size grid, optional max and quote tick."""
    base = draw(st.sampled_from(INCREMENTS))
    min_size = base * draw(st.integers(0, 100))
    max_size = draw(st.none() | st.integers(0, 10**6).map(lambda k: min_size + base * k))
    return Product(
        draw(st.sampled_from(["ADA-BTC", "ETH-BTC", "BTC-USD", "SHIB-USDC"])),
        base_increment=base,
        price_increment=draw(st.sampled_from(INCREMENTS)),
        base_min_size=min_size,
        quote_min_size=draw(st.decimals(0, 100, places=4)),
        base_max_size=max_size,
        quote_increment=draw(st.none() | st.sampled_from(INCREMENTS)),
    )


# Realistic magnitudes; see test_order_cost_of_huge_amounts_is_not_underestimated for beyond.
prices = st.decimals(min_value=D("0.00000001"), max_value=D(10**5), places=8)
fee_rates = st.decimals(min_value=0, max_value=D("0.05"), places=4)


# -- prices --------------------------------------------------------------------------------
@FAST
@given(product=products(), price=prices)
def test_buy_limit_price_rounds_down_onto_the_grid(product: Product, price: Decimal) -> None:
    # Act
    rounded = product.buy_limit_price(price)
    # Assert
    assert on_grid(rounded, product.price_increment)
    assert rounded <= price
    assert price - rounded < product.price_increment


@FAST
@given(product=products(), price=prices)
def test_sell_limit_and_stop_prices_round_up_onto_the_grid(
    product: Product, price: Decimal
) -> None:
    # Act
    sell, stop = product.sell_limit_price(price), product.stop_price(price)
    # Assert
    for rounded in (sell, stop):
        assert on_grid(rounded, product.price_increment)
        assert rounded >= price
        assert rounded - price < product.price_increment


@FAST
@given(product=products(), steps=st.integers(1, 10**8))
def test_prices_already_on_the_grid_are_kept(product: Product, steps: int) -> None:
    # Arrange
    price = product.price_increment * steps
    # Act / Assert
    assert product.buy_limit_price(price) == price
    assert product.sell_limit_price(price) == price
    assert product.stop_price(price) == price


# -- sizes ---------------------------------------------------------------------------------
@FAST
@given(product=products(), held=st.decimals(min_value=0, max_value=D(10**7), places=12))
def test_sell_size_never_exceeds_what_is_held(product: Product, held: Decimal) -> None:
    # Act
    size = product.sell_size(held)
    # Assert
    assert on_grid(size, product.base_increment)
    assert 0 <= size <= held
    assert held - size < product.base_increment


def assert_buy_size_is_maximal(
    product: Product, budget: Decimal, price: Decimal, fee_rate: Decimal
) -> None:
    """The size fits the budget with its fee, and one more increment would not."""
    size = product.buy_size(budget, price, fee_rate)
    bigger = size + product.base_increment
    assert size >= 0
    assert on_grid(size, product.base_increment)
    assert product.order_cost(price, size, fee_rate) <= budget
    assert exact_cost(price, size, fee_rate, product.quote_tick) <= budget
    assert product.order_cost(price, bigger, fee_rate) > budget
    assert exact_cost(price, bigger, fee_rate, product.quote_tick) > budget


def buy_price(product: Product) -> st.SearchStrategy[Decimal]:
    """Prices for which buy_size's step-down loop stays short.

    buy_size steps down one base increment at a time, up to a few × quote_tick / (price ×
    base_increment) times (slow for tiny prices), so that ratio is kept under 2000 here.
    """
    floor = max(D("0.00000001"), product.quote_tick / (product.base_increment * 1000))
    return st.decimals(min_value=floor, max_value=max(floor, D(10**5)), places=8)


@FAST
@given(product=products(), ticks=st.integers(0, 10**6), fee_rate=fee_rates, data=st.data())
def test_buy_size_spends_at_most_the_budget_and_is_maximal(
    product: Product, ticks: int, fee_rate: Decimal, data: st.DataObject
) -> None:
    # Arrange: a budget on the quote grid
    budget, price = product.quote_tick * ticks, data.draw(buy_price(product))
    # Act / Assert
    assert_buy_size_is_maximal(product, budget, price, fee_rate)


@FAST
@given(product=products(), budget=st.decimals(0, 10**5, places=10), data=st.data())
def test_buy_size_with_a_budget_off_the_quote_grid(
    product: Product, budget: Decimal, data: st.DataObject
) -> None:
    # Arrange
    price, fee_rate = data.draw(buy_price(product)), data.draw(fee_rates)
    # Act / Assert
    assert_buy_size_is_maximal(product, budget, price, fee_rate)


@FAST
@given(
    product=products(),
    price=prices,
    size=st.decimals(min_value=0, max_value=D(10**4), places=8),
    fee_rate=fee_rates,
)
def test_order_cost_is_the_exact_cost_rounded_up(
    product: Product, price: Decimal, size: Decimal, fee_rate: Decimal
) -> None:
    # Act
    cost = product.order_cost(price, size, fee_rate)
    # Assert
    assert cost == exact_cost(price, size, fee_rate, product.quote_tick)


def test_order_cost_of_huge_amounts_is_not_underestimated() -> None:
    # Arrange: the exact fee 199999999.99999400000000000004 needs 29 digits
    product = Product("BTC-USD", D("0.00000001"), D("0.00000001"), D(0))
    price, size, fee = D("999999.99999998"), D("999999.99999999"), D("0.0002")
    # Act
    cost = product.order_cost(price, size, fee)
    # Assert: 999999999999.97000001 + 199999999.99999401
    assert cost == D("1000199999999.96999402")


# -- checks --------------------------------------------------------------------------------
def expected_valid(product: Product, price: Decimal | None, size: Decimal) -> bool:
    """The exchange's rules, written out independently of Product.violations."""
    size_ok = (
        size > 0
        and on_grid(size, product.base_increment)
        and size >= product.base_min_size
        and (product.base_max_size is None or size <= product.base_max_size)
    )
    if price is None:
        return size_ok
    return (
        size_ok
        and price > 0
        and on_grid(price, product.price_increment)
        and price * size >= product.quote_min_size
    )


@st.composite
def order_shapes(draw: st.DrawFn) -> tuple[Product, Decimal | None, Decimal]:
    """A product with a price and size that are sometimes on the grid, sometimes not."""
    product = draw(products())
    on_price_grid = st.integers(-2, 10**6).map(lambda k: product.price_increment * k)
    on_size_grid = st.integers(-2, 10**6).map(lambda k: product.base_increment * k)
    edges = [product.base_min_size, product.base_max_size or product.base_min_size]
    near_edges = st.tuples(st.sampled_from(edges), st.integers(-2, 2)).map(
        lambda e: e[0] + product.base_increment * e[1]
    )
    price = draw(st.none() | on_price_grid | st.decimals(-1, 10**4, places=10))
    size = draw(on_size_grid | near_edges | st.decimals(-1, 10**4, places=10))
    if size > 0 and product.quote_min_size > 0 and draw(st.booleans()):
        # aim at the quote minimum: the grid prices just below and above it
        target = product.quote_min_size / size
        price = draw(
            st.sampled_from([product.buy_limit_price(target), product.sell_limit_price(target)])
        )
    return product, price, size


@settings(max_examples=300, deadline=None)
@given(shape=order_shapes())
def test_violations_is_empty_exactly_for_valid_orders(
    shape: tuple[Product, Decimal | None, Decimal],
) -> None:
    # Arrange
    product, price, size = shape
    # Act
    found = product.violations(price, size)
    # Assert
    assert (found == ()) is expected_valid(product, price, size), found


# -- the real low-price case ---------------------------------------------------------------
def test_ada_btc_buy_price_rounds_down_to_the_satoshi() -> None:
    # Arrange
    product = ada_btc()
    # Act / Assert
    assert product.buy_limit_price(D("0.000053295")) == D("0.00005329")
    assert product.buy_limit_price(D("0.00005329")) == D("0.00005329")


def test_ada_btc_sell_and_stop_prices_round_up_to_the_satoshi() -> None:
    # Arrange
    product = ada_btc()
    # Act / Assert
    assert product.sell_limit_price(D("0.000053291")) == D("0.00005330")
    assert product.stop_price(D("0.00005329") * D("0.98")) == D("0.00005223")  # 0.0000522242


def test_ada_btc_buy_size_fits_a_budget_with_fee() -> None:
    # Arrange
    product, price, fee = ada_btc(), D("0.00005329"), D("0.006")
    # Act
    size = product.buy_size(D("0.01"), price, fee)
    # Assert: 186 × 0.00005329 × 1.006 = 0.00997141164; 187 would cost 0.01002502138
    assert size == D(186)
    assert product.order_cost(price, size, fee) == D("0.00997142")
    assert product.order_cost(price, size + 1, fee) == D("0.01002503")
    assert product.violations(price, size) == ()


def test_ada_btc_order_below_the_quote_minimum_is_reported() -> None:
    # Arrange
    product = ada_btc()
    # Act
    found = product.violations(D("0.00005329"), D(1))
    # Assert
    assert len(found) == 1
    assert "below the minimum" in found[0]


def test_buy_size_is_zero_when_not_one_increment_fits() -> None:
    # Arrange
    product = ada_btc()
    # Act / Assert
    assert product.buy_size(D("0.00005"), D("0.00005329")) == 0


# -- what is refused -----------------------------------------------------------------------
@pytest.mark.parametrize("value", [0.00005329, 1.0, True])
def test_floats_and_bools_are_refused_as_money(value: object) -> None:
    # Arrange
    product = ada_btc()
    # Act / Assert
    with pytest.raises(MoneyError):
        to_decimal(value)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        product.buy_limit_price(value)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        product.buy_size(D("1"), value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", "nan", "1e", ""])
def test_nan_infinity_and_garbage_are_refused(value: str) -> None:
    # Act / Assert
    with pytest.raises(MoneyError):
        to_decimal(value)
    with pytest.raises(MoneyError):
        to_decimal(D(value) if value not in ("1e", "") else value)
    with pytest.raises(MoneyError):
        Product("ADA-BTC", D("1"), value, D("1"))  # type: ignore[arg-type]


@pytest.mark.parametrize("product_id", ["ADABTC", "-BTC", "ADA-", "ADA-BTC-X", "", "-"])
def test_bad_product_ids_are_refused(product_id: str) -> None:
    # Act / Assert
    with pytest.raises(MoneyError):
        Product(product_id, D("1"), D("0.00000001"), D("1"))


@pytest.mark.parametrize(
    "fields",
    [
        {"base_increment": D(0)},
        {"price_increment": D("-0.01")},
        {"base_increment": 0.1},
        {"quote_increment": D(0)},
        {"base_min_size": D(-1)},
        {"quote_min_size": D(-1)},
        {"base_max_size": D("0.5")},
    ],
)
def test_bad_product_definitions_are_refused(fields: dict[str, object]) -> None:
    # Arrange
    spec: dict[str, object] = {
        "base_increment": D("1"),
        "price_increment": D("0.00000001"),
        "base_min_size": D("1"),
    }
    spec.update(fields)
    # Act / Assert
    with pytest.raises(MoneyError):
        Product("ADA-BTC", **spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("price", [D(0), D("-0.00000001")])
def test_prices_must_be_positive(price: Decimal) -> None:
    # Arrange
    product = ada_btc()
    # Act / Assert
    for rounding in (product.buy_limit_price, product.sell_limit_price, product.stop_price):
        with pytest.raises(MoneyError):
            rounding(price)
    with pytest.raises(MoneyError):
        product.buy_size(D("1"), price)


def test_negative_sizes_budgets_and_fee_rates_are_refused() -> None:
    # Arrange
    product = ada_btc()
    # Act / Assert
    with pytest.raises(MoneyError):
        product.sell_size(D(-1))
    with pytest.raises(MoneyError):
        product.buy_size(D(-1), D("0.00005329"))
    with pytest.raises(MoneyError):
        product.order_cost(D("0.00005329"), D(1), D("-0.001"))


# -- the grid functions themselves -----------------------------------------------------------
GRID_INCREMENTS = [*INCREMENTS, D("0.010"), D("1.0"), D("1E+2"), D("0.25")]


@FAST
@given(
    value=st.decimals(min_value=-(10**9), max_value=10**9, places=14, allow_nan=False),
    increment=st.sampled_from(GRID_INCREMENTS),
)
def test_floor_to_and_ceil_to_are_the_nearest_multiples_written_like_the_increment(
    value: Decimal, increment: Decimal
) -> None:
    # a power of ten rounds by one quantize; the others by dividing: both must agree with this
    with localcontext() as ctx:
        ctx.prec = 100
        below = (value / increment).to_integral_value(rounding="ROUND_FLOOR") * increment
        above = (value / increment).to_integral_value(rounding="ROUND_CEILING") * increment
    for got, want in ((floor_to(value, increment), below), (ceil_to(value, increment), above)):
        assert got == want
        assert got.as_tuple().exponent == increment.as_tuple().exponent  # 0.010 keeps 3 places


def test_an_increment_equal_to_a_power_of_ten_but_written_longer_is_not_taken_for_one() -> None:
    # 0.01 and 0.010 are equal (and hash alike): whichever is seen first must not decide both
    assert floor_to(D("1.23456"), D("0.01")) == D("1.23")
    assert str(floor_to(D("1.23456"), D("0.010"))) == "1.230"
    assert str(ceil_to(D("1.23456"), D("0.010"))) == "1.240"
    assert str(ceil_to(D("1.23456"), D("0.01"))) == "1.24"
