"""Rows from domain objects and back, without a database; batches snapshotted when encoded."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from ratchet.domain.ids import ClientOrderId, OrderRole, position_id
from ratchet.domain.money import Product
from ratchet.domain.orders import (
    Accepted,
    Fill,
    OperatorAction,
    OperatorCommand,
    Order,
    OrderSide,
    OrderType,
    Submitted,
    TimeInForce,
)
from ratchet.domain.position import Position, TrailPolicy
from ratchet.ports import OrderRecord, StateBatch
from ratchet.store import codec

PRODUCT = Product("ETH-BTC", Decimal("0.00000001"), Decimal("0.00001"), Decimal("0.001"))
PID = position_id("ETH-BTC", 7)


def _fields(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_fields(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _fields(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    return value


def _order(sequence: int = 1) -> Order:
    return Order(
        str(ClientOrderId("rt", PID, OrderRole.ENTRY, sequence)),
        "ETH-BTC",
        OrderSide.BUY,
        OrderType.LIMIT,
        Decimal("1.50000000"),
        Decimal("0.05329"),
    )


def test_an_order_with_fills_and_an_operator_action_comes_back_equal() -> None:
    # Arrange
    order = Order(
        str(ClientOrderId("rt", PID, OrderRole.EXIT, 1)),
        "ETH-BTC",
        OrderSide.SELL,
        OrderType.MARKET,
        Decimal("1.5"),
        time_in_force=TimeInForce.IOC,
        operator_action=OperatorAction(OperatorCommand.FORCE_EXIT, "bob", "why not", 17),
    )
    order.apply(Submitted())
    order.apply(Accepted("ex-9"))
    order.apply(Fill("t1", Decimal("0.05"), Decimal("1.5"), Decimal("0.0001"), "TAKER", 99))
    record = OrderRecord(order, PID, 10.0, 11.0)

    # Act
    row = codec.order_row(record)
    fills = [codec.fill_from_row(codec.fill_row(order.client_order_id, f)) for f in order.fills]
    back = codec.order_from_row(row, fills)

    # Assert
    assert _fields(back) == _fields(record)


def test_a_position_comes_back_equal_on_its_product() -> None:
    # Arrange
    position = Position(PID, PRODUCT, TrailPolicy(Decimal("3"), Decimal("0.25")))
    position.on_entry_fill(Fill("t1", Decimal("0.05"), Decimal("2"), Decimal("0.00001")))
    position.on_entry_done()

    # Act
    back = codec.position_from_row(codec.position_row(position, 5.0), PRODUCT)
    product = codec.product_from_row(codec.product_row(PRODUCT, 5.0))

    # Assert
    assert _fields(back) == _fields(position)
    assert product == PRODUCT


def test_a_batch_is_snapshotted_when_encoded_not_when_written() -> None:
    # Arrange
    order = _order()
    batch = StateBatch(orders=[OrderRecord(order, PID, 1.0, 1.0)])

    # Act
    encoded = codec.encode_batch(batch, now=2.0)
    order.apply(Submitted())

    # Assert
    assert encoded.orders[0]["status"] == "INITIALIZED"


def test_fills_are_taken_from_order_snapshots_and_the_batch_once_per_trade() -> None:
    # Arrange
    order = _order()
    order.apply(Submitted())
    first = Fill("t1", Decimal("0.05329"), Decimal("0.5"))
    second = Fill("t2", Decimal("0.05329"), Decimal("0.25"))
    order.apply(first)
    batch = StateBatch(
        orders=[OrderRecord(order, PID, 1.0, 1.0)],
        fills=[(order.client_order_id, first), (order.client_order_id, second)],
    )

    # Act
    encoded = codec.encode_batch(batch, now=2.0)

    # Assert
    assert [row["trade_id"] for row in encoded.fills] == ["t1", "t2"]


def test_positions_bring_their_product_along_once() -> None:
    # Arrange
    policy = TrailPolicy(Decimal("2"))
    batch = StateBatch(
        positions=[
            Position(position_id("ETH-BTC", 1), PRODUCT, policy),
            Position(position_id("ETH-BTC", 2), PRODUCT, policy),
        ]
    )

    # Act
    encoded = codec.encode_batch(batch, now=3.0)

    # Assert
    assert [row["product_id"] for row in encoded.products] == ["ETH-BTC"]
    assert [row["created_at"] for row in encoded.positions] == [3.0, 3.0]
