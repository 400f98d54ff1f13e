"""An order snapshot is a full, independent copy (every field, spelled out by hand)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from ratchet.domain.order_types import OrderSide, OrderType
from ratchet.sim.records import EditRecord, SimOrder


def test_a_snapshot_copies_every_field_and_shares_no_history() -> None:
    # every field set to something other than its default, so a field left out would show
    order = SimOrder(
        order_id="o",
        client_order_id="c",
        product_id="ETH-BTC",
        side=OrderSide.SELL,
        order_type=OrderType.STOP_LIMIT,
        size=Decimal("2"),
        quote_size=Decimal("3"),
        limit_price=Decimal("0.05"),
        stop_price=Decimal("0.051"),
        stop_direction="STOP_DIRECTION_STOP_DOWN",
        post_only=True,
        time_in_force="GOOD_UNTIL_DATE_TIME",
        end_time=9.0,
        created_time=1.0,
        hold_currency="ETH",
        updated_time=2.0,
        hold=Decimal("1.5"),
        status="CANCELLED",
        trigger_status="STOP_TRIGGERED",
        filled_size=Decimal("0.5"),
        filled_value=Decimal("0.025"),
        total_fees=Decimal("0.0001"),
        number_of_fills=1,
        last_fill_time=3.0,
        cancel_reason="why",
        reject_reason="because",
        edit_history=[EditRecord(Decimal("0.05"), Decimal("2"), None, 4.0)],
    )
    defaults = SimOrder(
        "",
        "",
        "",
        OrderSide.BUY,
        OrderType.LIMIT,
        None,
        None,
        None,
        None,
        None,
        False,
        "",
        None,
        0.0,
        "",
    )
    for f in dataclasses.fields(SimOrder):
        assert getattr(order, f.name) != getattr(defaults, f.name), f.name

    copy = order.snapshot()

    assert copy == order and copy is not order
    copy.edit_history.append(EditRecord(Decimal(1), Decimal(1), None, 5.0))
    copy.filled_size += 1
    assert len(order.edit_history) == 1 and order.filled_size == Decimal("0.5")
