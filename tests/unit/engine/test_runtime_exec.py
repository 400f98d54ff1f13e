"""CommandExecutor: reads of one order's fills are folded into one in flight and one after."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import Order, OrderSide, OrderType
from ratchet.domain.reports import FillReport, OrderReport
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime_exec import CommandExecutor
from ratchet.ports import OrderNotFound

PRODUCT = Product("ETH-BTC", Decimal("0.001"), Decimal("0.00001"), Decimal("0.01"))


class SlowReads:
    """An exchange whose fills list answers only when the test lets it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.fill_reads = 0
        self.order_reads = 0

    async def list_fills(self, **_: Any) -> list[FillReport]:
        self.fill_reads += 1
        await self.release.wait()
        return []

    async def get_order(self, exchange_order_id: str) -> OrderReport:
        self.order_reads += 1
        raise OrderNotFound(exchange_order_id)  # the test needs no report


class Posts:
    """The part of the runtime the executor talks to."""

    def __init__(self, exchange: SlowReads) -> None:
        self.exchange = exchange
        self.posted: list[m.EngineEvent] = []

    def post(self, pair: str, event: m.EngineEvent) -> None:
        self.posted.append(event)


async def test_many_asks_to_read_one_orders_fills_cost_two_reads() -> None:
    exchange = SlowReads()
    executor = CommandExecutor(Posts(exchange), asyncio.Semaphore(1))  # type: ignore[arg-type]
    trader = PairTrader(PRODUCT)
    order = Order(
        "rt-ETH-BTC-000001-stop-1",
        "ETH-BTC",
        OrderSide.SELL,
        OrderType.LIMIT,
        Decimal(1),
        limit_price=Decimal("0.05"),
        exchange_order_id="x-1",
    )

    for _ in range(5):  # five partial-fill reports arrive while the first read is slow
        executor.start(trader, m.FetchFills(order))
    await asyncio.sleep(0.01)
    first = exchange.fill_reads
    exchange.release.set()
    await executor.wait()

    assert first == 1
    assert exchange.fill_reads == 2  # one read in flight, then one read after all the asks
    assert exchange.order_reads == 2
    assert executor.coalesced_reads == 4
    assert not executor.busy


class Cancelled:
    """An exchange that knows one cancelled stop, with ``filled`` of it sold."""

    def __init__(self, filled: str) -> None:
        self.filled = Decimal(filled)
        self.calls: list[str] = []

    async def get_order(self, exchange_order_id: str) -> OrderReport:
        self.calls.append("order")
        return OrderReport(
            exchange_order_id,
            "rt-ETH-BTC-000001-stop-1",
            "ETH-BTC",
            OrderSide.SELL,
            OrderType.STOP_LIMIT,
            OrderStatus.CANCELLED,
            Decimal(1),
            filled_size=self.filled,
        )

    async def list_fills(self, **_: Any) -> list[FillReport]:
        self.calls.append("fills")
        if not self.filled:
            return []
        return [
            FillReport(
                "t-1",
                "x-1",
                "ETH-BTC",
                OrderSide.SELL,
                Decimal("0.05"),
                self.filled,
                Decimal(0),
                "TAKER",
                0.0,
            )
        ]


def stop_order() -> Order:
    return Order(
        "rt-ETH-BTC-000001-stop-1",
        "ETH-BTC",
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        Decimal(1),
        limit_price=Decimal("0.049"),
        stop_price=Decimal("0.05"),
        exchange_order_id="x-1",
    )


async def fetch_after_cancel(exchange: Cancelled) -> list[m.EngineEvent]:
    """What a FetchFills of the cancelled stop posts back."""
    runtime = Posts(exchange)  # type: ignore[arg-type]
    executor = CommandExecutor(runtime, asyncio.Semaphore(1))  # type: ignore[arg-type]
    executor.start(PairTrader(PRODUCT), m.FetchFills(stop_order()))
    await executor.wait()
    return runtime.posted


async def test_after_a_cancel_a_stop_with_no_fills_costs_one_read() -> None:
    exchange = Cancelled("0")
    posted = await fetch_after_cancel(exchange)

    assert exchange.calls == ["order"]
    [updated] = posted
    assert isinstance(updated, m.OrderUpdated)
    assert updated.report.status is OrderStatus.CANCELLED


async def test_after_a_cancel_fills_we_lack_are_read_after_the_order() -> None:
    exchange = Cancelled("0.4")
    posted = await fetch_after_cancel(exchange)

    assert exchange.calls == ["order", "fills"]
    fills, updated = posted
    assert isinstance(fills, m.FillsReported) and fills.fills[0].size == Decimal("0.4")
    assert isinstance(updated, m.OrderUpdated) and updated.report.filled_size == Decimal("0.4")
