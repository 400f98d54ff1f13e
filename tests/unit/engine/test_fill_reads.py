"""``FillReads``: reads of many orders' fills share one list-fills call, and a read is only
answered by a call that started after it was asked."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from ratchet.domain.orders import OrderSide
from ratchet.domain.reports import FillReport
from ratchet.engine.fill_reads import FillReads
from ratchet.ports import ExchangeUnavailable


def fill(order_id: str, trade: int) -> FillReport:
    return FillReport(
        f"t-{trade}", order_id, "ETH-BTC", OrderSide.SELL, Decimal("0.05"), Decimal(1),
        Decimal("0.0002"), "MAKER", 1_700_000_000.0,
    )  # fmt: skip


class Exchange:
    """A fills list whose calls wait until the test lets them answer."""

    def __init__(self) -> None:
        self.fills: list[FillReport] = []
        self.calls: list[list[str]] = []
        self.skipped: list[frozenset[str]] = []
        self.answer = asyncio.Event()
        self.fail_next = False

    async def list_fills(self, **filters: Any) -> list[FillReport]:
        ids = list(filters["exchange_order_ids"])
        skip = frozenset(filters.get("skip_trade_ids", ()))
        self.calls.append(ids)
        self.skipped.append(skip)
        snapshot = [
            f for f in self.fills if f.exchange_order_id in ids and f.trade_id not in skip
        ]  # as of the call
        await self.answer.wait()
        if self.fail_next:
            self.fail_next = False
            raise ExchangeUnavailable("503 from the exchange")
        return snapshot


async def calls_made(exchange: Exchange, count: int) -> None:
    """Let the loop run until ``count`` calls have started."""
    for _ in range(100):
        if len(exchange.calls) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(exchange.calls)} calls started, expected {count}")


async def test_reads_asked_during_a_call_go_together_in_the_next_one() -> None:
    exchange = Exchange()
    exchange.fills = [fill("a", 1), fill("b", 2), fill("c", 3), fill("a", 4)]
    reads = FillReads(exchange.list_fills)

    first = asyncio.create_task(reads.read("a"))
    await calls_made(exchange, 1)
    later = [asyncio.create_task(reads.read(oid)) for oid in ("b", "c", "b", "d")]
    await asyncio.sleep(0)
    exchange.answer.set()
    results = await asyncio.gather(first, *later)

    assert exchange.calls == [["a"], ["b", "c", "d"]]  # five reads, two calls
    assert [[f.trade_id for f in r] for r in results] == [
        ["t-1", "t-4"],
        ["t-2"],
        ["t-3"],
        ["t-2"],
        [],  # an order without fills
    ]
    assert (reads.reads, reads.calls) == (5, 2)


async def test_a_read_is_not_answered_by_a_call_that_started_before_it() -> None:
    exchange = Exchange()
    exchange.fills = [fill("a", 1)]
    reads = FillReads(exchange.list_fills)
    before = asyncio.create_task(reads.read("a"))
    await calls_made(exchange, 1)  # the call is under way, with the list as it was then

    exchange.fills.append(fill("a", 2))  # a new fill makes the trader ask again
    after = asyncio.create_task(reads.read("a"))
    exchange.answer.set()

    assert [f.trade_id for f in await before] == ["t-1"]
    assert [f.trade_id for f in await after] == ["t-1", "t-2"]  # from a second call
    assert exchange.calls == [["a"], ["a"]]


async def test_a_failed_call_fails_each_of_its_reads_and_the_next_reads_go_on() -> None:
    exchange = Exchange()
    exchange.fills = [fill("a", 1), fill("b", 2)]
    exchange.fail_next = True
    reads = FillReads(exchange.list_fills)
    failing = [asyncio.create_task(reads.read(oid)) for oid in ("a", "b")]
    exchange.answer.set()

    for task in failing:
        with pytest.raises(ExchangeUnavailable):
            await task
    assert [f.trade_id for f in await reads.read("b")] == ["t-2"]  # each reader retries alone


async def test_close_cancels_the_reads_still_waiting() -> None:
    exchange = Exchange()
    reads = FillReads(exchange.list_fills)
    waiting = asyncio.create_task(reads.read("a"))
    await calls_made(exchange, 1)

    await reads.close()

    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_the_call_leaves_out_only_the_fills_every_read_of_the_order_knows() -> None:
    exchange = Exchange()
    exchange.fills = [fill("a", 1), fill("a", 2), fill("a", 3), fill("b", 4)]
    exchange.answer.set()
    reads = FillReads(exchange.list_fills)

    older = asyncio.create_task(reads.read("a", frozenset({"t-1"})))
    newer = asyncio.create_task(reads.read("a", frozenset({"t-1", "t-2"})))
    other = asyncio.create_task(reads.read("b", frozenset({"t-4"})))
    await asyncio.gather(older, newer, other)

    assert exchange.calls == [["a", "b"]]  # asked in one go: one call
    assert exchange.skipped[0] == {"t-1", "t-4"}  # t-2 is new to the older read of "a"
    assert [f.trade_id for f in older.result()] == ["t-2", "t-3"]
    assert [f.trade_id for f in newer.result()] == ["t-2", "t-3"]
    assert other.result() == []


async def test_with_a_gathering_window_reads_asked_soon_after_the_first_share_its_call() -> None:
    exchange = Exchange()
    exchange.fills = [fill("a", 1), fill("b", 2)]
    exchange.answer.set()
    reads = FillReads(exchange.list_fills, gather=0.05)

    first = asyncio.create_task(reads.read("a"))
    await asyncio.sleep(0.01)  # within the window: no call yet
    assert exchange.calls == []
    second = asyncio.create_task(reads.read("b"))
    await asyncio.gather(first, second)

    assert exchange.calls == [["a", "b"]]
    assert [f.trade_id for f in second.result()] == ["t-2"]
