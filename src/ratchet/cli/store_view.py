"""What the read-only commands show, read together: positions, fills, last prices, stops."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ratchet.cli.figures import LastPrice, Span, last_prices, spans
from ratchet.domain.position import Position
from ratchet.store.database import Database
from ratchet.store.queries import (
    FillView,
    confirmed_stops,
    latest_signals,
    list_fills,
    list_positions,
)


@dataclass(frozen=True, slots=True)
class StoreView:
    """Positions (oldest id first) with their fills, spans, last prices and confirmed stops."""

    positions: list[Position]
    fills: list[FillView]
    spans: dict[str, Span]
    last: dict[str, LastPrice]
    confirmed: dict[str, Decimal]

    def latest_per_pair(self) -> list[Position]:
        """Each pair's current position: the one still open, else its newest, by pair."""
        chosen: dict[str, Position] = {}
        for position in self.positions:
            seen = chosen.get(position.pair)
            if seen is None or seen.status.is_final:
                chosen[position.pair] = position
        return [chosen[pair] for pair in sorted(chosen)]


def read_view(database: Database, pair: str | None = None) -> StoreView:
    """Read positions and fills (of ``pair``, or all) with each pair's last known price.

    Fills come in market-time order (those without a time first), ties as stored.
    """
    positions = list_positions(database, pair=pair)
    fills = sorted(list_fills(database, pair=pair), key=lambda view: view.fill.time or 0)
    signals = latest_signals(database)
    if pair is not None:
        signals = {pair: signals[pair]} if pair in signals else {}
    return StoreView(
        positions=positions,
        fills=fills,
        spans=spans(fills),
        last=last_prices(signals, fills),
        confirmed=confirmed_stops(database),
    )
