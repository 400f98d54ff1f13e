"""Runtime.post: an event for an idle pair is handled at once; otherwise it queues, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

from ratchet.domain.money import Product
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime import Runtime
from ratchet.memory_store import MemoryStore
from ratchet.ports import MarketEvent

PRODUCT = Product("ETH-BTC", Decimal("0.001"), Decimal("0.00001"), Decimal("0.01"))


class QuietFeed:
    """A feed with nothing to say."""

    async def events(self) -> AsyncIterator[MarketEvent]:
        await asyncio.Event().wait()
        yield  # type: ignore[misc]  # never reached: makes this an async generator

    def listen(self, handler: object) -> None:
        return None

    async def close(self) -> None:
        return None


class Recording(PairTrader):
    """A trader that notes what it handles; the first tick makes it post another event."""

    def __init__(self) -> None:
        super().__init__(PRODUCT)
        self.seen: list[float] = []
        self.runtime: Runtime | None = None

    def handle(self, event: m.EngineEvent, now: float) -> m.Decision:
        if isinstance(event, m.PriceTick):
            self.seen.append(event.time)
            if event.time == 1.0 and self.runtime is not None:
                # posted while this event is handled: it must wait its turn
                self.runtime.post(self.pair, m.PriceTick(Decimal(1), 2.0))
                self.seen.append(1.5)
        return super().handle(event, now)


async def test_an_idle_pair_takes_an_event_at_once_and_a_busy_one_queues_it_in_order() -> None:
    trader = Recording()
    gate = RiskGate(PortfolioConfig(total_capital=Decimal(10)))
    runtime = Runtime(
        None,  # type: ignore[arg-type]  # no command reaches the exchange here
        QuietFeed(),  # type: ignore[arg-type]
        MemoryStore(),
        {trader.pair: trader},
        gate,
        quote_currency="BTC",
        timer_interval=3600,
    )
    trader.runtime = runtime
    runtime.post(trader.pair, m.PriceTick(Decimal(1), 0.5))  # not running yet: queued
    assert trader.seen == []
    stop = asyncio.Event()
    engine = asyncio.create_task(runtime.run(stop))
    await asyncio.sleep(0.01)
    assert trader.seen == [0.5]  # the worker took the queued one

    runtime.post(trader.pair, m.PriceTick(Decimal(1), 1.0))
    assert trader.seen == [0.5, 1.0, 1.5]  # handled at once, and the one it posted queued
    await asyncio.sleep(0.01)
    assert trader.seen == [0.5, 1.0, 1.5, 2.0]  # then taken by the worker, in order

    stop.set()
    await engine
    assert runtime.stats.events == 3
