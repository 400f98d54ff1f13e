"""A stop that partly filled just before its replace-cancel: the fills must be counted."""

from __future__ import annotations

from decimal import Decimal

from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderSide, OrderStatus, OrderType
from ratchet.domain.orders import Order
from ratchet.domain.reports import FillReport, OrderReport
from ratchet.domain.signals import SignalRules
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader, TraderSettings

D = Decimal
PAIR = "ETH-BTC"
PRODUCT = Product(PAIR, D("0.001"), D("0.00001"), D("0.01"), quote_increment=D("0.00000001"))
START = 1_700_000_100 - 1_700_000_100 % CANDLE_SECONDS


def fill(trade_id: str, xid: str, side: OrderSide, price: str, size: str) -> FillReport:
    return FillReport(trade_id, xid, PAIR, side, D(price), D(size), D(0), "MAKER", START)


class Trader:
    """A trader fed by hand, keeping every command it gave."""

    def __init__(self) -> None:
        settings = TraderSettings(
            rules=SignalRules(rsi_below=99.0, min_confirmations=1),
            min_stop_interval=0.0,
            stop_moves="replace",  # these are about the fallback: a stop cancelled and replaced
        )
        self.trader = PairTrader(PRODUCT, settings)
        self.commands: list[m.EngineCommand] = []

    def feed(self, event: m.EngineEvent, now: float) -> list[m.EngineCommand]:
        given = self.trader.handle(event, now).commands
        self.commands.extend(given)
        return given


def stop_being_replaced() -> tuple[Trader, Order, float]:
    """A filled entry, its stop resting, then cancelled for a higher one: (trader, stop, now)."""
    t = Trader()
    for i in range(34):  # flat candles until the first signal
        p = D("0.05000")
        t.feed(
            m.CandleClosed(Candle(START + i * CANDLE_SECONDS, p, p, p, p, D(10))), START + i * 300
        )
    now = START + 35 * CANDLE_SECONDS
    t.feed(m.EntryApproved(D(1)), now)
    entry = t.trader.entry
    assert entry is not None
    t.feed(m.OrderPlaced(entry.client_order_id, "x-entry"), now)
    t.feed(
        m.FillsReported((fill("t1", "x-entry", OrderSide.BUY, "0.05000", str(entry.size)),)), now
    )
    stop = t.trader.stops.order
    assert stop is not None and stop.order_type is OrderType.STOP_LIMIT
    t.feed(m.OrderPlaced(stop.client_order_id, "x-stop"), now)
    assert t.trader.stops.confirmed == stop.stop_price
    # the stop triggers and sells part; meanwhile a new high makes the engine replace it
    t.feed(m.PriceTick(D("0.05200"), now + 60), now + 60)
    assert any(isinstance(c, m.CancelOrder) and c.order is stop for c in t.commands)
    return t, stop, now


def cancelled_report(stop: Order, filled: str) -> OrderReport:
    return OrderReport(
        "x-stop",
        stop.client_order_id,
        PAIR,
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        OrderStatus.CANCELLED,
        stop.size,
        filled_size=D(filled),
        stop_price=stop.stop_price,
    )


def read_answered(t: Trader, stop: Order, at: float) -> list[m.EngineCommand]:
    """The exchange answers the read of the cancelled stop (it sold 5): the commands given."""
    placed = t.feed(m.FillsReported((fill("t2", "x-stop", OrderSide.SELL, "0.04900", "5"),)), at)
    placed += t.feed(m.OrderUpdated(cancelled_report(stop, "5")), at)
    placed += t.feed(m.OrderRead(stop.client_order_id), at)
    return placed


def assert_the_sold_are_counted(t: Trader, placed: list[m.EngineCommand], held: D) -> None:
    """The 5 sold left the position, and the one new stop covers only what is still held."""
    position = t.trader.position
    assert position is not None
    assert position.quantity == held - D(5)
    [new] = [c.order for c in placed if isinstance(c, m.PlaceOrder)]
    assert new is t.trader.stops.order and new.size == position.quantity


def test_fills_of_a_stop_reported_after_its_replace_cancel_are_counted() -> None:
    t, stop, now = stop_being_replaced()
    position = t.trader.position
    assert position is not None
    held = position.quantity
    # the exchange: the cancel succeeds (answer first), then the fills list shows the part sold
    t.feed(m.CancelAnswered(stop.client_order_id, True), now + 61)
    t.feed(m.FillsReported((fill("t2", "x-stop", OrderSide.SELL, "0.04900", "5"),)), now + 62)
    t.feed(m.OrderUpdated(cancelled_report(stop, "5")), now + 62)
    t.feed(m.OrderRead(stop.client_order_id), now + 62)

    # the 5 sold are counted, and the replacement stop covers only what is still held
    assert stop.filled_size == D(5)
    assert position.quantity == held - D(5)
    new = t.trader.stops.order
    assert new is not None and new.size <= position.quantity


def test_a_stale_stream_report_does_not_let_a_cancelled_stop_go_before_its_read() -> None:
    # Arrange: the stop sold 5 and was cancelled; the read of its outcome is under way
    t, stop, now = stop_being_replaced()
    position = t.trader.position
    assert position is not None
    held = position.quantity
    t.feed(m.CancelAnswered(stop.client_order_id, True), now + 61)
    # Act: the stream delivers, late, a report from before the fill (open, nothing filled)
    stale = OrderReport(
        "x-stop",
        stop.client_order_id,
        PAIR,
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        OrderStatus.OPEN,
        stop.size,
        stop_price=stop.stop_price,
    )
    # Assert: no new stop for the whole position yet: what the old one sold is not known
    assert t.feed(m.OrderUpdated(stale), now + 62) == []
    assert t.trader.stops.retiring is stop
    # the read answers: the 5 sold are counted and the new stop covers only the rest
    assert_the_sold_are_counted(t, read_answered(t, stop, now + 63), held)


def test_a_failed_read_of_a_cancelled_stops_fills_is_asked_again_until_it_succeeds() -> None:
    # Arrange: the stop sold 5 and was cancelled; the read of its outcome fails every attempt
    t, stop, now = stop_being_replaced()
    position = t.trader.position
    assert position is not None
    held = position.quantity
    [read] = [
        c
        for c in t.feed(m.CancelAnswered(stop.client_order_id, True), now + 61)
        if isinstance(c, m.FetchFills)
    ]
    assert read.order is stop
    t.feed(m.ReadFailed(read), now + 90)
    # Act / Assert: not asked again before the pause is over, then once, then not again
    assert t.feed(m.TimerFired(now + 95), now + 95) == []
    assert t.feed(m.TimerFired(now + 100), now + 100) == [m.FetchFills(stop)]
    assert t.feed(m.TimerFired(now + 111), now + 111) == []
    # it fails again: and is asked again
    t.feed(m.ReadFailed(m.FetchFills(stop)), now + 120)
    assert t.feed(m.TimerFired(now + 130), now + 130) == [m.FetchFills(stop)]
    # this time the exchange answers: the 5 sold are counted, the new stop covers the rest
    assert_the_sold_are_counted(t, read_answered(t, stop, now + 131), held)
    assert t.feed(m.TimerFired(now + 200), now + 200) == []


def test_a_failed_look_up_of_an_order_whose_send_failed_is_asked_again() -> None:
    t, stop, now = stop_being_replaced()
    t.feed(m.CancelAnswered(stop.client_order_id, True), now + 61)
    t.feed(m.OrderUpdated(cancelled_report(stop, "0")), now + 62)
    [new] = [
        c.order
        for c in t.feed(m.OrderRead(stop.client_order_id), now + 62)
        if isinstance(c, m.PlaceOrder)
    ]
    [look_up] = [
        c
        for c in t.feed(m.OrderSendFailed(new.client_order_id, "timeout"), now + 63)
        if isinstance(c, m.LookUpOrder)
    ]
    t.feed(m.ReadFailed(look_up), now + 70)

    assert t.feed(m.TimerFired(now + 80), now + 80) == [m.LookUpOrder(new)]


def test_a_failed_read_is_forgotten_with_the_position() -> None:
    t, stop, now = stop_being_replaced()
    t.feed(m.ReadFailed(m.FetchFills(stop)), now + 61)
    t.trader._finish(m.Decision(), "test: position over")

    assert t.feed(m.TimerFired(now + 100), now + 100) == []
