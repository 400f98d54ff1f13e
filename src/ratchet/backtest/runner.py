"""Run the live engine code (``PairTrader``) over recorded candles, on a virtual clock.

Each pair trades alone on its own in-process matching core (its own account, as the peers'
benchmarks do). A candle is replayed as its four price legs (:func:`ratchet.sim.replay.candle_path`)
and every leg is a tick for the trader. A candle is closed for the trader the way the live feed
closes it: when the first leg of the *next* candle has traded (its update proves the bucket
over), so an entry sent at a close meets the market after the next open, as it does in paper and
live trading. The last candle is closed after its own legs. Commands are carried out at once and
their results fed back until the trader is quiet, as the live runtime does with the adapter.

A candle that can reach nothing (no order rests within its range or the gap from the last
close, no price in it moves the trader, and its close asks for nothing) only moves the price:
it is replayed as two price steps instead of four legs and their ticks, with the same result
(``every_leg=True`` replays every leg; a test compares the two).

Per candle the run records the equity (quote + base marked at the close), whether the pair held
base at any leg (exposure) and the stop resting at the close: the inputs of
:mod:`ratchet.backtest.stats` and the report's charts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from ratchet.backtest.inprocess import InProcessExchange
from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.domain.money import ZERO, Product
from ratchet.domain.position import Position, PositionStatus
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.sim.matching import MatchingEngine
from ratchet.sim.products import product_for
from ratchet.sim.replay import LEG_OFFSETS

DEFAULT_PARTICIPATION = Decimal("0.25")
"""Share of a leg's volume our fills may take: the simulator's default (``SimSettings``)."""
FOUR = Decimal(4)
THREE = Decimal(3)


class Gate(Protocol):
    """Answers an entry request: how much quote it may spend, given what is available."""

    def budget(self, available: Decimal) -> Decimal:
        """What an entry may spend (<= 0: denied)."""


@dataclass(frozen=True, slots=True)
class FixedFractionGate:
    """The simplest risk gate: a fraction of the available quote balance per entry."""

    fraction: Decimal = Decimal("0.95")

    def budget(self, available: Decimal) -> Decimal:
        """What an entry may spend."""
        return available * self.fraction


@dataclass(slots=True)
class PairResult:
    """What one pair's run produced: positions, their times, and the per-candle curves."""

    pair: str
    cash: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)
    entry_times: dict[str, float] = field(default_factory=dict)  # first entry fill
    exit_times: dict[str, float] = field(default_factory=dict)  # when it closed
    starts: list[int] = field(default_factory=list)  # candle starts
    closes: list[Decimal] = field(default_factory=list)  # candle closes
    equity: list[Decimal] = field(default_factory=list)  # quote + base at each close
    stops: list[Decimal | None] = field(default_factory=list)  # resting stop at each close
    exposed: int = 0  # candles during which base was held (after any leg)
    fills: int = 0
    final_quote: Decimal = ZERO
    final_base: Decimal = ZERO
    last_price: Decimal = ZERO

    def take_candles(self, candles: Sequence[Candle]) -> None:
        """The candles' starts and closes, one per candle (the curves' time axis)."""
        self.starts = [candle.start for candle in candles]
        self.closes = [candle.close for candle in candles]

    @property
    def closed(self) -> list[Position]:
        """Positions that were closed, in order."""
        return [p for p in self.positions.values() if p.status is PositionStatus.CLOSED]

    @property
    def traded(self) -> list[Position]:
        """Positions whose entry filled (closed or still open), in order."""
        return [p for p in self.positions.values() if p.entry_size > 0]

    @property
    def entries(self) -> int:
        """Positions whose entry filled (closed or still open)."""
        return len(self.traded)

    @property
    def equity_now(self) -> Decimal:
        """Quote balance plus what is held, marked at the last price."""
        return self.final_quote + self.final_base * self.last_price


def run_pair(
    pair: str,
    candles: Sequence[Candle],
    settings: TraderSettings,
    *,
    product: Product | None = None,
    cash: Decimal = Decimal(10_000),
    gate: Gate | None = None,
    maker_fee_rate: Decimal = Decimal("0.004"),
    taker_fee_rate: Decimal = Decimal("0.006"),
    participation: Decimal = DEFAULT_PARTICIPATION,
    slippage: Decimal = ZERO,
    every_leg: bool = False,
) -> PairResult:
    """Backtest one pair alone with ``cash`` of its quote currency.

    Fees, ``participation`` (the share of each leg's volume our fills may take) and
    ``slippage`` (a fraction, on taker fills) are the matching core's; the defaults are the
    simulator's, so a backtest and a paper run agree. ``every_leg`` turns off the shortcuts
    for candles that can reach nothing: each of the four legs then reaches the trader as a
    tick (the same result, four times slower; the tests compare the two).
    """
    product = product or product_for(pair, median_close(candles))
    engine = MatchingEngine(
        [product],
        {product.quote_currency: cash},
        maker_fee_rate=maker_fee_rate,
        taker_fee_rate=taker_fee_rate,
        participation=participation,
        slippage=slippage,
        snapshots=False,  # each leg's changes are read at once (InProcessExchange.updates)
    )
    run = _Run(pair, product, engine, PairTrader(product, settings), gate or FixedFractionGate())
    run.every_leg = every_leg
    run.result.cash = cash
    run.replay(candles)
    result = run.result
    result.final_quote = engine.balance(product.quote_currency)
    result.final_base = engine.balance(product.base_currency)
    result.take_candles(candles)
    result.last_price = candles[-1].close if candles else ZERO
    result.fills = len(engine.fills())
    return result


def median_close(candles: Sequence[Candle]) -> Decimal:
    """The median close (``statistics.median``'s value), sorted by the closes' float figures:
    a fifth of the time of comparing Decimals, and the same order (closes have far fewer than
    float's 15 significant digits)."""
    if not candles:
        raise ValueError("no candles: no median close")
    floats = [candle.figures[2] for candle in candles]
    ordered = sorted(range(len(floats)), key=floats.__getitem__)  # a stable sort, as sorted()'s
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return candles[ordered[middle]].close
    return (candles[ordered[middle - 1]].close + candles[ordered[middle]].close) / 2


class _Run:
    """One pair's replay: the market legs, the trader's events, the per-candle records."""

    def __init__(
        self,
        pair: str,
        product: Product,
        engine: MatchingEngine,
        trader: PairTrader,
        gate: Gate,
    ) -> None:
        self.pair = pair
        self.engine = engine
        self.exchange = InProcessExchange(engine)
        self.trader = trader
        self.gate = gate
        self.quote = product.quote_currency
        self.base = product.base_currency
        self.result = PairResult(pair)
        self._balances: tuple[Decimal, Decimal] | None = None  # (base, quote); None: re-read
        self.every_leg = False  # True: no shortcut for candles that can reach nothing

    def replay(self, candles: Sequence[Candle]) -> None:
        """Every candle's legs; each candle closed once the next one's open has traded."""
        previous: Candle | None = None
        for candle in candles:
            self._candle(candle, previous)
            previous = candle
        if previous is not None:
            self._drive([m.CandleClosed(previous)], float(previous.start + CANDLE_SECONDS))

    def _candle(self, candle: Candle, previous: Candle | None) -> None:
        if previous is not None and not self.every_leg and self._quiet(candle, previous):
            return
        engine, start, trader = self.engine, candle.start, self.trader
        volume = candle.volume
        quarter = volume / FOUR
        # the open: a gap from the previous close; then the previous candle is known closed
        self._leg(candle.open, quarter, float(start), gap=True)
        exposed = self._held()
        if previous is not None:
            self._drive([m.CandleClosed(previous)], float(start))
        last = volume - quarter * THREE
        close_at = float(start + LEG_OFFSETS[3])
        low, high = candle.low, candle.high
        ceiling = None if self.every_leg else trader.tick_ceiling()
        if (
            ceiling is not None
            and high <= ceiling
            and engine.untouched(self.pair, low, high, close_at)
        ):
            # nothing rests within the candle's range and no price in it moves the trader:
            # the middle legs only move the price
            self._leg(candle.close, last, close_at)
        else:
            exposed = self._middle_legs(candle, quarter, last, close_at) or exposed
        self._close_candle(candle, exposed)

    def _quiet(self, candle: Candle, previous: Candle) -> bool:
        """Replay a candle that can reach nothing, from the gap at its open to its close: no
        order rests within its range (or the previous close), no price in it moves the
        trader, and closing the previous candle asks for nothing. Then its legs only move the
        price. False (with nothing done) when the candle needs its legs one by one."""
        ceiling = self.trader.tick_ceiling()
        high = candle.high
        if ceiling is None or high > ceiling:
            return False
        start, engine, pair = candle.start, self.engine, self.pair
        close_at = float(start + LEG_OFFSETS[3])
        if engine.has_open(pair):
            low, before = candle.low, previous.close  # the last price: the open gaps from it
            if before < low:  # (comparisons: min() and max() cost a call each)
                low = before
            elif before > high:
                high = before
            if not engine.untouched(pair, low, high, close_at):
                return False
        now = float(start)
        decision = self.trader.handle(m.CandleClosed(previous), now)  # reads no market state
        volume = candle.volume
        quarter = volume / FOUR
        last = volume - quarter * THREE
        if decision.commands or decision.batch.positions:  # the close asked for something
            engine.drift(pair, candle.open, quarter)
            exposed = self._held()
            self._follow(decision, now)
            exposed = self._middle_legs(candle, quarter, last, close_at) or exposed
            self._close_candle(candle, exposed)
        else:  # nothing changed since the last close: the open only moved the price
            engine.drift(pair, candle.close, last)
            self._close_candle(candle, False)
        return True

    def _middle_legs(
        self, candle: Candle, quarter: Decimal, last: Decimal, close_at: float
    ) -> bool:
        """The low, the high (the nearer one first) and the close, each a leg the trader sees;
        True when base was held after any of them."""
        start, low, high = candle.start, candle.low, candle.high
        low_first = candle.open - low <= high - candle.open
        self._leg(low if low_first else high, quarter, float(start + LEG_OFFSETS[1]))
        exposed = self._held()
        self._leg(high if low_first else low, quarter, float(start + LEG_OFFSETS[2]))
        exposed = exposed or self._held()
        self._leg(candle.close, last, close_at)
        return exposed

    def _close_candle(self, candle: Candle, exposed: bool) -> None:
        """Record the candle's close (after its last leg): whether base was held during it
        (``exposed``: after an earlier leg), equity marked at the close, the stop resting.
        (The candles' starts and closes are taken from the candles after the run.)"""
        result = self.result
        base, quote = self._base_and_quote()
        if exposed or base > ZERO:
            result.exposed += 1
        result.equity.append(quote + base * candle.close if base else quote)
        result.stops.append(self.trader.stops.confirmed if self.trader.position else None)

    def _held(self) -> bool:
        return self._base_and_quote()[0] > ZERO

    def _base_and_quote(self) -> tuple[Decimal, Decimal]:
        """The pair's balances, read again only after the trader or the market did something
        (every fill comes from a command or a leg's updates, both of which :meth:`_drive`)."""
        balances = self._balances
        if balances is None:
            engine = self.engine
            balances = self._balances = (engine.balance(self.base), engine.balance(self.quote))
        return balances

    def _leg(self, price: Decimal, volume: Decimal, now: float, *, gap: bool = False) -> None:
        """One market leg, then what it changed and its tick to the trader. The tick is left
        out when the leg changed no order and the trader's tick ceiling says a price this high
        changes nothing for it (unless ``every_leg``)."""
        engine, trader = self.engine, self.trader
        engine.move(self.pair, price, volume, now, gap=gap)
        if engine.has_updates():
            events = self.exchange.updates()
        elif trader.position is None:
            return
        else:
            ceiling = None if self.every_leg else trader.tick_ceiling()
            if ceiling is not None and price <= ceiling:
                return
            events = []
        if trader.position is not None:
            events.append(m.PriceTick(price, now))
        self._drive(events, now)

    def _drive(self, events: list[m.EngineEvent], now: float) -> None:
        """Hand the events to the trader, then the results of its commands, until it is quiet."""
        handle, execute, result = self.trader.handle, self._execute, self.result
        self._balances = None
        queue = events  # first in, first out: read by index, results appended behind
        index = 0
        while index < len(queue):
            decision = handle(queue[index], now)
            index += 1
            if decision.batch.positions:
                _collect(decision.batch.positions, result, now)
            for command in decision.commands:
                queue.extend(execute(command, now))

    def _follow(self, decision: m.Decision, now: float) -> None:
        """What :meth:`_drive` does with one decision the trader has already made."""
        self._balances = None
        if decision.batch.positions:
            _collect(decision.batch.positions, self.result, now)
        events: list[m.EngineEvent] = []
        for command in decision.commands:
            events.extend(self._execute(command, now))
        if events:
            self._drive(events, now)

    def _execute(self, command: m.EngineCommand, now: float) -> list[m.EngineEvent]:
        events = self.exchange.carry_out(command, now)
        if events is not None:
            return events
        account = self.engine.account(self.quote)
        available = account.available if account else ZERO
        budget = self.gate.budget(available)
        if budget <= 0:
            return [m.EntryDenied("no quote balance available")]
        return [m.EntryApproved(budget)]


def _collect(positions: list[Position], result: PairResult, now: float) -> None:
    for position in positions:
        pid = position.position_id
        result.positions[pid] = position
        if position.entry_size > 0 and pid not in result.entry_times:
            result.entry_times[pid] = now
        if position.status is PositionStatus.CLOSED and pid not in result.exit_times:
            result.exit_times[pid] = now


def run_all(
    candles: Mapping[str, Sequence[Candle]], settings: TraderSettings, **options: object
) -> dict[str, PairResult]:
    """Backtest every pair alone (see :func:`run_pair`)."""
    return {
        pair: run_pair(pair, series, settings, **options)  # type: ignore[arg-type]
        for pair, series in candles.items()
    }
