"""A stop that partly filled just before its replace-cancel: the fills must be counted."""

from __future__ import annotations

from decimal import Decimal

from ratchet.domain.candles import CANDLE_SECONDS, Candle
from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderSide, OrderStatus, OrderType
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


def test_fills_of_a_stop_reported_after_its_replace_cancel_are_counted() -> None:
    settings = TraderSettings(
        rules=SignalRules(rsi_below=99.0, min_confirmations=1), min_stop_interval=0.0
    )
    trader = PairTrader(PRODUCT, settings)
    commands: list[m.EngineCommand] = []

    def feed(event: m.EngineEvent, now: float) -> None:
        commands.extend(trader.handle(event, now).commands)

    for i in range(34):  # flat candles until the first signal
        p = D("0.05000")
        feed(m.CandleClosed(Candle(START + i * CANDLE_SECONDS, p, p, p, p, D(10))), START + i * 300)
    now = START + 35 * CANDLE_SECONDS
    feed(m.EntryApproved(D(1)), now)
    entry = trader.entry
    assert entry is not None
    feed(m.OrderPlaced(entry.client_order_id, "x-entry"), now)
    feed(m.FillsReported((fill("t1", "x-entry", OrderSide.BUY, "0.05000", str(entry.size)),)), now)
    stop = trader.stops.order
    assert stop is not None and stop.order_type is OrderType.STOP_LIMIT
    feed(m.OrderPlaced(stop.client_order_id, "x-stop"), now)
    assert trader.stops.confirmed == stop.stop_price
    position = trader.position
    assert position is not None
    held = position.quantity

    # the stop triggers and sells part; meanwhile a new high makes the engine replace it
    feed(m.PriceTick(D("0.05200"), now + 60), now + 60)
    assert any(isinstance(c, m.CancelOrder) and c.order is stop for c in commands)
    # the exchange: the cancel succeeds (answer first), then the fills list shows the part sold
    feed(m.CancelAnswered(stop.client_order_id, True), now + 61)
    feed(m.FillsReported((fill("t2", "x-stop", OrderSide.SELL, "0.04900", "5"),)), now + 62)
    feed(
        m.OrderUpdated(
            OrderReport(
                "x-stop",
                stop.client_order_id,
                PAIR,
                OrderSide.SELL,
                OrderType.STOP_LIMIT,
                OrderStatus.CANCELLED,
                stop.size,
                filled_size=D(5),
                stop_price=stop.stop_price,
            )
        ),
        now + 62,
    )

    # the 5 sold are counted, and the replacement stop covers only what is still held
    assert stop.filled_size == D(5)
    assert position.quantity == held - D(5)
    new = trader.stops.order
    assert new is not None and new.size <= position.quantity
