"""Run the live engine code (``PairTrader``) over recorded candles, on a virtual clock.

Each pair trades alone on its own in-process matching core (its own account, as the peers'
benchmarks do). A candle is replayed as its four price legs; every leg is a tick for the
trader, and when a candle's last leg has traded the trader gets ``CandleClosed`` at the
candle's end. Commands are carried out at once and their results fed back until the trader is
quiet, exactly as the live runtime does with the real adapter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median

from ratchet.backtest.inprocess import InProcessExchange
from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.domain.money import Product
from ratchet.domain.position import Position, PositionStatus
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.ports import StateBatch
from ratchet.sim.matching import MatchingEngine
from ratchet.sim.products import product_for
from ratchet.sim.replay import candle_path


@dataclass(frozen=True, slots=True)
class FixedFractionGate:
    """The simplest risk gate: a fraction of the available quote balance per entry."""

    fraction: Decimal = Decimal("0.95")

    def budget(self, available: Decimal) -> Decimal:
        """What an entry may spend."""
        return available * self.fraction


@dataclass(slots=True)
class PairResult:
    """What one pair's run produced."""

    pair: str
    positions: dict[str, Position] = field(default_factory=dict)
    batches: int = 0
    fills: int = 0
    final_quote: Decimal = Decimal(0)
    final_base: Decimal = Decimal(0)
    last_price: Decimal = Decimal(0)

    @property
    def closed(self) -> list[Position]:
        """Positions that were closed, in order."""
        return [p for p in self.positions.values() if p.status is PositionStatus.CLOSED]

    @property
    def entries(self) -> int:
        """Positions whose entry filled (closed or still open)."""
        return sum(1 for p in self.positions.values() if p.entry_size > 0)

    @property
    def equity(self) -> Decimal:
        """Quote balance plus what is held, marked at the last price."""
        return self.final_quote + self.final_base * self.last_price


def run_pair(
    pair: str,
    candles: Sequence[Candle],
    settings: TraderSettings,
    *,
    product: Product | None = None,
    cash: Decimal = Decimal(10_000),
    gate: FixedFractionGate | None = None,
    maker_fee_rate: Decimal = Decimal("0.004"),
    taker_fee_rate: Decimal = Decimal("0.006"),
    participation: Decimal = Decimal(1),
) -> PairResult:
    """Backtest one pair alone with ``cash`` of its quote currency."""
    product = product or product_for(pair, median(c.close for c in candles))
    engine = MatchingEngine(
        [product],
        {product.quote_currency: cash},
        maker_fee_rate=maker_fee_rate,
        taker_fee_rate=taker_fee_rate,
        participation=participation,
    )
    exchange = InProcessExchange(engine)
    trader = PairTrader(product, settings)
    gate = gate or FixedFractionGate()
    result = PairResult(pair)
    for candle in candles:
        for leg in candle_path(candle, pair):
            engine.market_move(pair, leg.price, leg.volume, leg.time, gap=leg.gap)
            events: list[m.EngineEvent] = exchange.updates()
            events.append(m.PriceTick(leg.price, leg.time))
            _drive(trader, exchange, gate, events, now=leg.time, result=result)
        end = float(candle.start + CANDLE_SECONDS)
        _drive(trader, exchange, gate, [m.CandleClosed(candle)], now=end, result=result)
    account_quote = engine.account(product.quote_currency)
    account_base = engine.account(product.base_currency)
    result.final_quote = account_quote.total if account_quote else Decimal(0)
    result.final_base = account_base.total if account_base else Decimal(0)
    result.last_price = candles[-1].close if candles else Decimal(0)
    result.fills = len(engine.fills())
    return result


def _drive(
    trader: PairTrader,
    exchange: InProcessExchange,
    gate: FixedFractionGate,
    events: list[m.EngineEvent],
    *,
    now: float,
    result: PairResult,
) -> None:
    queue: deque[m.EngineEvent] = deque(events)
    while queue:
        decision = trader.handle(queue.popleft(), now)
        _collect(decision.batch, result)
        for command in decision.commands:
            queue.extend(_execute(command, exchange, gate, trader, now))


def _execute(
    command: m.EngineCommand,
    exchange: InProcessExchange,
    gate: FixedFractionGate,
    trader: PairTrader,
    now: float,
) -> list[m.EngineEvent]:
    if isinstance(command, m.PlaceOrder):
        return exchange.place(command.order, now)
    if isinstance(command, m.CancelOrder):
        return exchange.cancel(command.order, now)
    if isinstance(command, m.FetchFills):
        return exchange.fills_of(command.order)
    if isinstance(command, m.LookUpOrder):
        return exchange.look_up(command.order)
    account = exchange.engine.account(trader.product.quote_currency)
    available = account.available if account else Decimal(0)
    budget = gate.budget(available)
    if budget <= 0:
        return [m.EntryDenied("no quote balance available")]
    return [m.EntryApproved(budget)]


def _collect(batch: StateBatch, result: PairResult) -> None:
    if batch:
        result.batches += 1
    for position in batch.positions:
        result.positions[position.position_id] = position


def run_all(
    candles: Mapping[str, Sequence[Candle]], settings: TraderSettings, **options: object
) -> dict[str, PairResult]:
    """Backtest every pair alone (see :func:`run_pair`)."""
    return {
        pair: run_pair(pair, series, settings, **options)  # type: ignore[arg-type]
        for pair, series in candles.items()
    }
