"""The in-memory store keeps what the SQL store keeps: an order's first created_at."""

from __future__ import annotations

from decimal import Decimal

from ratchet.domain.orders import Accepted, Order, OrderSide, OrderType, Submitted
from ratchet.memory_store import MemoryStore
from ratchet.ports import OrderRecord, StateBatch


async def test_an_order_updated_later_keeps_its_first_created_at() -> None:
    store = MemoryStore()
    order = Order(
        "rt-ETH-BTC-000001-entry-1",
        "ETH-BTC",
        OrderSide.BUY,
        OrderType.LIMIT,
        Decimal("0.5"),
        limit_price=Decimal("0.05"),
    )
    await store.commit(StateBatch(orders=[OrderRecord(order, "ETH-BTC#000001", 100.0, 100.0)]))
    order.apply(Submitted())
    order.apply(Accepted("ex-1"))
    await store.commit(StateBatch(orders=[OrderRecord(order, "ETH-BTC#000001", 250.0, 250.0)]))

    [kept] = store.orders.values()
    assert (kept.created_at, kept.updated_at) == (100.0, 250.0)
    assert kept.order.exchange_order_id == "ex-1"
