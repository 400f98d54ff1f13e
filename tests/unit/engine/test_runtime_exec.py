"""CommandExecutor: reads of one order's fills are folded into one in flight and one after;
a read that fails every attempt goes back to the trader."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from ratchet.domain.money import Product
from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import Amended, Order, OrderSide, OrderType
from ratchet.domain.reports import FillReport, OrderReport
from ratchet.engine import messages as m
from ratchet.engine import runtime_exec
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime_exec import CommandExecutor
from ratchet.ports import EditResult, ExchangeUnavailable, OrderNotFound

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
    executor = CommandExecutor(Posts(exchange), asyncio.Semaphore(1), 0)  # type: ignore[arg-type]
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
    executor = CommandExecutor(runtime, asyncio.Semaphore(1), 0)  # type: ignore[arg-type]
    executor.start(PairTrader(PRODUCT), m.FetchFills(stop_order()))
    await executor.wait()
    return runtime.posted


async def test_after_a_cancel_a_stop_with_no_fills_costs_one_read() -> None:
    exchange = Cancelled("0")
    posted = await fetch_after_cancel(exchange)

    assert exchange.calls == ["order"]
    updated, read = posted
    assert isinstance(updated, m.OrderUpdated)
    assert read == m.OrderRead("rt-ETH-BTC-000001-stop-1")
    assert updated.report.status is OrderStatus.CANCELLED


async def test_after_a_cancel_fills_we_lack_are_read_after_the_order() -> None:
    exchange = Cancelled("0.4")
    posted = await fetch_after_cancel(exchange)

    assert exchange.calls == ["order", "fills"]
    fills, updated, read = posted
    assert read == m.OrderRead("rt-ETH-BTC-000001-stop-1")
    assert isinstance(fills, m.FillsReported) and fills.fills[0].size == Decimal("0.4")
    assert isinstance(updated, m.OrderUpdated) and updated.report.filled_size == Decimal("0.4")


class Down:
    """An exchange whose reads all fail (an outage outlasting the adapter's retries)."""

    def __init__(self) -> None:
        self.reads = 0

    async def get_order(self, exchange_order_id: str) -> OrderReport:
        self.reads += 1
        raise ExchangeUnavailable("503 Service Unavailable")

    async def find_order(self, client_order_id: str) -> OrderReport | None:
        self.reads += 1
        raise ExchangeUnavailable("503 Service Unavailable")


async def test_a_read_that_fails_every_attempt_is_handed_back_to_the_trader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_exec, "READ_PAUSE", 0.0)
    exchange = Down()
    runtime = Posts(exchange)  # type: ignore[arg-type]
    executor = CommandExecutor(runtime, asyncio.Semaphore(1), 0)  # type: ignore[arg-type]
    fetch, look_up = m.FetchFills(stop_order()), m.LookUpOrder(stop_order())

    executor.start(PairTrader(PRODUCT), fetch)
    executor.start(PairTrader(PRODUCT), look_up)
    await executor.wait()

    assert exchange.reads == 2 * runtime_exec.READ_ATTEMPTS
    assert sorted(runtime.posted, key=repr) == sorted(
        [m.ReadFailed(fetch), m.ReadFailed(look_up)], key=repr
    )


class Edits:
    """An exchange that accepts every edit; ``keeps`` other terms than asked (a broken one)."""

    def __init__(self, *, keeps: bool) -> None:
        self.keeps = keeps
        self.edits: list[tuple[Decimal, Decimal, Decimal | None]] = []

    async def edit_order(
        self,
        exchange_order_id: str,
        *,
        size: Decimal,
        limit_price: Decimal,
        stop_price: Decimal | None = None,
    ) -> EditResult:
        self.edits.append((size, limit_price, stop_price))
        return EditResult(True)

    async def get_order(self, exchange_order_id: str) -> OrderReport:
        order = stop_order()
        size, limit, stop = self.edits[-1]
        if self.keeps:
            size, limit, stop = order.size, order.limit_price or limit, order.stop_price
        return OrderReport(
            exchange_order_id,
            order.client_order_id,
            "ETH-BTC",
            OrderSide.SELL,
            OrderType.STOP_LIMIT,
            OrderStatus.OPEN,
            size,
            limit_price=limit,
            stop_price=stop,
        )


async def edit_twice(exchange: Edits) -> tuple[CommandExecutor, list[m.EngineEvent]]:
    runtime = Posts(exchange)  # type: ignore[arg-type]
    executor = CommandExecutor(runtime, asyncio.Semaphore(1), 0)  # type: ignore[arg-type]
    terms = Amended(Decimal(1), Decimal("0.0502"), Decimal("0.0505"))
    for _ in range(2):
        executor.start(PairTrader(PRODUCT), m.EditOrder(stop_order(), terms))
        await executor.wait()
    return executor, runtime.posted


async def test_the_first_edit_accepted_is_read_back_and_later_ones_are_trusted() -> None:
    exchange = Edits(keeps=False)
    executor, posted = await edit_twice(exchange)

    assert len(exchange.edits) == 2 and not executor.edits_off
    first, report, second = posted
    assert isinstance(first, m.EditAnswered) and first.success
    assert isinstance(report, m.OrderUpdated) and report.report.stop_price == Decimal("0.0505")
    assert isinstance(second, m.EditAnswered) and second.success  # no second read


async def test_an_exchange_that_accepts_an_edit_but_keeps_the_old_terms_gets_no_more_edits() -> (
    None
):
    exchange = Edits(keeps=True)
    executor, posted = await edit_twice(exchange)

    assert len(exchange.edits) == 1  # the second is answered without asking the exchange
    assert "kept" in executor.edits_off
    first, report, second = posted
    assert isinstance(first, m.EditAnswered) and not first.success
    assert isinstance(report, m.OrderUpdated)
    assert isinstance(second, m.EditAnswered) and not second.success
    assert second.reason == executor.edits_off


async def test_a_refused_edit_carries_the_exchanges_reason_to_the_trader() -> None:
    class Refuses(Edits):
        async def edit_order(self, exchange_order_id: str, **_: Any) -> EditResult:
            return EditResult(False, "CANNOT_EDIT_STOP_PRICE_FOR_TRIGGERED_ORDER")

    runtime = Posts(Refuses(keeps=False))  # type: ignore[arg-type]
    executor = CommandExecutor(runtime, asyncio.Semaphore(1), 0)  # type: ignore[arg-type]
    terms = Amended(Decimal(1), Decimal("0.0502"), Decimal("0.0505"))
    executor.start(PairTrader(PRODUCT), m.EditOrder(stop_order(), terms))
    await executor.wait()

    [answer] = runtime.posted
    assert isinstance(answer, m.EditAnswered) and not answer.success
    assert "CANNOT_EDIT_STOP_PRICE_FOR_TRIGGERED_ORDER" in answer.reason
    assert not executor.edits_off  # a refusal is not a broken exchange
