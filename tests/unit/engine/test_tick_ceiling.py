"""``PairTrader.tick_ceiling``: a tick at or below it changes nothing, whatever the trader's state.

The backtester leaves such ticks out (a candle that cannot reach above the ceiling, nor any
resting order, is replayed as its open and close only), so the claim must hold exactly: here
every tick is delivered, and each one the ceiling called quiet must give no command, no state
to write and leave the trader as it was — over real recorded candles and random walks, through
entries, fills, stop replaces and exits.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratchet.backtest.inprocess import InProcessExchange
from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.domain.money import Product
from ratchet.domain.position import TrailPolicy
from ratchet.domain.signals import SignalRules
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.sim.matching import MatchingEngine
from ratchet.sim.products import product_for
from ratchet.sim.replay import LEG_OFFSETS

D = Decimal
ALWAYS = SignalRules(rsi_below=99.0, min_confirmations=1)


def snapshot(trader: PairTrader) -> tuple[object, ...]:
    """Everything a tick could change in the trader."""
    stops = trader.stops
    return (
        repr(trader.position),
        [repr(order) for order in trader.orders()],
        {name: repr(value) for name, value in vars(stops).items()},
        trader.forced,
        trader.last_signal,
    )


class Checked:
    """A trader on a matching engine; every tick is delivered and the quiet ones checked."""

    def __init__(self, product: Product, trader_settings: TraderSettings) -> None:
        self.pair = product.product_id
        self.engine = MatchingEngine(
            [product], {product.quote_currency: D(10)}, participation=D("0.5")
        )
        self.exchange = InProcessExchange(self.engine)
        self.trader = PairTrader(product, trader_settings)
        self.quiet = 0
        self.loud = 0

    def drive(self, events: list[m.EngineEvent], now: float) -> None:
        queue = deque(events)
        while queue:
            decision = self.trader.handle(queue.popleft(), now)
            for command in decision.commands:
                queue.extend(self.execute(command, now))

    def execute(self, command: m.EngineCommand, now: float) -> list[m.EngineEvent]:
        events = self.exchange.carry_out(command, now)
        return [m.EntryApproved(D("9.5"))] if events is None else events

    def leg(self, price: Decimal, volume: Decimal, now: float, gap: bool) -> None:
        self.engine.move(self.pair, price, volume, now, gap=gap)
        self.drive(self.exchange.updates(), now)
        ceiling = self.trader.tick_ceiling()
        before = snapshot(self.trader)
        decision = self.trader.handle(m.PriceTick(price, now), now)
        if ceiling is not None and price <= ceiling:
            self.quiet += 1
            assert not decision.commands, (ceiling, price, decision.commands)
            assert not decision.batch, (ceiling, price, decision.batch)
            assert snapshot(self.trader) == before
        else:
            self.loud += 1
            for command in decision.commands:
                self.drive(self.execute(command, now), now)

    def candle(self, candle: Candle, previous: Candle | None) -> None:
        start, quarter = candle.start, candle.volume / 4
        self.leg(candle.open, quarter, float(start), True)
        if previous is not None:
            self.drive([m.CandleClosed(previous)], float(start))
        low_first = candle.open - candle.low <= candle.high - candle.open
        first, second = (candle.low, candle.high) if low_first else (candle.high, candle.low)
        self.leg(first, quarter, float(start + LEG_OFFSETS[1]), False)
        self.leg(second, quarter, float(start + LEG_OFFSETS[2]), False)
        self.leg(candle.close, quarter, float(start + LEG_OFFSETS[3]), False)


def replay(checked: Checked, candles: list[Candle]) -> None:
    previous = None
    for candle in candles:
        checked.candle(candle, previous)
        previous = candle


def test_quiet_ticks_change_nothing_over_recorded_candles() -> None:
    [path] = [f for f in demo_candle_files() if pair_of(f) == "ETH-BTC"]
    candles = read_candles(path)
    product = product_for("ETH-BTC", candles[0].close)
    checked = Checked(product, TraderSettings(min_stop_interval=200.0))
    replay(checked, candles)
    assert checked.quiet > 1000  # most ticks of a held position are below its high
    assert checked.loud > 100  # and the run traded: new highs, stop moves, exits


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.integers(-40, 40), min_size=160, max_size=400),
    interval=st.sampled_from([0.0, 100.0, 400.0]),
    trail=st.sampled_from(["0.5", "2"]),
)
def test_quiet_ticks_change_nothing_on_random_walks(
    steps: list[int], interval: float, trail: str
) -> None:
    # Arrange: a walk in price increments, cut into candles of four legs
    product = Product("ETH-BTC", D("0.001"), D("0.00001"), D("0.01"), quote_increment=D("1e-8"))
    trader_settings = TraderSettings(
        rules=ALWAYS, min_stop_interval=interval, trail=TrailPolicy(D(trail), D("0.05"))
    )
    checked = Checked(product, trader_settings)
    ticks, prices = 5000, []
    for step in steps:
        ticks = max(100, ticks + step)
        prices.append(product.price_increment * ticks)
    start = 1_700_000_100 - 1_700_000_100 % CANDLE_SECONDS
    candles = [
        Candle(
            start + i * CANDLE_SECONDS,
            legs[0],
            max(legs),
            min(legs),
            legs[-1],
            D(40),
        )
        for i, legs in enumerate(prices[k : k + 4] for k in range(0, len(prices) - 3, 4))
    ]
    # Act / Assert (in Checked.leg)
    replay(checked, candles)
    assert checked.quiet + checked.loud == 4 * len(candles)
