"""Figures the read-only commands show, computed from stored positions, fills and signals.

Pure functions (no I/O). A *trade* is a position that is over and had a fill (a round trip);
the win rate is wins (realised P&L > 0) over trades. Capital *deployed* is the entry cost (value
plus fees, pro rata) of what open positions still hold. Money stays ``Decimal`` throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from ratchet.domain.candles import CANDLE_SECONDS
from ratchet.domain.position import Position
from ratchet.ports import SignalRecord
from ratchet.store.queries import FillView

ZERO = Decimal(0)
EXTRA_PLACES = 4  # digits kept beyond the price increment in an average price
MAX_PLACES = Decimal("1e-12")  # computed amounts (pro-rata costs, P&L at a price) are cut here


@dataclass(frozen=True, slots=True)
class LastPrice:
    """The last price known for a pair: a recorded candle close or a fill, at market time."""

    price: Decimal
    source: str  # "candle" or "fill"
    time: int | None


@dataclass(frozen=True, slots=True)
class Span:
    """When a position's first fill and its last sell fill happened (Unix seconds)."""

    opened: int | None = None
    closed: int | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """The P&L figures of one quote currency."""

    quote_currency: str
    trades: int
    wins: int
    realized_pnl: Decimal
    fees: Decimal
    open_positions: int
    deployed: Decimal
    unrealized_pnl: Decimal

    @property
    def losses(self) -> int:
        """Trades that did not make money (break-even included)."""
        return self.trades - self.wins

    @property
    def win_rate_pct(self) -> Decimal | None:
        """Wins over trades in percent (two places), or None without trades."""
        return win_rate_pct(self.wins, self.trades) if self.trades else None


def win_rate_pct(wins: int, trades: int) -> Decimal:
    """``wins / trades`` in percent, two places (``trades`` must be > 0)."""
    return (Decimal(100) * wins / trades).quantize(Decimal("0.01"))


def is_trade(position: Position) -> bool:
    """True for a round trip: the position is over and something was bought."""
    return position.status.is_final and position.entry_size > 0


def is_open(position: Position) -> bool:
    """True while the position may still hold, buy or sell something."""
    return not position.status.is_final


def entry_cost(position: Position) -> Decimal:
    """Entry cost (value plus fees, pro rata) of the quantity the position still holds."""
    if not position.entry_size or not position.quantity:
        return ZERO
    cost = (position.entry_value + position.entry_fees) * position.quantity / position.entry_size
    return tidy(cost)


def average_price(value: Decimal, size: Decimal, position: Position) -> Decimal | None:
    """``value / size`` to the price increment plus a few digits; None when nothing traded."""
    if not size:
        return None
    exponent = position.product.price_increment.as_tuple().exponent
    places = (exponent if isinstance(exponent, int) else 0) - EXTRA_PLACES
    return (value / size).quantize(Decimal(1).scaleb(places))


def tidy(value: Decimal) -> Decimal:
    """A computed amount with at most 12 decimal places (stored amounts are never cut)."""
    exponent = value.as_tuple().exponent
    return value.quantize(MAX_PLACES) if isinstance(exponent, int) and exponent < -12 else value


def unrealized(position: Position, last: LastPrice | None) -> Decimal | None:
    """P&L of what the position holds at the last known price (None when unknown or flat)."""
    if last is None or not position.quantity or not position.entry_size:
        return None
    return tidy(position.unrealized_pnl(last.price))


def last_prices(
    signals: Mapping[str, SignalRecord], fills: Iterable[FillView]
) -> dict[str, LastPrice]:
    """Per pair, the newer of the last recorded candle close and the last fill."""
    found = {
        pair: LastPrice(record.close, "candle", record.start + CANDLE_SECONDS)
        for pair, record in signals.items()
    }
    newest_fill: dict[str, LastPrice] = {}
    for view in fills:
        seen = newest_fill.get(view.pair)
        time = view.fill.time
        if seen is None or (time is not None and (seen.time is None or time >= seen.time)):
            newest_fill[view.pair] = LastPrice(view.fill.price, "fill", time)
    for pair, fill in newest_fill.items():
        candle = found.get(pair)
        if candle is None or (
            fill.time is not None and candle.time is not None and fill.time > candle.time
        ):
            found[pair] = fill
    return found


def spans(fills: Iterable[FillView]) -> dict[str, Span]:
    """Per position id: the time of its first fill and of its last sell fill."""
    opened: dict[str, int] = {}
    closed: dict[str, int] = {}
    for view in fills:
        time = view.fill.time
        if time is None:
            continue
        pid = view.position_id
        opened[pid] = min(time, opened.get(pid, time))
        if view.side == "SELL":
            closed[pid] = max(time, closed.get(pid, time))
    return {pid: Span(opened.get(pid), closed.get(pid)) for pid in opened}


def summarize(
    positions: Iterable[Position], last: Mapping[str, LastPrice] | None = None
) -> list[Summary]:
    """One :class:`Summary` per quote currency, sorted by currency."""
    grouped: dict[str, list[Position]] = {}
    for position in positions:
        grouped.setdefault(position.product.quote_currency, []).append(position)
    prices = last or {}
    summaries = []
    for currency, members in sorted(grouped.items()):
        trades = [p for p in members if is_trade(p)]
        held = [p for p in members if is_open(p)]
        summaries.append(
            Summary(
                quote_currency=currency,
                trades=len(trades),
                wins=sum(1 for p in trades if p.realized_pnl > 0),
                realized_pnl=sum((p.realized_pnl for p in trades), ZERO),
                fees=sum((p.entry_fees + p.exit_fees for p in trades), ZERO),
                open_positions=len(held),
                deployed=sum((entry_cost(p) for p in held), ZERO),
                unrealized_pnl=sum((unrealized(p, prices.get(p.pair)) or ZERO for p in held), ZERO),
            )
        )
    return summaries


def iso(seconds: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC (``2018-01-26T09:35:00Z``), None stays None."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_time(seconds: float | None) -> str:
    """Unix seconds as ``2018-01-26 09:35`` (UTC) for tables."""
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def text(value: Decimal | None) -> str | None:
    """A Decimal as plain digits (never ``1E-8``), None stays None: for JSON, CSV and SQL."""
    return None if value is None else format(value, "f")


def cell(value: Decimal | None, places: int = 8) -> str:
    """A Decimal for a table cell, to ``places`` decimals; empty for None."""
    return "" if value is None else f"{value:.{places}f}"
