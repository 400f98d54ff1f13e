"""Staggered replays: synthetic pairs move at their own seeded phase; recorded ones do not."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest

from ratchet.domain.candles import CANDLE_SECONDS, TICK_OFFSETS, Candle
from ratchet.sim.replay import LEG_OFFSETS, LEG_SPACING, candle_path, stagger_shifts
from ratchet.sim.server import SimServer, SimSettings

D = Decimal
START = 1_767_225_600


def flat_candles(count: int) -> list[Candle]:
    return [
        Candle(START + i * CANDLE_SECONDS, D(100), D(101), D(99), D(100), D(10))
        for i in range(count)
    ]


def test_the_leg_offsets_are_those_of_the_backtester() -> None:
    assert LEG_OFFSETS == TICK_OFFSETS == (0, 75, 150, 225)
    assert LEG_SPACING == 75


def test_phases_are_seeded_per_product_and_inside_the_leg_interval() -> None:
    pairs = [f"P{i:03d}-USD" for i in range(200)]

    shifts = stagger_shifts(pairs, seed=3)

    assert shifts == stagger_shifts(reversed(pairs), seed=3)  # order does not matter
    assert shifts != stagger_shifts(pairs, seed=4)
    assert stagger_shifts(pairs[:10], seed=3) == {p: shifts[p] for p in pairs[:10]}
    assert all(0 <= s < LEG_SPACING for s in shifts.values())
    assert len(set(shifts.values())) > 150  # spread, not lumped


def test_a_shifted_path_keeps_its_legs_in_order_inside_the_candle() -> None:
    [bar] = flat_candles(1)

    plain, shifted = candle_path(bar, "X-Y"), candle_path(bar, "X-Y", 74.999)

    assert [leg.time - START for leg in plain] == list(LEG_OFFSETS)
    assert [b.time - a.time for a, b in zip(plain, shifted, strict=True)] == pytest.approx(
        [74.999] * 4
    )
    assert [leg.price for leg in shifted] == [leg.price for leg in plain]
    assert all(START <= leg.time < START + CANDLE_SECONDS for leg in shifted)
    assert all(a.time < b.time for a, b in pairwise(shifted))


@pytest.mark.parametrize("shift", [-0.001, LEG_SPACING])
def test_a_shift_outside_the_leg_interval_is_refused(shift: float) -> None:
    with pytest.raises(ValueError, match="leg shift"):
        candle_path(flat_candles(1)[0], "X-Y", shift)


def test_the_simulator_staggers_only_the_products_it_is_told_to() -> None:
    # Arrange
    series = {"A-USD": flat_candles(3), "B-USD": flat_candles(3), "REC-USD": flat_candles(3)}
    settings = SimSettings(speed=0, seed=7, stagger=frozenset({"A-USD", "B-USD"}))
    shifts = stagger_shifts(["A-USD", "B-USD"], seed=7)

    # Act
    sim = SimServer(series, settings)
    legs = {pid: [leg.time for leg in sim._legs if leg.product_id == pid] for pid in series}
    clock = []
    while sim.step(1):
        clock.append(sim.sim_now)

    # Assert: each product's legs at its candles' offsets plus its own phase (none for REC)
    for pid, shift in {**shifts, "REC-USD": 0.0}.items():
        expected = [
            START + i * CANDLE_SECONDS + offset + shift for i in range(3) for offset in LEG_OFFSETS
        ]
        assert legs[pid] == expected, pid
    assert clock == sorted(time for times in legs.values() for time in times)
