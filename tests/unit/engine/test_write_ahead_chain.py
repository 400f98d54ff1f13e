"""A decision's commands wait for its write-ahead batch; the pair's events do not.

The runtime hands the executor each decision's commands with the write they depend on: they
start once it is on disk, the pair's later commands start after them, a failed write starts
none of them, and other pairs are never held up.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ratchet.domain.money import Product
from ratchet.domain.orders import Order, OrderSide, OrderType
from ratchet.domain.reports import OrderReport
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime_exec import CommandExecutor
from ratchet.ports import OrderNotFound

ETH = Product("ETH-BTC", Decimal("0.001"), Decimal("0.00001"), Decimal("0.01"))
ADA = Product("ADA-BTC", Decimal("1"), Decimal("0.00000001"), Decimal("1"))


class Recorder:
    """The part of the runtime the executor talks to: an exchange that records the calls."""

    def __init__(self) -> None:
        self.exchange = self
        self.calls: list[str] = []
        self.posted: list[m.EngineEvent] = []

    def post(self, pair: str, event: m.EngineEvent) -> None:
        self.posted.append(event)

    async def get_order(self, exchange_order_id: str) -> OrderReport:
        raise OrderNotFound(exchange_order_id)  # then the fills are read (and recorded)

    async def list_fills(self, **kwargs: object) -> list[object]:
        for order_id in kwargs["exchange_order_ids"]:  # type: ignore[attr-defined]
            self.calls.append(f"fills {order_id}")
        return []


def fetch(product: Product, order_id: str) -> m.FetchFills:
    order = Order(
        f"rt-{product.product_id}-000001-{order_id}",
        product.product_id,
        OrderSide.SELL,
        OrderType.LIMIT,
        Decimal(1),
        limit_price=Decimal("0.05"),
        exchange_order_id=order_id,
    )
    return m.FetchFills(order)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_commands_wait_for_their_write_and_keep_the_pairs_order() -> None:
    # Arrange
    runtime = Recorder()
    executor = CommandExecutor(runtime, asyncio.Semaphore(4), 0)  # type: ignore[arg-type]
    eth, ada = PairTrader(ETH), PairTrader(ADA)
    written: asyncio.Future[list[None]] = asyncio.get_running_loop().create_future()

    # Act: a decision with a batch on its way to disk, then one without (same pair), then
    # another pair's
    executor.start_after(eth, [fetch(ETH, "e-1")], written)
    executor.start_after(eth, [fetch(ETH, "e-2")], None)
    executor.start_after(ada, [fetch(ADA, "a-1")], None)
    await settle()
    before_the_write = list(runtime.calls)
    written.set_result([None])
    await executor.wait()

    # Assert
    assert before_the_write == ["fills a-1"]  # the other pair is not held up
    assert runtime.calls == ["fills a-1", "fills e-1", "fills e-2"]
    assert not executor.busy


async def test_a_failed_write_starts_none_of_its_commands() -> None:
    # Arrange
    runtime = Recorder()
    executor = CommandExecutor(runtime, asyncio.Semaphore(4), 0)  # type: ignore[arg-type]
    eth = PairTrader(ETH)
    written: asyncio.Future[list[None]] = asyncio.get_running_loop().create_future()

    # Act
    executor.start_after(eth, [fetch(ETH, "e-1")], written)
    executor.start_after(eth, [fetch(ETH, "e-2")], None)
    assert executor.busy  # drain() and shutdown wait for commands held for a write
    written.set_exception(OSError("disk full"))
    await executor.wait()

    # Assert: the intent is not durable, so its command never ran; the later one did
    assert runtime.calls == ["fills e-2"]


async def test_with_nothing_pending_commands_start_at_once() -> None:
    runtime = Recorder()
    executor = CommandExecutor(runtime, asyncio.Semaphore(4), 0)  # type: ignore[arg-type]

    executor.start_after(PairTrader(ETH), [fetch(ETH, "e-1")], None)
    await settle()

    assert runtime.calls == ["fills e-1"]
