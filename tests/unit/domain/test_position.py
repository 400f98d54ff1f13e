"""Positions: no stop or exit before the entry fills, a stop that only ratchets up, exact P&L."""

from __future__ import annotations

import copy
import itertools
from dataclasses import fields
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.domain.money import Product
from ratchet.domain.order_events import Fill
from ratchet.domain.position import (
    Position,
    PositionError,
    PositionStatus,
    TrailPolicy,
    next_stop,
    trail_level,
)

D = Decimal
INCREMENTS = sorted({D(m).scaleb(-e) for e in range(9) for m in (1, 2, 5) if D(m).scaleb(-e) <= 1})
FAST = settings(max_examples=150, deadline=None)


# -- helpers and strategies ------------------------------------------------------------------
def ada_btc() -> Product:
    """An ADA-BTC-like product: whole-coin sizes, satoshi prices."""
    return Product("ADA-BTC", D("1"), D("0.00000001"), D("1"))


def open_position(price: str = "0.00005329", size: str = "1000", trail: str = "2") -> Position:
    """An ADA-BTC position whose entry filled at ``price`` and is done."""
    position = Position("ADA-BTC#000001", ada_btc(), TrailPolicy(D(trail), D("0.5")))
    position.on_entry_fill(Fill("e1", D(price), D(size)))
    position.on_entry_done()
    return position


def snapshot(position: Position) -> dict[str, Any]:
    """Every field of the position, to prove that a refused event changed nothing."""
    return {f.name: copy.deepcopy(getattr(position, f.name)) for f in fields(position)}


def on_grid(value: Decimal, increment: Decimal) -> bool:
    """True when ``value`` is an exact multiple of ``increment``."""
    return value % increment == 0


def min_step(position: Position, current: Decimal) -> Decimal:
    """The smallest stop move the position's policy allows from ``current``."""
    step = current * position.policy.min_step_pct / 100
    return max(position.product.price_increment, step)


policies = st.builds(
    TrailPolicy,
    trail_pct=st.decimals(min_value=D("0.01"), max_value=D("49.99"), places=2),
    min_step_pct=st.decimals(min_value=0, max_value=5, places=2),
)


@st.composite
def products(draw: st.DrawFn) -> Product:
    """A product with increments between 1e-8 and 1."""
    base = draw(st.sampled_from(INCREMENTS))
    price = draw(st.sampled_from(INCREMENTS))
    return Product("ETH-BTC", base, price, base)


@st.composite
def entry_fills(draw: st.DrawFn, product: Product) -> list[Fill]:
    """One to three fills of the entry, at prices on the product's grid."""
    return [
        Fill(
            f"e{n}",
            product.price_increment * draw(st.integers(1, 10**6)),
            product.base_increment * draw(st.integers(1, 10**4)),
            draw(st.decimals(0, D("0.01"), places=8)),
        )
        for n in range(draw(st.integers(1, 3)))
    ]


ticks = st.integers(1, 2 * 10**6)
path_steps = st.one_of(
    st.tuples(st.just("price"), ticks),
    st.tuples(st.just("nudge"), st.integers(-3, 6)),  # a few ticks around the high
    st.tuples(st.just("nudge"), st.integers(0, 3)),
    st.tuples(st.just("restore"), ticks),
    st.tuples(st.just("policy"), policies),
)


# -- the stop ratchets up --------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(product=products(), policy=policies, data=st.data())
def test_stop_never_decreases_along_any_price_path(
    product: Product, policy: TrailPolicy, data: st.DataObject
) -> None:
    # Arrange: prices before the fill do not count
    position = Position("ETH-BTC#000001", product, policy)
    for tick in data.draw(st.lists(ticks, max_size=3), label="before fill"):
        assert position.on_price(product.price_increment * tick) is None
    assert position.stop is None
    seen: list[Decimal] = []
    for entry in data.draw(entry_fills(product), label="entry fills"):
        position.on_entry_fill(entry)
        seen.append(entry.price)
        for tick in data.draw(st.lists(ticks, max_size=2), label="while pending"):
            seen.append(product.price_increment * tick)
            assert position.on_price(seen[-1]) is None  # no stop while the entry is pending
            assert position.stop is None
    # Act
    first = position.on_entry_done()
    # Assert
    high = max(seen)
    assert position.high_water == high
    assert first == position.stop == trail_level(high, policy, product)
    assert first is not None
    assert on_grid(first, product.price_increment)
    assert first <= high
    for step in data.draw(st.lists(path_steps, max_size=30), label="path"):
        current = position.stop
        assert current is not None
        if step[0] in ("price", "nudge"):
            price = product.price_increment * step[1]
            if step[0] == "nudge":
                price = max(product.price_increment, position.high_water + price)
            moved = position.on_price(price)
            level = trail_level(position.high_water, position.policy, product)
            if moved is None:
                assert position.stop == current
                assert level - current < min_step(position, current)  # no move was missed
            else:
                assert moved == position.stop == level
                assert moved - current >= min_step(position, current)
        elif step[0] == "restore":
            recorded = product.price_increment * step[1]
            position.restore_stop(recorded)
            assert position.stop == max(current, recorded)
        else:
            position.change_policy(step[1])
            assert position.stop == current
        assert position.stop >= current
        assert on_grid(position.stop, product.price_increment)


@FAST
@given(product=products(), policy=policies, current=ticks, high=ticks)
def test_next_stop_moves_up_by_a_minimum_step_or_not_at_all(
    product: Product, policy: TrailPolicy, current: int, high: int
) -> None:
    # Arrange
    stop, high_water = product.price_increment * current, product.price_increment * high
    step = max(product.price_increment, stop * policy.min_step_pct / 100)
    # Act
    moved = next_stop(stop, high_water, policy, product)
    # Assert
    level = trail_level(high_water, policy, product)
    if moved is None:
        assert level - stop < step
    else:
        assert moved == level
        assert moved - stop >= step


# -- nothing before the entry fills ----------------------------------------------------------
@FAST
@given(product=products(), policy=policies, path=st.lists(ticks, max_size=10))
def test_no_stop_and_no_exit_before_an_entry_fill(
    product: Product, policy: TrailPolicy, path: list[int]
) -> None:
    # Arrange
    position = Position("ETH-BTC#000001", product, policy)
    exit_fill = Fill("x1", product.price_increment, product.base_increment)
    # Act / Assert
    for tick in path:
        assert position.on_price(product.price_increment * tick) is None
    before = snapshot(position)
    with pytest.raises(PositionError):
        position.on_exit_fill(exit_fill)
    with pytest.raises(PositionError):
        position.begin_exit()
    with pytest.raises(PositionError):
        position.restore_stop(product.price_increment)
    assert snapshot(position) == before
    assert position.stop is None
    assert position.high_water is None


def test_entry_done_without_a_fill_cancels_the_position() -> None:
    # Arrange
    position = Position("ADA-BTC#000001", ada_btc(), TrailPolicy(D("2")))
    # Act
    stop = position.on_entry_done()
    # Assert
    assert stop is None
    assert position.status is PositionStatus.CANCELLED
    assert position.status.is_final
    assert position.on_price(D("0.00006")) is None
    assert position.stop is None
    with pytest.raises(PositionError):
        position.on_entry_fill(Fill("e1", D("0.00005329"), D(1)))
    with pytest.raises(PositionError):
        position.on_exit_fill(Fill("x1", D("0.00005329"), D(1)))


def test_first_stop_trails_the_highest_entry_price_rounded_up() -> None:
    # Arrange
    position = Position("ADA-BTC#000001", ada_btc(), TrailPolicy(D("2")))
    position.on_entry_fill(Fill("e1", D("0.00005300"), D(400)))
    position.on_entry_fill(Fill("e2", D("0.00005329"), D(600)))
    # Act
    stop = position.on_entry_done()
    # Assert: 0.00005329 × 0.98 = 0.0000522242
    assert stop == D("0.00005223")
    assert position.quantity == D(1000)


def test_stop_moves_only_when_the_trail_rises_by_the_minimum_step() -> None:
    # Arrange: stop 0.00005223, min step 0.5 % of it = 0.00000026115
    position = open_position()
    # Act
    small = position.on_price(D("0.00005350"))  # trail 0.000052430: up 0.00000020
    big = position.on_price(D("0.00005360"))  # trail 0.0000525280 -> 0.00005253: up 0.00000030
    # Assert
    assert small is None
    assert big == D("0.00005253")
    assert position.stop == D("0.00005253")


def test_a_move_of_exactly_the_minimum_step_is_made() -> None:
    # Arrange: no percentage step, so one price increment is the minimum move
    position = open_position()
    position.change_policy(TrailPolicy(D("2"), min_step_pct=D(0)))
    # Act
    moved = position.on_price(D("0.00005330"))  # trail 0.000052234 -> 0.00005224
    # Assert
    assert moved == D("0.00005224")


def test_restore_stop_never_lowers_the_stop() -> None:
    # Arrange
    position = open_position()
    # Act
    position.restore_stop(D("0.00005000"))
    lowered = position.stop
    position.restore_stop(D("0.00005250"))
    # Assert
    assert lowered == D("0.00005223")
    assert position.stop == D("0.00005250")


def test_a_wider_trail_keeps_the_current_stop() -> None:
    # Arrange
    position = open_position()
    # Act
    position.change_policy(TrailPolicy(D("10")))
    moved = position.on_price(D("0.00005400"))  # 10 % trail: 0.0000486, below the stop
    # Assert
    assert moved is None
    assert position.stop == D("0.00005223")


def test_the_stop_stays_put_while_exiting() -> None:
    # Arrange
    position = open_position()
    position.begin_exit()
    # Act
    moved = position.on_price(D("0.00009000"))
    # Assert
    assert moved is None
    assert position.stop == D("0.00005223")
    assert position.high_water == D("0.00009000")


def test_restore_stop_refuses_floats() -> None:
    # Arrange
    position = open_position()
    # Act / Assert
    with pytest.raises(ValueError):
        position.restore_stop(0.5)  # type: ignore[arg-type]


def test_restored_stop_lands_on_the_price_grid() -> None:
    # Arrange
    position = open_position()
    # Act
    position.restore_stop(D("0.000052505"))
    # Assert
    assert position.stop is not None
    assert on_grid(position.stop, D("0.00000001"))


# -- realised and unrealised P&L -------------------------------------------------------------
def cuts(total: int) -> st.SearchStrategy[list[int]]:
    """Sizes (in increments) of exit fills that add up to ``total``."""
    inner = (
        st.lists(st.integers(1, total - 1), unique=True, max_size=5) if total > 1 else st.just([])
    )

    def sizes(points: list[int]) -> list[int]:
        edges = [0, *sorted(points), total]
        return [b - a for a, b in itertools.pairwise(edges)]

    return inner.map(sizes)


@settings(max_examples=200, deadline=None)
@given(product=products(), policy=policies, data=st.data())
def test_realised_pnl_on_close_is_exact(
    product: Product, policy: TrailPolicy, data: st.DataObject
) -> None:
    # Arrange
    position = Position("ETH-BTC#000001", product, policy)
    entries = data.draw(entry_fills(product), label="entries")
    for entry in entries:
        position.on_entry_fill(entry)
    position.on_entry_done()
    lots = int(position.quantity / product.base_increment)
    exits = [
        Fill(
            f"x{n}",
            product.price_increment * data.draw(ticks, label="exit price"),
            product.base_increment * size,
            data.draw(st.decimals(0, D("0.01"), places=8), label="exit fee"),
        )
        for n, size in enumerate(data.draw(cuts(lots), label="exit sizes"))
    ]
    # Act
    for n, exit_fill in enumerate(exits):
        too_big = Fill("big", exit_fill.price, position.quantity + product.base_increment)
        before = snapshot(position)
        with pytest.raises(PositionError):
            position.on_exit_fill(too_big)
        assert snapshot(position) == before
        position.on_exit_fill(exit_fill)
        if n < len(exits) - 1:
            assert position.status is PositionStatus.EXITING
    # Assert
    with localcontext() as ctx:
        ctx.prec = 100
        expected = (
            sum(f.price * f.size - f.fee for f in exits)
            - sum(f.price * f.size for f in entries)
            - sum(f.fee for f in entries)
        )
    assert position.status is PositionStatus.CLOSED
    assert position.quantity == 0
    assert position.realized_pnl == expected
    assert position.realized_pnl == (
        position.exit_value - position.exit_fees - position.entry_value - position.entry_fees
    )
    with pytest.raises(PositionError):
        position.on_exit_fill(exits[-1])


def test_partial_exits_then_close_give_exact_pnl() -> None:
    # Arrange: 1000 ADA bought at 0.00005329 with a 0.00000032 BTC fee
    position = Position("ADA-BTC#000001", ada_btc(), TrailPolicy(D("2")))
    position.on_entry_fill(Fill("e1", D("0.00005329"), D(1000), D("0.00000032")))
    position.on_entry_done()
    # Act
    position.on_exit_fill(Fill("x1", D("0.00005400"), D(300), D("0.00000010")))
    status_after_part = position.status
    position.on_exit_fill(Fill("x2", D("0.00005300"), D(700), D("0.00000022")))
    # Assert: 0.0162 + 0.0371 - 0.00000032 - 0.05329 - 0.00000032
    assert status_after_part is PositionStatus.EXITING
    assert position.status is PositionStatus.CLOSED
    assert position.realized_pnl == D("0.00000936")


def test_exit_larger_than_the_holding_is_refused() -> None:
    # Arrange
    position = open_position(size="1000")
    before = snapshot(position)
    # Act / Assert
    with pytest.raises(PositionError, match="only 1000 held"):
        position.on_exit_fill(Fill("x1", D("0.00005400"), D(1001)))
    assert snapshot(position) == before


@FAST
@given(product=products(), policy=policies, data=st.data())
def test_unrealised_pnl_is_held_value_minus_entry_cost(
    product: Product, policy: TrailPolicy, data: st.DataObject
) -> None:
    # Arrange
    position = Position("ETH-BTC#000001", product, policy)
    assert position.unrealized_pnl(product.price_increment) == 0
    for entry in data.draw(entry_fills(product), label="entries"):
        position.on_entry_fill(entry)
    position.on_entry_done()
    low, high = sorted(product.price_increment * data.draw(ticks) for _ in range(2))
    cost = position.entry_value + position.entry_fees
    # Act
    at_low, at_high = position.unrealized_pnl(low), position.unrealized_pnl(high)
    # Assert
    assert at_low == position.quantity * low - cost
    assert at_high - at_low == position.quantity * (high - low)


def test_unrealised_pnl_at_the_entry_price_is_minus_the_fees() -> None:
    # Arrange
    position = Position("ADA-BTC#000001", ada_btc(), TrailPolicy(D("2")))
    position.on_entry_fill(Fill("e1", D("0.00005329"), D(1000), D("0.00000032")))
    position.on_entry_done()
    # Act / Assert
    assert position.unrealized_pnl(D("0.00005329")) == D("-0.00000032")
    assert position.entry_price == D("0.00005329")


@pytest.mark.parametrize(("trail", "step"), [("0", "0.1"), ("50", "0.1"), ("2", "-1")])
def test_bad_trail_policies_are_refused(trail: str, step: str) -> None:
    # Act / Assert
    with pytest.raises(PositionError):
        TrailPolicy(D(trail), D(step))
