"""Candles: the value type, 5-minute UTC bucketing, and a tick-to-candle builder.

A candle covers ``[start, start + 300)`` seconds, with ``start`` a multiple of 300 (so buckets are
aligned to UTC boundaries). A bucket with no trade has no candle: series have gaps, as the
exchange's do. The builder decides *exactly* when a candle is closed with a watermark: the
newest time seen (from ticks or from the clock) minus the allowed lateness. Once a candle is
closed it never changes, so a signal computed on it is final.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

CANDLE_SECONDS = 300
"""Length of the trading timeframe: 5 minutes."""
TICK_OFFSETS = (0, 75, 150, 225)
"""Seconds after a candle's start of the four price moves a recorded candle is replayed as:
evenly spaced, so that a replay at any speed leaves the engine the same time between moves."""

SECONDS_PER_DAY = 86_400


class CandleError(ValueError):
    """A candle or tick breaks the rules (high below low, negative volume, misaligned start)."""


def bucket_start(timestamp: int, seconds: int = CANDLE_SECONDS) -> int:
    """Start (Unix seconds, UTC) of the bucket that contains ``timestamp``."""
    return timestamp - timestamp % seconds


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed OHLCV candle: exact Decimal prices as the exchange reported them."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    figures: tuple[float, float, float, float] = field(
        init=False, repr=False, compare=False, hash=False
    )
    """High, low, close and volume as floats, for the indicators (converted once, here:
    a Decimal's ``float()`` costs as much as the indicators' arithmetic)."""

    def __post_init__(self) -> None:
        if self.start % CANDLE_SECONDS:
            raise CandleError(f"candle start {self.start} is not aligned to {CANDLE_SECONDS} s")
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise CandleError(
                f"candle {self.start}: prices out of order "
                f"(open {self.open}, high {self.high}, low {self.low}, close {self.close})"
            )
        if self.low <= 0:
            raise CandleError(f"candle {self.start}: prices must be > 0, got low {self.low}")
        if self.volume < 0:
            raise CandleError(f"candle {self.start}: volume must be >= 0, got {self.volume}")
        figures = (float(self.high), float(self.low), float(self.close), float(self.volume))
        object.__setattr__(self, "figures", figures)

    @property
    def end(self) -> int:
        """First second after the candle (exclusive end)."""
        return self.start + CANDLE_SECONDS

    @property
    def day(self) -> int:
        """UTC day number (days since the epoch) the candle starts in."""
        return self.start // SECONDS_PER_DAY


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade: when, at what price, how much, and its exchange trade id (for de-duplication).

    ``time`` is Unix seconds (may carry a fraction). ``sequence`` orders ticks that share a
    timestamp; it defaults to the trade id's order of arrival.
    """

    time: Decimal
    price: Decimal
    size: Decimal
    trade_id: str
    sequence: int = 0

    def __post_init__(self) -> None:
        if self.price <= 0:
            raise CandleError(f"tick {self.trade_id}: price must be > 0, got {self.price}")
        if self.size < 0:
            raise CandleError(f"tick {self.trade_id}: size must be >= 0, got {self.size}")


@dataclass(slots=True)
class _OpenBucket:
    start: int
    first_key: tuple[Decimal, int]
    last_key: tuple[Decimal, int]
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trade_ids: set[str] = field(default_factory=set)

    def add(self, tick: Tick) -> None:
        key = (tick.time, tick.sequence)
        if key < self.first_key:
            self.first_key, self.open = key, tick.price
        if key >= self.last_key:
            self.last_key, self.close = key, tick.price
        self.high = max(self.high, tick.price)
        self.low = min(self.low, tick.price)
        self.volume += tick.size
        self.trade_ids.add(tick.trade_id)

    def to_candle(self) -> Candle:
        return Candle(self.start, self.open, self.high, self.low, self.close, self.volume)


@dataclass(frozen=True, slots=True)
class BuilderStats:
    """What the builder has refused so far, for logs and metrics."""

    duplicate_ticks: int
    late_ticks: int


class CandleBuilder:
    """Turns a stream of ticks into closed 5-minute candles.

    * Buckets are aligned to UTC multiples of ``seconds``.
    * A candle closes when the watermark — the newest tick or clock time seen, minus
      ``allowed_lateness`` seconds — reaches its end. :meth:`add` and :meth:`advance` return the
      candles they closed, oldest first.
    * Out-of-order ticks within the lateness are placed correctly (open is the earliest tick,
      close the latest); a tick for an already closed bucket is counted as late and ignored.
    * A tick whose ``trade_id`` was already seen in its bucket is a duplicate and ignored.
    * Empty buckets make no candle (gaps are real).
    """

    def __init__(self, seconds: int = CANDLE_SECONDS, allowed_lateness: int = 2) -> None:
        if seconds <= 0 or allowed_lateness < 0:
            raise CandleError("bucket length must be > 0 and allowed lateness >= 0")
        self._seconds = seconds
        self._lateness = Decimal(allowed_lateness)
        self._open: dict[int, _OpenBucket] = {}
        self._closed_before = -1  # every bucket with start < this is closed
        self._watermark = Decimal("-Infinity")
        self._duplicates = 0
        self._late = 0

    @property
    def stats(self) -> BuilderStats:
        """Counts of refused ticks."""
        return BuilderStats(self._duplicates, self._late)

    def partial(self) -> Candle | None:
        """The newest still-open candle, for display only — never for signals."""
        if not self._open:
            return None
        return self._open[max(self._open)].to_candle()

    def add(self, tick: Tick) -> list[Candle]:
        """Add one tick; return the candles this tick closed (oldest first)."""
        start = bucket_start(int(tick.time // 1), self._seconds)
        if start < self._closed_before:
            self._late += 1
            return self._advance_to(tick.time)
        bucket = self._open.get(start)
        if bucket is None:
            key = (tick.time, tick.sequence)
            self._open[start] = _OpenBucket(
                start,
                key,
                key,
                tick.price,
                tick.price,
                tick.price,
                tick.price,
                tick.size,
                {tick.trade_id},
            )
        elif tick.trade_id in bucket.trade_ids:
            self._duplicates += 1
        else:
            bucket.add(tick)
        return self._advance_to(tick.time)

    def advance(self, now: Decimal | int) -> list[Candle]:
        """Tell the builder the time (from a clock or heartbeat); return candles that closed."""
        return self._advance_to(Decimal(now))

    def flush(self) -> list[Candle]:
        """Close every open bucket (end of a replay); return them oldest first."""
        closed = [self._open.pop(start).to_candle() for start in sorted(self._open)]
        if closed:
            self._closed_before = closed[-1].start + self._seconds
        return closed

    def _advance_to(self, time: Decimal) -> list[Candle]:
        self._watermark = max(self._watermark, time)
        horizon = self._watermark - self._lateness
        if not horizon.is_finite():
            return []
        # every bucket that ends at or before the horizon is closed, empty ones included
        self._closed_before = max(
            self._closed_before, bucket_start(int(horizon // 1), self._seconds)
        )
        ready = [start for start in self._open if start < self._closed_before]
        if not ready:
            return []
        ready.sort()
        return [self._open.pop(start).to_candle() for start in ready]


def ticks_from_candle(candle: Candle, low_first: bool | None = None) -> list[Tick]:
    """Four synthetic ticks that trace a candle's path (open, low/high, high/low, close).

    The volume is put on the close tick. ``low_first`` picks the path; by default the path
    visits the extreme nearer to the open first (the usual replay convention).
    """
    if low_first is None:
        low_first = candle.open - candle.low <= candle.high - candle.open
    middle = (candle.low, candle.high) if low_first else (candle.high, candle.low)
    prices = (candle.open, *middle, candle.close)
    zero = Decimal(0)
    return [
        Tick(
            time=Decimal(candle.start + offset),
            price=price,
            size=candle.volume if index == 3 else zero,
            trade_id=f"{candle.start}-{index}",
            sequence=index,
        )
        for index, (offset, price) in enumerate(zip(TICK_OFFSETS, prices, strict=True))
    ]


def candles_from_ticks(ticks: Iterable[Tick], allowed_lateness: int = 2) -> list[Candle]:
    """Build every candle from a finite tick stream (closing the last one at the end)."""
    builder = CandleBuilder(allowed_lateness=allowed_lateness)
    out: list[Candle] = []
    for tick in ticks:
        out.extend(builder.add(tick))
    out.extend(builder.flush())
    return out
