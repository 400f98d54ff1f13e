"""Candle replays: a candle's price path as legs, a multi-product replay loop, synthetic candles.

A candle is replayed as four legs, on the path of :func:`~ratchet.domain.candles.ticks_from_candle`:
open, then the extreme nearer to the open (a tie goes to the low), then the other extreme, then
the close. The open leg is a gap from the previous close; the other three are continuous. The
candle's volume is split equally over the four legs (the last one takes the remainder).

A product's legs can be *shifted* by a phase within the leg interval (:func:`stagger_shifts`):
on a real exchange products trade independently, not all at the same instants. Recorded-candle
replays are never shifted, so their market times stay those of ``ticks_from_candle`` (a paper
replay trades exactly like the backtester).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from ratchet.domain.candles import CANDLE_SECONDS, TICK_OFFSETS, Candle, CandleError
from ratchet.domain.money import Product, floor_to, to_decimal
from ratchet.sim.matching import MatchingEngine
from ratchet.sim.records import SimFill

LEG_OFFSETS = TICK_OFFSETS
"""Seconds after the candle's start at which its four legs end (as ``ticks_from_candle``)."""

_LEGS = len(LEG_OFFSETS)
LEG_SPACING = LEG_OFFSETS[1] - LEG_OFFSETS[0]
"""Seconds between two legs of a candle; a shift stays below it (legs keep their order)."""


@dataclass(frozen=True, slots=True)
class Leg:
    """The market moving to ``price`` at ``time`` with ``volume`` base units traded on the way.

    ``gap`` marks a jump (nothing traded between the previous price and this one).
    """

    product_id: str
    time: float
    price: Decimal
    volume: Decimal
    gap: bool


class ReplayStep(NamedTuple):
    """One applied leg and the fills it produced."""

    product_id: str
    leg: Leg
    fills: list[SimFill]


def candle_path(candle: Candle, product_id: str, shift: float = 0.0) -> list[Leg]:
    """The four legs of ``candle``: open (a gap), nearer extreme, farther extreme, close.

    ``shift`` (seconds, ``0 <= shift < LEG_SPACING``) moves every leg that much later; the
    legs stay inside the candle and in their order.
    """
    if not 0.0 <= shift < LEG_SPACING:
        raise ValueError(f"a leg shift must be in [0, {LEG_SPACING}) s, got {shift}")
    low_first = candle.open - candle.low <= candle.high - candle.open
    middle = (candle.low, candle.high) if low_first else (candle.high, candle.low)
    prices = (candle.open, *middle, candle.close)
    quarter = candle.volume / _LEGS
    volumes = [quarter] * (_LEGS - 1) + [candle.volume - quarter * (_LEGS - 1)]
    return [
        Leg(product_id, candle.start + offset + shift, price, volume, gap=index == 0)
        for index, (offset, price, volume) in enumerate(
            zip(LEG_OFFSETS, prices, volumes, strict=True)
        )
    ]


def stagger_shifts(product_ids: Iterable[str], seed: int) -> dict[str, float]:
    """A seeded phase per product in ``[0, LEG_SPACING)`` seconds, to whole milliseconds.

    Each product's phase depends only on the seed and its own id (adding a product does not
    move the others); the same arguments give the same phases.
    """
    return {
        pid: min(
            round(random.Random(f"stagger:{seed}:{pid}").random() * LEG_SPACING, 3),
            LEG_SPACING - 0.001,
        )
        for pid in product_ids
    }


class CandleReplay:
    """Replays candles of several products through a :class:`MatchingEngine`, in time order.

    Iterating applies each leg (legs of different products at the same time go in the order
    of ``candles_by_product``): first ``engine.expire(time)``, then ``engine.market_move``, and
    yields a :class:`ReplayStep` per leg. Each product's candles must be oldest first.
    """

    def __init__(
        self, engine: MatchingEngine, candles_by_product: Mapping[str, Iterable[Candle]]
    ) -> None:
        self._engine = engine
        self._candles = dict(candles_by_product)

    def __iter__(self) -> Iterator[ReplayStep]:
        streams = [_legs(pid, candles) for pid, candles in self._candles.items()]
        for leg in heapq.merge(*streams, key=lambda leg: leg.time):
            self._engine.expire(leg.time)
            fills = self._engine.market_move(
                leg.product_id, leg.price, leg.volume, leg.time, gap=leg.gap
            )
            yield ReplayStep(leg.product_id, leg, fills)


def _legs(product_id: str, candles: Iterable[Candle]) -> Iterator[Leg]:
    previous: int | None = None
    for candle in candles:
        if previous is not None and candle.start <= previous:
            raise CandleError(
                f"{product_id}: candles must be oldest first without repeats "
                f"({candle.start} after {previous})"
            )
        previous = candle.start
        yield from candle_path(candle, product_id)


def synthetic_candles(
    product: Product,
    start: int,
    count: int,
    *,
    seed: int,
    start_price: Decimal,
    volatility_pct: Decimal,
    gap_probability: float = 0.05,
) -> list[Candle]:
    """``count`` 5-minute candles of a seeded random walk on the product's price grid.

    Each candle's close moves from its open by a normal step of ``volatility_pct`` percent (in
    whole price increments, never below one increment); highs and lows reach beyond the body;
    the next candle opens at the close, except with ``gap_probability`` when it jumps. Volumes
    are whole multiples of the product's minimum size. The same arguments give the same candles.
    """
    if start % CANDLE_SECONDS:
        raise CandleError(f"start {start} is not aligned to {CANDLE_SECONDS} s")
    rng = random.Random(seed)
    tick = product.price_increment
    vol = to_decimal(volatility_pct, "volatility_pct") / 100
    unit = max(product.base_min_size, product.base_increment)
    close = max(1, int(floor_to(to_decimal(start_price, "start_price"), tick) / tick))
    candles: list[Candle] = []
    for index in range(count):
        sigma = max(1.0, float(close * vol))  # a random draw's width, in ticks (not money)
        open_ = close
        if index and rng.random() < gap_probability:
            open_ = max(1, open_ + round(rng.gauss(0, 2 * sigma)))
        close = max(1, open_ + round(rng.gauss(0, sigma)))
        high = max(open_, close) + abs(round(rng.gauss(0, sigma / 2)))
        low = max(1, min(open_, close) - abs(round(rng.gauss(0, sigma / 2))))
        candles.append(
            Candle(
                start=start + index * CANDLE_SECONDS,
                open=open_ * tick,
                high=high * tick,
                low=low * tick,
                close=close * tick,
                volume=unit * rng.randint(100, 10_000),
            )
        )
    return candles
