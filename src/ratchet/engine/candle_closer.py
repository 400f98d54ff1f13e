"""Decide when a candle from the feed is closed.

The candles channel sends several updates for one start time and none at all for a bucket
without trades. A candle is closed when an update for a later bucket arrives, or when the
clock (tickers, heartbeats) has passed its end by ``grace`` seconds — then its last update is
final. Each candle is emitted once, in time order.
"""

from __future__ import annotations

from ratchet.domain.candles import CANDLE_SECONDS, Candle


class CandleCloser:
    """Turns candle updates of one pair into closed candles."""

    def __init__(self, grace: float = 2.0) -> None:
        self._current: Candle | None = None
        self._last_closed = -1
        self._grace = grace

    def mark_closed(self, start: int) -> None:
        """Candles up to ``start`` were already taken (from history at start-up)."""
        self._last_closed = max(self._last_closed, start)

    def update(self, candle: Candle) -> list[Candle]:
        """Take one update; return the candles it proves closed."""
        if candle.start <= self._last_closed:
            return []  # a late update of a candle already closed: it cannot change it now
        current = self._current
        if current is None or candle.start == current.start:
            self._current = candle
            return []
        if candle.start < current.start:
            return []  # an out-of-order update of an older, still open bucket: ignore
        self._current = candle
        return self._close(current)

    def advance(self, now: float) -> list[Candle]:
        """The time is ``now``: close the current candle if its end has passed."""
        current = self._current
        if current is not None and now >= current.start + CANDLE_SECONDS + self._grace:
            self._current = None
            return self._close(current)
        return []

    def _close(self, candle: Candle) -> list[Candle]:
        self._last_closed = candle.start
        return [candle]
