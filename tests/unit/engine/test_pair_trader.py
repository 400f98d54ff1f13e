"""PairTrader on the in-process matching core: the trading rules, event by event."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratchet.backtest.inprocess import InProcessExchange
from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.domain.money import Product
from ratchet.domain.order_types import (
    OperatorAction,
    OperatorCommand,
    OrderError,
    OrderSide,
    OrderStatus,
    OrderType,
)
from ratchet.domain.orders import Fill, Order
from ratchet.domain.position import Position, PositionStatus, TrailPolicy
from ratchet.domain.signals import SignalRules
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader, TraderSettings
from ratchet.engine.stops import StopKeeper
from ratchet.ports import StateBatch
from ratchet.sim.matching import MatchingEngine

D = Decimal

PAIR = "ETH-BTC"
PRODUCT = Product(PAIR, D("0.001"), D("0.00001"), D("0.01"), quote_increment=D("0.00000001"))
START = 1_700_000_100 - 1_700_000_100 % CANDLE_SECONDS
ALWAYS = SignalRules(rsi_below=99.0, min_confirmations=1)  # enter at the first ready candle


class Harness:
    """A trader wired to a matching engine; every command is carried out at once."""

    def __init__(self, trader_settings: TraderSettings) -> None:
        self.engine = MatchingEngine([PRODUCT], {"BTC": D(10)}, participation=D(1))
        self.exchange = InProcessExchange(self.engine)
        self.trader = PairTrader(PRODUCT, trader_settings)
        self.batches: list[StateBatch] = []
        self.commands: list[m.EngineCommand] = []
        self.budget = D(1)

    def feed(self, events: list[m.EngineEvent], now: float) -> None:
        queue = deque(events)
        while queue:
            decision = self.trader.handle(queue.popleft(), now)
            self.batches.append(decision.batch)
            for command in decision.commands:
                self.commands.append(command)
                # rule 5: the intent is in the batch committed before the command is executed
                if isinstance(command, m.PlaceOrder):
                    stored = [r.order for r in decision.batch.orders]
                    assert command.order in stored
                queue.extend(self.execute(command, now))

    def execute(self, command: m.EngineCommand, now: float) -> list[m.EngineEvent]:
        events = self.exchange.carry_out(command, now)
        return [m.EntryApproved(self.budget)] if events is None else events

    def trade(self, price: str, now: float, volume: str = "1000") -> None:
        self.engine.market_move(PAIR, D(price), D(volume), now)
        self.feed([*self.exchange.updates(), m.PriceTick(D(price), now)], now)

    def close_candle(self, index: int, price: str) -> None:
        start = START + index * CANDLE_SECONDS
        p = D(price)
        candle = Candle(start, p, p, p, p, D(10))
        self.trade(price, start + 299)
        self.feed([m.CandleClosed(candle)], start + CANDLE_SECONDS)

    def warm_up(self, candles: int = 34, price: str = "0.05000") -> None:
        """Flat candles until the first signal: the entry is placed at the last close."""
        for i in range(candles):
            self.close_candle(i, price)

    def confirmed(self) -> list[Decimal]:
        """Every stop level the exchange confirmed, in order (placed or edited)."""
        levels = [c.confirmed for b in self.batches for c in b.stops if c.confirmed is not None]
        return list(dict.fromkeys(levels))  # each also noted with every rise of the trail

    def placed(self, kind: OrderType) -> list[m.PlaceOrder]:
        return [
            c for c in self.commands if isinstance(c, m.PlaceOrder) and c.order.order_type is kind
        ]


def quick_settings(**overrides: object) -> TraderSettings:
    values: dict[str, object] = {"rules": ALWAYS, "min_stop_interval": 0.0}
    values.update(overrides)
    return TraderSettings(**values)  # type: ignore[arg-type]


def test_entry_is_a_limit_buy_at_the_close_after_a_signal() -> None:
    # Arrange
    h = Harness(quick_settings())
    # Act
    h.warm_up(34)
    # Assert
    [place] = h.placed(OrderType.LIMIT)
    assert place.order.side is OrderSide.BUY
    assert place.order.limit_price == D("0.05000")
    assert h.trader.position is not None
    assert h.trader.position.status is PositionStatus.PENDING_ENTRY


def test_no_stop_exists_before_the_entry_fills() -> None:
    h = Harness(quick_settings())
    h.warm_up(34)
    # the market stays above the limit: nothing fills, so no sell order may exist
    h.trade("0.05100", START + 35 * CANDLE_SECONDS)
    assert not [
        c for c in h.commands if isinstance(c, m.PlaceOrder) and c.order.side is OrderSide.SELL
    ]
    assert h.trader.stops.order is None


def test_filled_entry_arms_a_stop_limit_sell_two_percent_below_the_high() -> None:
    # Arrange
    h = Harness(quick_settings())
    h.warm_up(34)
    # Act: the market trades down through the limit: the entry fills at its limit
    h.trade("0.04990", START + 35 * CANDLE_SECONDS)
    # Assert
    position = h.trader.position
    assert position is not None and position.status is PositionStatus.OPEN
    [stop] = h.placed(OrderType.STOP_LIMIT)
    assert stop.order.side is OrderSide.SELL
    assert stop.order.stop_price == D("0.04900")  # 0.05 (fill price, the high) × 0.98
    assert stop.order.size == position.quantity
    assert h.trader.stops.confirmed == D("0.04900")


@pytest.mark.parametrize("moves", ["edit", "replace"])
def test_stop_ratchets_up_on_new_highs_and_never_down(moves: str) -> None:
    h = Harness(quick_settings(stop_moves=moves))
    h.warm_up(34)
    h.trade("0.04990", START + 35 * CANDLE_SECONDS)
    t = START + 36 * CANDLE_SECONDS
    # Act: up, down, up again
    for step, price in enumerate(("0.05200", "0.05100", "0.05300", "0.05250")):
        h.trade(price, t + step * 60)
    # Assert
    stops = h.confirmed()
    assert stops == sorted(stops) and len(stops) == 3  # placed, then raised twice
    assert stops[-1] == D("0.05194")  # 0.053 × 0.98
    assert h.trader.stops.confirmed == D("0.05194")
    assert len([o for o in h.engine.orders(statuses=["OPEN"]) if o.side is OrderSide.SELL]) == 1


def test_stop_replace_waits_for_the_minimum_interval() -> None:
    h = Harness(quick_settings(min_stop_interval=300.0))
    h.warm_up(34)
    h.trade("0.04990", START + 35 * CANDLE_SECONDS)
    t = START + 36 * CANDLE_SECONDS
    h.trade("0.05200", t)  # first replace: allowed (none before)
    h.trade("0.05300", t + 60)  # too soon
    assert h.confirmed()[-1] == D("0.05096")
    h.feed([m.TimerFired(t + 301)], t + 301)  # the interval passed: the pending rise goes out
    assert h.confirmed()[-1] == D("0.05194")


def test_stop_fill_closes_the_position_with_fees_in_the_pnl() -> None:
    h = Harness(quick_settings())
    h.warm_up(34)
    h.trade("0.04990", START + 35 * CANDLE_SECONDS)
    position = h.trader.position
    assert position is not None
    # Act: the market falls through the stop
    h.trade("0.04800", START + 36 * CANDLE_SECONDS)
    # Assert
    assert position.status is PositionStatus.CLOSED
    assert position.realized_pnl == (
        position.exit_value - position.exit_fees - position.entry_value - position.entry_fees
    )
    assert position.realized_pnl < 0
    assert h.trader.position is None  # ready for the next signal


def test_unfilled_entry_is_cancelled_after_its_time_to_live() -> None:
    h = Harness(quick_settings(entry_ttl_candles=3))
    h.warm_up(34)
    entry = h.trader.entry
    assert entry is not None
    for i in range(34, 37):
        h.close_candle(i, "0.05100")
    assert entry.status is OrderStatus.CANCELLED
    assert h.trader.position is None or h.trader.position.status is PositionStatus.CANCELLED


def test_a_stop_refused_because_the_price_is_below_it_exits_with_a_limit_sell() -> None:
    h = Harness(quick_settings())
    h.warm_up(34)
    # the entry fills and, on the same leg, the price is already below the first stop
    h.engine.market_move(PAIR, D("0.04800"), D("1000"), START + 35 * CANDLE_SECONDS)
    h.feed(h.exchange.updates(), START + 35 * CANDLE_SECONDS)
    exits = [c.order for c in h.placed(OrderType.LIMIT) if c.order.side is OrderSide.SELL]
    assert exits and exits[0].limit_price is not None
    assert all(c.order.order_type is not OrderType.MARKET for c in h.placed(OrderType.MARKET))
    assert not h.placed(OrderType.MARKET)


def test_a_duplicated_fill_report_is_counted_once() -> None:
    h = Harness(quick_settings())
    h.warm_up(34)
    h.trade("0.04990", START + 35 * CANDLE_SECONDS)
    position = h.trader.position
    assert position is not None and h.trader.entry is not None
    held = position.quantity
    # Act: the same fills reported again
    h.feed(h.exchange.fills_of(h.trader.entry), START + 35 * CANDLE_SECONDS + 1)
    # Assert
    assert position.quantity == held


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.integers(-40, 40), min_size=20, max_size=120))
def test_random_price_paths_keep_the_trading_rules(steps: list[int]) -> None:
    # Arrange
    h = Harness(quick_settings(entry_ttl_candles=2))
    h.warm_up(34)
    price = D("0.05000")
    t = START + 35 * CANDLE_SECONDS
    # Act
    for index, step in enumerate(steps):
        price = max(D("0.01000"), price + D(step) * D("0.00010"))
        h.trade(str(price), t + index * 60)
        if index % 5 == 4:
            candle_start = (t + index * 60) // CANDLE_SECONDS * CANDLE_SECONDS
            candle = Candle(candle_start, price, price, price, price, D(10))
            h.feed([m.CandleClosed(candle)], candle_start + CANDLE_SECONDS)
    # Assert: per position, stop prices never went down, and no sell before the entry filled
    by_position: dict[str, list[D]] = {}
    entry_filled: set[str] = set()
    for batch in h.batches:
        for record in batch.orders:
            order = record.order
            if order.side is OrderSide.BUY and order.filled_size > 0:
                entry_filled.add(record.position_id)
            if order.side is OrderSide.SELL:
                assert record.position_id in entry_filled, "an exit existed before the entry fill"
            if order.order_type is OrderType.STOP_LIMIT and order.stop_price is not None:
                by_position.setdefault(record.position_id, []).append(order.stop_price)
    for levels in by_position.values():
        assert levels == sorted(levels)
    assert not h.placed(OrderType.MARKET)
    opened = {o.client_order_id for o in h.engine.orders()}
    assert len(opened) == len(h.engine.orders())  # one exchange order per client_order_id
    assert all(b.budget >= 0 for b in h.engine.accounts() if hasattr(b, "budget"))
    assert all(a.available >= 0 and a.hold >= 0 for a in h.engine.accounts())
    if h.trader.position is not None and h.trader.position.status is PositionStatus.OPEN:
        assert h.trader.stops.orders(), "an open position without a stop"


def test_trail_policy_comes_from_the_settings() -> None:
    h = Harness(quick_settings(trail=TrailPolicy(D(5))))
    h.warm_up(34)
    h.trade("0.04990", START + 35 * CANDLE_SECONDS)
    [stop] = h.placed(OrderType.STOP_LIMIT)
    assert stop.order.stop_price == D("0.04750")


def test_an_order_whose_send_timed_out_is_looked_up_and_resent_only_if_absent() -> None:
    # Arrange: the entry's send "timed out" before reaching the exchange
    h = Harness(quick_settings())
    sent: list[m.PlaceOrder] = []
    original = h.execute

    def flaky(command: m.EngineCommand, now: float) -> list[m.EngineEvent]:
        if isinstance(command, m.PlaceOrder) and not sent:
            sent.append(command)
            return [m.OrderSendFailed(command.order.client_order_id, "timeout")]
        return original(command, now)

    h.execute = flaky  # type: ignore[method-assign]
    # Act
    h.warm_up()
    # Assert: looked up, not found, sent again with the SAME id; one exchange order
    entry = h.trader.entry
    assert entry is not None and entry.status is OrderStatus.OPEN
    assert [o.client_order_id for o in h.engine.orders()] == [entry.client_order_id]
    assert any(isinstance(c, m.LookUpOrder) for c in h.commands)


def test_an_order_that_reached_the_exchange_before_the_timeout_is_adopted_not_resent() -> None:
    # Arrange: the send reached the exchange but the reply was lost
    h = Harness(quick_settings())
    original = h.execute
    lost: list[str] = []

    def lossy(command: m.EngineCommand, now: float) -> list[m.EngineEvent]:
        if isinstance(command, m.PlaceOrder) and not lost:
            lost.append(command.order.client_order_id)
            original(command, now)  # it arrives ...
            return [m.OrderSendFailed(command.order.client_order_id, "timeout")]  # ... no reply
        return original(command, now)

    h.execute = lossy  # type: ignore[method-assign]
    # Act
    h.warm_up()
    # Assert
    entry = h.trader.entry
    assert entry is not None and entry.status is OrderStatus.OPEN
    assert entry.exchange_order_id == h.engine.orders()[0].order_id
    assert len(h.engine.orders()) == 1


def test_force_exit_cancels_the_stop_then_sells_at_market_in_the_operators_name() -> None:
    # Arrange: an open position with its stop resting
    h = Harness(quick_settings())
    h.warm_up()
    h.trade("0.04990", START + 35 * CANDLE_SECONDS)
    position = h.trader.position
    assert position is not None and h.trader.stops.order is not None
    action = OperatorAction(OperatorCommand.FORCE_EXIT, "alice", "exchange news", 1)
    # Act
    h.feed([m.ForceExitRequested(action)], START + 35 * CANDLE_SECONDS + 10)
    # Assert
    [market] = h.placed(OrderType.MARKET)
    assert market.order.operator_action == action
    assert market.order.size == PRODUCT.sell_size(position.entry_size)
    assert position.status is PositionStatus.CLOSED
    stops = [o for o in h.engine.orders() if o.order_type is OrderType.STOP_LIMIT]
    assert all(o.status == "CANCELLED" for o in stops)
    audit = [a for b in h.batches for a in b.audit if a.actor == "alice"]
    assert any("force-exit requested" in a.detail for a in audit)
    assert any("market sell" in a.detail for a in audit)


def test_force_exit_of_an_unfilled_entry_cancels_it_and_sends_no_market_order() -> None:
    h = Harness(quick_settings())
    h.warm_up()
    action = OperatorAction(OperatorCommand.FORCE_EXIT, "bob", "changed my mind", 1)
    h.feed([m.ForceExitRequested(action)], START + 35 * CANDLE_SECONDS)
    assert not h.placed(OrderType.MARKET)
    assert h.trader.position is None
    assert h.engine.orders()[0].status == "CANCELLED"


def test_the_engine_alone_never_builds_a_market_order() -> None:
    # the Order type itself refuses a market order without an operator action
    with pytest.raises(OrderError):
        Order("rt-ETH-BTC-000001-exit-1", PAIR, OrderSide.SELL, OrderType.MARKET, D(1))


def test_the_remainder_of_a_partly_filled_stop_is_protected_again_after_a_replace() -> None:
    # Arrange: a position whose stop sold part of it while the stop was being replaced
    keeper = StopKeeper(PRODUCT, quick_settings())
    position = Position("ETH-BTC#000001", PRODUCT, TrailPolicy(D(2)))
    position.on_entry_fill(Fill("t1", D("0.05000"), D(2)))
    keeper.desire(position, position.on_entry_done() or D(0), 0.0, m.Decision())
    position.on_exit_fill(Fill("t2", D("0.04900"), D(1)))  # EXITING, 1 left
    decision = m.Decision()
    made: list[Order] = []

    def new_order(
        role: object, side: OrderSide, kind: OrderType, size: D, **extra: object
    ) -> Order:
        order = Order(f"rt-ETH-BTC-000001-stop-{len(made) + 2}", PAIR, side, kind, size, **extra)  # type: ignore[arg-type]
        made.append(order)
        return order

    # Act
    keeper.place(position, 1.0, decision, new_order)
    # Assert
    [place] = [c for c in decision.commands if isinstance(c, m.PlaceOrder)]
    assert place.order.order_type is OrderType.STOP_LIMIT
    assert place.order.size == D(1)


def test_an_operators_entry_is_a_limit_buy_that_arms_the_stop_once_filled() -> None:
    # Arrange: indicators never agree, so only the operator can open a position
    h = Harness(quick_settings(rules=SignalRules(rsi_below=1.0, min_confirmations=3)))
    h.warm_up()
    action = OperatorAction(OperatorCommand.MANUAL_ENTRY, "olga", "buy 1 at 0.05", 1)
    now = START + 35 * CANDLE_SECONDS
    # Act
    h.feed([m.EntryRequestedByOperator(D("0.05000"), D(1), action)], now)
    h.trade("0.04990", now + 5)
    # Assert
    [entry] = h.placed(OrderType.LIMIT)
    assert entry.order.side is OrderSide.BUY and entry.order.size == D(1)
    assert entry.order.operator_action == action
    position = h.trader.position
    assert position is not None and position.status is PositionStatus.OPEN
    assert h.trader.stops.order is not None, "the filled entry is protected by a stop"
    audit = [a for b in h.batches for a in b.audit if a.actor == "olga"]
    assert any("manual entry" in a.detail for a in audit)


def test_an_operators_entry_off_the_increments_or_on_a_busy_pair_is_refused_and_audited() -> None:
    h = Harness(quick_settings())
    h.warm_up()  # the strategy's own entry is working
    action = OperatorAction(OperatorCommand.MANUAL_ENTRY, "olga", "buy", 1)
    h.feed([m.EntryRequestedByOperator(D("0.05"), D(1), action)], START + 35 * CANDLE_SECONDS)
    idle = Harness(quick_settings(rules=SignalRules(rsi_below=1.0, min_confirmations=3)))
    idle.feed([m.EntryRequestedByOperator(D("0.050001"), D(1), action)], START)
    assert len(h.placed(OrderType.LIMIT)) == 1  # only the strategy's entry
    assert not idle.placed(OrderType.LIMIT)
    refusals = [a.detail for x in (h, idle) for b in x.batches for a in b.audit]
    assert any("refused: the pair is busy" in d for d in refusals)
    assert any("refused" in d and "not a multiple of" in d for d in refusals)


def test_an_operator_may_cancel_the_working_entry_but_never_the_stop() -> None:
    # Arrange: a working entry
    h = Harness(quick_settings())
    h.warm_up()
    entry = h.trader.entry
    assert entry is not None and entry.is_working
    action = OperatorAction(OperatorCommand.CANCEL, "olga", "cancel", 1)
    now = START + 35 * CANDLE_SECONDS
    # Act
    h.feed([m.CancelRequestedByOperator(entry.client_order_id, action)], now)
    # Assert: the entry is cancelled and the pair is free again
    assert entry.status is OrderStatus.CANCELLED
    assert h.trader.position is None
    # Arrange: a new position with its stop resting
    h2 = Harness(quick_settings())
    h2.warm_up()
    h2.trade("0.04990", now)
    stop = h2.trader.stops.order
    assert stop is not None and stop.is_working
    # Act
    h2.feed([m.CancelRequestedByOperator(stop.client_order_id, action)], now + 1)
    # Assert: the stop still rests, and the refusal is audited
    assert stop.is_working
    assert not [c for c in h2.commands if isinstance(c, m.CancelOrder)]
    refusal = [a.detail for b in h2.batches for a in b.audit if a.actor == "olga"]
    assert any("refused" in d and "force-exit" in d for d in refusal)


def test_only_the_operator_exits_may_carry_a_market_order() -> None:
    for command in (OperatorCommand.MANUAL_ENTRY, OperatorCommand.CANCEL):
        action = OperatorAction(command, "olga", "why not", 1)
        with pytest.raises(OrderError, match="market order"):
            Order(
                "rt-ETH-BTC-000001-exit-1",
                PAIR,
                OrderSide.SELL,
                OrderType.MARKET,
                D(1),
                operator_action=action,
            )


def test_a_force_exit_that_fills_in_part_sells_the_rest_with_another_market_order() -> None:
    # Arrange: an open position in a market that trades little
    h = Harness(quick_settings())
    h.warm_up()
    now = START + 35 * CANDLE_SECONDS
    h.trade("0.04990", now)
    position = h.trader.position
    assert position is not None and position.status is PositionStatus.OPEN
    held = position.quantity
    h.trade("0.04995", now + 1, volume="4")  # only 4 trade at a time now
    action = OperatorAction(OperatorCommand.FORCE_EXIT, "alice", "leaving", 1)
    # Act
    h.feed([m.ForceExitRequested(action)], now + 2)
    for step in range(3, 40):
        if h.trader.position is None:
            break
        h.trade("0.04995", now + 3 * step, volume="4")
    # Assert: every market sell was the operator's, and together they sold everything
    sells = [c.order for c in h.placed(OrderType.MARKET)]
    assert len(sells) > 1, "the first market sell filled only in part"
    assert all(o.operator_action == action for o in sells)
    assert sum(o.filled_size for o in sells) == PRODUCT.sell_size(held)
    assert position.status is PositionStatus.CLOSED


def test_a_force_exit_that_cannot_sell_everything_protects_the_rest_with_a_stop_again() -> None:
    h = Harness(quick_settings())
    h.warm_up()
    now = START + 35 * CANDLE_SECONDS
    h.trade("0.04990", now)
    h.trade("0.04995", now + 1, volume="1")
    action = OperatorAction(OperatorCommand.FORCE_EXIT, "alice", "leaving", 1)
    h.feed([m.ForceExitRequested(action)], now + 2)
    for step in range(1, 20):
        h.trade("0.04995", now + 2 + 3 * step, volume="1")
    position = h.trader.position
    assert position is not None and position.quantity > 0
    assert len(h.placed(OrderType.MARKET)) == 5  # MAX_MARKET_SELLS
    stop = h.trader.stops.order
    assert stop is not None and stop.is_working and stop.size == position.quantity
    audit = [a.detail for b in h.batches for a in b.audit if a.actor == "alice"]
    assert any("protected by a stop again" in d for d in audit)


def test_a_stop_the_market_fell_through_is_replaced_by_a_limit_sell_at_the_market() -> None:
    # Arrange: an open position whose stop rests near 0.049
    h = Harness(quick_settings(stranded_stop_after=30.0))
    h.warm_up()
    now = START + 35 * CANDLE_SECONDS
    h.trade("0.04990", now)
    position = h.trader.position
    stop = h.trader.stops.order
    assert position is not None and stop is not None and stop.limit_price is not None
    # Act: the market falls through the stop while little trades, and stays below its limit
    h.trade("0.04000", now + 1, volume="5")
    assert stop.is_working and stop.filled_size > 0, "triggered, sold in part, rest above"
    h.trade("0.04000", now + 10)
    still_stranded = h.trader.position is not None and stop.is_working
    for step in range(20, 80, 10):
        h.trade("0.04000", now + step)
    # Assert: after 30 s below the limit, a limit sell at the market sold the rest
    assert still_stranded, "nothing is done before stranded_stop_after"
    assert stop.status is OrderStatus.CANCELLED
    [chase] = [
        c.order
        for c in h.placed(OrderType.LIMIT)
        if c.order.side is OrderSide.SELL and c.order.limit_price is not None
    ]
    assert chase.limit_price == PRODUCT.sell_limit_price(D("0.04000") * D("0.995"))
    assert not h.placed(OrderType.MARKET)
    assert position.status is PositionStatus.CLOSED
    audit = [a.detail for b in h.batches for a in b.audit if a.action == "stop stranded"]
    assert len(audit) == 1 and "0.04000" in audit[0]


FORCE = OperatorAction(OperatorCommand.FORCE_EXIT, "alice", "leaving", 1)


def open_with_stop(**overrides: object) -> Harness:
    h = Harness(quick_settings(**overrides))
    h.warm_up()
    h.trade("0.04990", START + 35 * CANDLE_SECONDS)
    assert h.trader.stops.order is not None
    return h


def test_a_force_exit_while_a_new_stop_is_being_sent_cancels_it_once_acknowledged() -> None:
    # Arrange: the trail rose; the old stop is cancelled and the new one is on its way
    h = open_with_stop(stop_moves="replace")
    now = START + 35 * CANDLE_SECONDS + 10
    h.engine.market_move(PAIR, D("0.05200"), D("1000"), now)
    h.feed(h.exchange.updates(), now)
    decision = h.trader.handle(m.PriceTick(D("0.05200"), now), now)
    [cancel] = [c for c in decision.commands if isinstance(c, m.CancelOrder)]
    in_flight: list[m.PlaceOrder] = []
    queue = deque(h.execute(cancel, now))
    while queue:
        for command in h.trader.handle(queue.popleft(), now).commands:
            if isinstance(command, m.PlaceOrder):
                in_flight.append(command)  # the REST call has not returned yet
            else:
                queue.extend(h.execute(command, now))
    [place] = in_flight
    # Act: the operator force-exits now; then the stop's place call returns
    h.feed([m.ForceExitRequested(FORCE)], now + 1)
    h.feed(h.execute(place, now + 1), now + 1)
    h.trade("0.05150", now + 2)
    # Assert: the acknowledged stop was cancelled and the position sold at market
    assert place.order.status is OrderStatus.CANCELLED
    [market] = h.placed(OrderType.MARKET)
    assert market.order.operator_action == FORCE
    assert h.trader.position is None


def test_a_force_exit_whose_cancel_failed_asks_again_and_sells() -> None:
    h = open_with_stop()
    now = START + 35 * CANDLE_SECONDS + 10
    decision = h.trader.handle(m.ForceExitRequested(FORCE), now)
    [cancel] = [c for c in decision.commands if isinstance(c, m.CancelOrder)]
    # the cancel call failed (an outage outlasting the adapter's retries)
    h.feed([m.CancelAnswered(cancel.order.client_order_id, False, "503")], now)
    for i in range(1, 4):
        h.trade("0.05000", now + 5 * i)
        h.feed([m.TimerFired(now + 5 * i)], now + 5 * i)
    assert cancel.order.status is OrderStatus.CANCELLED
    assert len(h.placed(OrderType.MARKET)) == 1
    assert h.trader.position is None


def test_a_restart_after_a_force_exit_gave_up_lets_the_stop_trail_again() -> None:
    # Arrange: a force-exit that could sell only part, gave up and placed a stop again
    h = open_with_stop()
    now = START + 35 * CANDLE_SECONDS
    h.trade("0.04995", now + 1, volume="1")
    h.feed([m.ForceExitRequested(FORCE)], now + 2)
    for step in range(1, 20):
        h.trade("0.04995", now + 2 + 3 * step, volume="1")
    trader = h.trader
    position = trader.position
    assert position is not None and trader.forced is None and trader.stops.order is not None
    orders = [o for o in [trader.entry] if o] + [
        c.order for c in h.commands if isinstance(c, m.PlaceOrder) and c.order.side.value == "SELL"
    ]
    # Act: a restart takes the position back with its orders, oldest first
    fresh = PairTrader(PRODUCT, quick_settings())
    fresh.restore(position, orders)
    h.trader = fresh
    stop = fresh.stops.order
    # Assert: no operator exit is left frozen; the stop protects the rest, and a new force-exit
    # starts afresh (it is not taken for the old one "already under way")
    assert fresh.forced is None and not fresh.stops.frozen
    assert stop is not None and stop.is_working
    h.feed([m.ForceExitRequested(FORCE)], now + 300)
    h.trade("0.04995", now + 301, volume="1000")
    assert stop.status is OrderStatus.CANCELLED
    assert len(h.placed(OrderType.MARKET)) == 6  # the 5 before the restart, then one more


# -- stops moved by editing the resting order ---------------------------------------------------
def rise(h: Harness, price: str, now: float) -> list[m.EngineCommand]:
    """The market trades up to ``price``; the commands of the trader's tick, not carried out."""
    h.engine.market_move(PAIR, D(price), D("1000"), now)
    h.feed(h.exchange.updates(), now)
    return h.trader.handle(m.PriceTick(D(price), now), now).commands


def the_edit(commands: list[m.EngineCommand]) -> m.EditOrder:
    """The one command given: an edit."""
    [edit] = commands
    assert isinstance(edit, m.EditOrder)
    return edit


def test_a_stop_moves_up_by_an_edit_and_is_never_unprotected() -> None:
    h = open_with_stop()
    stop = h.trader.stops.order
    assert stop is not None
    now = START + 35 * CANDLE_SECONDS + 10
    h.trade("0.05200", now)
    # the same order rests at the new level, on the exchange as in the trader
    assert h.trader.stops.order is stop and stop.stop_price == D("0.05096")
    assert h.trader.stops.confirmed == D("0.05096")
    on_exchange = h.engine.order_by_client_id(stop.client_order_id)
    assert on_exchange is not None and on_exchange.stop_price == D("0.05096")
    assert not [c for c in h.commands if isinstance(c, m.CancelOrder)]
    assert len([c for c in h.commands if isinstance(c, m.EditOrder)]) == 1
    assert h.trader.stops.unprotected == [0.0]


def test_while_an_edit_is_unanswered_the_old_stop_protects_and_no_other_move_starts() -> None:
    h = open_with_stop()
    stop = h.trader.stops.order
    assert stop is not None and stop.stop_price is not None
    old = stop.stop_price
    now = START + 35 * CANDLE_SECONDS + 10
    edit = the_edit(rise(h, "0.05200", now))
    assert edit.terms.stop_price == D("0.05096")
    # a higher high while the edit is out: no second move, the confirmed stop is the old one
    assert rise(h, "0.05300", now + 1) == []
    assert h.trader.stops.moving and h.trader.stops.confirmed == old == stop.stop_price
    # the answer: the stop rests at the edited level; the next move goes out after it
    h.feed(h.execute(edit, now + 2), now + 2)
    assert h.trader.stops.confirmed == D("0.05096")
    h.feed([m.TimerFired(now + 3)], now + 3)
    assert h.trader.stops.confirmed == D("0.05194") and h.trader.stops.order is stop


def test_a_refused_edit_falls_back_to_cancel_and_replace() -> None:
    h = open_with_stop()
    stop = h.trader.stops.order
    assert stop is not None
    now = START + 35 * CANDLE_SECONDS + 10
    edit = the_edit(rise(h, "0.05200", now))

    h.feed([m.EditAnswered(stop.client_order_id, edit.terms, False, "NOT_SUPPORTED")], now)
    # the old stop was cancelled and a new one rests at the desired level
    assert stop.status is OrderStatus.CANCELLED
    new = h.trader.stops.order
    assert new is not None and new is not stop and new.stop_price == D("0.05096")
    assert h.trader.stops.confirmed == D("0.05096")
    refused = [a for b in h.batches for a in b.audit if a.action == "stop edit refused"]
    assert refused and "NOT_SUPPORTED" in refused[0].detail


def test_after_three_refused_edits_in_a_row_stops_move_by_cancel_and_replace() -> None:
    h = open_with_stop()
    now = START + 35 * CANDLE_SECONDS + 10
    for i, price in enumerate(("0.05200", "0.05300", "0.05400")):
        edit = the_edit(rise(h, price, now + i))

        h.feed([m.EditAnswered(edit.order.client_order_id, edit.terms, False, "NO")], now + i)
    commands = rise(h, "0.05500", now + 5)
    assert [type(c) for c in commands] == [m.CancelOrder]


def test_refusals_that_only_say_the_market_moved_do_not_turn_edits_off() -> None:
    h = open_with_stop()
    now = START + 35 * CANDLE_SECONDS + 10
    moments = (
        "edit refused: PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE",
        "CANNOT_EDIT_STOP_PRICE_FOR_TRIGGERED_ORDER",
        "edit refused: PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE",
    )
    prices = ("0.05200", "0.05300", "0.05400")
    for i, (price, reason) in enumerate(zip(prices, moments, strict=True)):
        edit = the_edit(rise(h, price, now + i))

        h.feed([m.EditAnswered(edit.order.client_order_id, edit.terms, False, reason)], now + i)
    # three refusals in a row, none saying edits do not work: the next move is an edit again
    assert isinstance(the_edit(rise(h, "0.05500", now + 5)), m.EditOrder)


def test_a_force_exit_while_an_edit_is_unanswered_sells_and_ignores_the_late_answer() -> None:
    h = open_with_stop()
    stop = h.trader.stops.order
    assert stop is not None
    now = START + 35 * CANDLE_SECONDS + 10
    edit = the_edit(rise(h, "0.05200", now))
    h.feed([m.ForceExitRequested(FORCE)], now + 1)
    assert stop.status is OrderStatus.CANCELLED
    h.feed(h.execute(edit, now + 2), now + 2)  # the edit reaches a cancelled order: refused
    h.feed([m.EditAnswered(stop.client_order_id, edit.terms, True)], now + 2)  # a late "yes"
    [market] = h.placed(OrderType.MARKET)
    assert market.order.operator_action == FORCE
    assert h.trader.position is None
    assert stop.stop_price != edit.terms.stop_price  # nothing applied to the cancelled stop


def test_an_edit_answered_after_the_stop_filled_changes_nothing() -> None:
    h = open_with_stop()
    stop = h.trader.stops.order
    assert stop is not None
    position = h.trader.position
    now = START + 35 * CANDLE_SECONDS + 10
    edit = the_edit(rise(h, "0.05200", now))
    h.trade("0.04800", now + 1)  # the market falls through the old stop: it fills
    assert stop.status is OrderStatus.FILLED and h.trader.position is None
    decision = h.trader.handle(m.EditAnswered(stop.client_order_id, edit.terms, True), now + 2)
    assert decision.commands == [] and position is not None
    assert position.status is PositionStatus.CLOSED
