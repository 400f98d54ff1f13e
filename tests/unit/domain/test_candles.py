"""Candle values, UTC bucketing and the tick-to-candle builder (real replays and properties)."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.domain.candles import (
    CANDLE_SECONDS,
    Candle,
    CandleBuilder,
    CandleError,
    Tick,
    bucket_start,
    candles_from_ticks,
    ticks_from_candle,
)

DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "candles"
PAIRS = ("ADA-BTC", "DASH-BTC", "ETH-BTC", "LTC-BTC", "TRX-BTC", "XLM-BTC")
FIELDS = ("open", "high", "low", "close", "volume")
BASE = 1_515_560_100  # first candle of the real data: 2018-01-10 04:55 UTC


@cache
def _load(pair: str) -> tuple[Candle, ...]:
    path = DATA_DIR / f"{pair}-5m.csv"
    if not path.is_file():
        pytest.skip(f"real candle data not found at {path} (shared test data absent)")
    with path.open(newline="") as handle:
        return tuple(
            Candle(int(row["start"]), *(Decimal(row[name]) for name in FIELDS))
            for row in csv.DictReader(handle)
        )


# -- real replays ----------------------------------------------------------------------------


@pytest.mark.parametrize("low_first", [True, False], ids=["low-first", "high-first"])
@pytest.mark.parametrize("pair", PAIRS)
def test_builder_reproduces_recorded_candles_from_their_ticks(pair: str, low_first: bool) -> None:
    # Arrange
    recorded = _load(pair)
    ticks = [tick for candle in recorded for tick in ticks_from_candle(candle, low_first)]
    # Act
    rebuilt = candles_from_ticks(ticks)
    # Assert: same candles, same gaps, and the very same decimal digits
    assert [c.start for c in rebuilt] == [c.start for c in recorded]
    assert rebuilt == list(recorded)
    assert [tuple(map(str, (c.open, c.high, c.low, c.close, c.volume))) for c in rebuilt] == [
        tuple(map(str, (c.open, c.high, c.low, c.close, c.volume))) for c in recorded
    ]


def test_real_data_has_gaps_that_stay_gaps() -> None:
    # Arrange
    recorded = _load("ADA-BTC")
    ticks = [tick for candle in recorded for tick in ticks_from_candle(candle)]
    # Act
    starts = [candle.start for candle in candles_from_ticks(ticks)]
    # Assert
    steps = {b - a for a, b in pairwise(starts)}
    assert CANDLE_SECONDS in steps and max(steps) > CANDLE_SECONDS


# -- tick streams for the properties ---------------------------------------------------------


@st.composite
def tick_streams(draw: st.DrawFn) -> list[Tick]:
    """Ticks in time order, in bursts around bucket boundaries; unique (time, sequence).

    Each burst is within ±3 s of a boundary, so delivery within the lateness can reorder ticks of
    neighbouring buckets; a jump of 2 or 3 buckets between bursts leaves empty buckets (gaps).
    """
    bursts = st.tuples(
        st.integers(1, 3), st.lists(st.integers(-30, 30), min_size=2, max_size=8)
    )  # (buckets to the next boundary, tick offsets in tenths of a second)
    boundary, times = 1, []
    for jump, offsets in draw(st.lists(bursts, min_size=1, max_size=10)):
        boundary += jump
        times += sorted(boundary * CANDLE_SECONDS * 10 + offset for offset in offsets)
    ticks = []
    for index, tenths in enumerate(times):
        ticks.append(
            Tick(
                time=Decimal(BASE) + Decimal(tenths).scaleb(-1),
                price=Decimal(draw(st.integers(1, 10_000))).scaleb(-8),
                size=Decimal(draw(st.integers(0, 10**6))).scaleb(-4),
                trade_id=f"t{index}",
                sequence=index,
            )
        )
    return ticks


def _reference_candles(ticks: list[Tick]) -> list[Candle]:
    """The definition: per aligned bucket, earliest/latest tick, extremes and summed size."""
    buckets: dict[int, list[Tick]] = defaultdict(list)
    for tick in {tick.trade_id: tick for tick in ticks}.values():
        buckets[bucket_start(int(tick.time))].append(tick)
    candles = []
    for start in sorted(buckets):
        group = sorted(buckets[start], key=lambda t: (t.time, t.sequence))
        prices = [t.price for t in group]
        volume = sum((t.size for t in group), Decimal(0))
        candles.append(Candle(start, prices[0], max(prices), min(prices), prices[-1], volume))
    return candles


def _late_order(ticks: list[Tick], delays: list[int]) -> list[Tick]:
    """Deliver each tick ``delay`` tenths of a second late (stable for ties)."""
    keyed = sorted(zip(ticks, delays, strict=True), key=lambda p: p[0].time + p[1] / Decimal(10))
    return [tick for tick, _ in keyed]


def _run(builder: CandleBuilder, ticks: list[Tick]) -> list[Candle]:
    out = [candle for tick in ticks for candle in builder.add(tick)]
    return out + builder.flush()


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(ticks=tick_streams())
def test_in_order_ticks_give_the_reference_candles(ticks: list[Tick]) -> None:
    candles = candles_from_ticks(ticks)
    assert candles == _reference_candles(ticks)
    assert all(c.start % CANDLE_SECONDS == 0 for c in candles)


@settings(max_examples=150, deadline=None)
@given(ticks=tick_streams(), lateness=st.integers(1, 5), data=st.data())
def test_ticks_shuffled_within_lateness_give_the_same_candles(
    ticks: list[Tick], lateness: int, data: st.DataObject
) -> None:
    # Arrange: no tick arrives after one more than ``lateness`` seconds newer than itself
    delays = data.draw(
        st.lists(st.integers(0, 10 * lateness), min_size=len(ticks), max_size=len(ticks))
    )
    shuffled = _late_order(ticks, delays)
    builder = CandleBuilder(allowed_lateness=lateness)
    # Act
    candles = _run(builder, shuffled)
    # Assert
    assert candles == _reference_candles(ticks)
    assert builder.stats.late_ticks == 0 and builder.stats.duplicate_ticks == 0


@settings(max_examples=150, deadline=None)
@given(ticks=tick_streams(), lateness=st.integers(0, 5), data=st.data())
def test_duplicated_ticks_are_counted_and_ignored(
    ticks: list[Tick], lateness: int, data: st.DataObject
) -> None:
    # Arrange: some ticks are delivered twice (same trade id), each copy on its own delay
    copies = data.draw(st.lists(st.sampled_from(ticks), max_size=20))
    stream = ticks + copies
    delays = data.draw(
        st.lists(st.integers(0, 10 * lateness), min_size=len(stream), max_size=len(stream))
    )
    builder = CandleBuilder(allowed_lateness=lateness)
    # Act
    candles = _run(builder, _late_order(stream, delays))
    # Assert
    assert candles == _reference_candles(ticks)
    assert builder.stats.duplicate_ticks == len(copies)
    assert builder.stats.late_ticks == 0


@settings(max_examples=150, deadline=None)
@given(ticks=tick_streams(), data=st.data())
def test_tick_for_already_closed_candle_is_late_and_changes_nothing(
    ticks: list[Tick], data: st.DataObject
) -> None:
    # Arrange: deliver a prefix, then a tick into the bucket of a candle already emitted
    cut = data.draw(st.integers(1, len(ticks)))
    builder = CandleBuilder()
    emitted = [candle for tick in ticks[:cut] for candle in builder.add(tick)]
    if not emitted:  # nothing closed yet: deliver everything and close it all
        emitted = [candle for tick in ticks[cut:] for candle in builder.add(tick)]
        emitted, cut = emitted + builder.flush(), len(ticks)
    closed = data.draw(st.sampled_from(emitted))
    late = Tick(
        time=Decimal(closed.start + data.draw(st.integers(0, CANDLE_SECONDS - 1))),
        price=closed.high * 2,
        size=Decimal(7),
        trade_id="late",
    )
    # Act
    returned = builder.add(late)
    rest = _run(builder, ticks[cut:])
    # Assert
    assert returned == []
    assert builder.stats.late_ticks == 1
    assert emitted + rest == _reference_candles(ticks)


def test_tick_for_already_closed_empty_bucket_is_late() -> None:
    # Arrange: the watermark passes 00:15; buckets 00:05 and 00:10 closed empty (gaps)
    builder = CandleBuilder(allowed_lateness=2)
    builder.add(Tick(Decimal(BASE + 10), Decimal(1), Decimal(1), "a"))
    assert len(builder.advance(BASE + 1_000)) == 1
    # Act: a tick 700 s behind the watermark, far beyond the 2 s allowed lateness
    returned = builder.add(Tick(Decimal(BASE + 300), Decimal(2), Decimal(1), "b"))
    # Assert
    assert returned == []
    assert builder.stats.late_ticks == 1


@settings(max_examples=200, deadline=None)
@given(
    bucket=st.integers(0, 10_000),
    offset=st.integers(0, 2_999),
    lateness=st.integers(0, 60),
    before=st.sampled_from(["1", "0.001", "0.000001"]),
)
def test_advance_closes_exactly_at_bucket_end_plus_lateness(
    bucket: int, offset: int, lateness: int, before: str
) -> None:
    # Arrange
    start = BASE + bucket * CANDLE_SECONDS
    builder = CandleBuilder(allowed_lateness=lateness)
    assert builder.add(Tick(start + Decimal(offset).scaleb(-1), Decimal(1), Decimal(1), "x")) == []
    deadline = Decimal(start + CANDLE_SECONDS + lateness)
    # Act
    too_early = builder.advance(deadline - Decimal(before))
    on_time = builder.advance(deadline)
    # Assert
    assert too_early == []
    assert [candle.start for candle in on_time] == [start]
    assert builder.partial() is None and builder.advance(deadline + 10**6) == []


@pytest.mark.parametrize("lateness", [1, 2, 30])
def test_tick_at_the_deadline_closes_the_previous_bucket(lateness: int) -> None:
    # Arrange
    builder = CandleBuilder(allowed_lateness=lateness)
    builder.add(Tick(Decimal(BASE + 299), Decimal(1), Decimal(1), "a"))
    deadline = Decimal(BASE + CANDLE_SECONDS + lateness)
    # Act
    early = builder.add(Tick(deadline - Decimal("0.001"), Decimal(2), Decimal(1), "b"))
    closing = builder.add(Tick(deadline, Decimal(3), Decimal(1), "c"))
    # Assert: the candle holds only its own tick; the new ones stay in the open bucket
    assert early == []
    assert closing == [Candle(BASE, *(Decimal(1),) * 5)]
    assert builder.partial() is not None and builder.partial().start == BASE + CANDLE_SECONDS


@settings(max_examples=150, deadline=None)
@given(ticks=tick_streams(), lateness=st.integers(0, 5), data=st.data())
def test_add_never_returns_the_partial_candle(
    ticks: list[Tick], lateness: int, data: st.DataObject
) -> None:
    # Arrange
    delays = data.draw(
        st.lists(st.integers(0, 10 * lateness), min_size=len(ticks), max_size=len(ticks))
    )
    builder = CandleBuilder(allowed_lateness=lateness)
    newest = Decimal("-Infinity")
    emitted: set[int] = set()
    for tick in _late_order(ticks, delays):
        # Act
        newest = max(newest, tick.time)
        closed = builder.add(tick)
        partial = builder.partial()
        # Assert
        assert all(candle.end + lateness <= newest for candle in closed)
        emitted.update(candle.start for candle in closed)
        assert partial is None or partial.start not in emitted


@given(timestamp=st.integers(0, 4_102_444_800))
def test_bucket_start_is_the_aligned_utc_boundary_at_or_before(timestamp: int) -> None:
    start = bucket_start(timestamp)
    assert start % CANDLE_SECONDS == 0
    assert start <= timestamp < start + CANDLE_SECONDS


@pytest.mark.parametrize(
    ("time", "bucket"),
    [("1515560100", 1515560100), ("1515560399.999", 1515560100), ("1515560400", 1515560400)],
)
def test_tick_lands_in_its_utc_aligned_bucket(time: str, bucket: int) -> None:
    builder = CandleBuilder()
    builder.add(Tick(Decimal(time), Decimal(1), Decimal(1), "a"))
    assert builder.partial() is not None and builder.partial().start == bucket


def test_ticks_from_candle_visits_the_nearer_extreme_first() -> None:
    # Arrange: open 10 is nearer the high 11 than the low 5
    candle = Candle(BASE, Decimal(10), Decimal(11), Decimal(5), Decimal(8), Decimal(3))
    # Act
    prices = [tick.price for tick in ticks_from_candle(candle)]
    # Assert
    assert prices == [Decimal(10), Decimal(11), Decimal(5), Decimal(8)]
    assert [t.size for t in ticks_from_candle(candle)] == [0, 0, 0, Decimal(3)]


def test_candle_day_and_end() -> None:
    candle = Candle(86_400 * 3 - 300, *(Decimal(1),) * 5)
    assert (candle.day, candle.end) == (2, 86_400 * 3)


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((BASE, "1", "0.9", "1.1", "1", "1"), "out of order"),  # high < low
        ((BASE, "1.2", "1.1", "0.9", "1", "1"), "out of order"),  # open above high
        ((BASE, "1", "1.1", "0.9", "0.8", "1"), "out of order"),  # close below low
        ((BASE + 1, "1", "1", "1", "1", "1"), "not aligned"),
        ((BASE + 150, "1", "1", "1", "1", "1"), "not aligned"),
        ((BASE, "1", "1", "1", "1", "-0.00000001"), "volume must be >= 0"),
        ((BASE, "0", "1", "0", "1", "1"), "prices must be > 0"),
    ],
)
def test_invalid_candle_raises(fields: tuple, message: str) -> None:
    start, *rest = fields
    with pytest.raises(CandleError, match=message):
        Candle(start, *map(Decimal, rest))


def test_zero_volume_candle_is_valid() -> None:
    assert Candle(BASE, *(Decimal(1),) * 4, Decimal(0)).volume == 0


@pytest.mark.parametrize(("price", "size"), [("0", "1"), ("-1", "1"), ("1", "-0.1")])
def test_invalid_tick_raises(price: str, size: str) -> None:
    with pytest.raises(CandleError):
        Tick(Decimal(BASE), Decimal(price), Decimal(size), "bad")


@pytest.mark.parametrize(("seconds", "lateness"), [(0, 2), (-300, 2), (300, -1)])
def test_invalid_builder_settings_raise(seconds: int, lateness: int) -> None:
    with pytest.raises(CandleError):
        CandleBuilder(seconds=seconds, allowed_lateness=lateness)
