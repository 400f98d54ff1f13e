"""The rules about orders and fills: money types, order kinds, increments, write-ahead intent,
client_order_id identity, edits only of working orders (a stop's never down), terminal
statuses, and exits only after the entry filled.

Each check appends what broke to ``found``, then updates the memory: a checked order is
remembered as committed, a fill is counted (once) for its position.
"""

from __future__ import annotations

from collections.abc import Mapping

from ratchet.domain.money import ZERO, Product, is_multiple
from ratchet.domain.order_types import OrderSide, OrderStatus, OrderType
from ratchet.domain.orders import Fill, Order
from ratchet.engine.invariants.memory import (
    Memory,
    OrderSeen,
    PositionSeen,
    identity,
    is_decimal,
    terms,
)
from ratchet.engine.invariants.violation import Violation
from ratchet.ports import OrderRecord

_LATE_FILL_COMPLETES = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)
_EDITABLE = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
_ORDER_MONEY = ("size", "limit_price", "stop_price", "filled_size", "filled_value", "fees")


def check_order(
    memory: Memory, products: Mapping[str, Product], record: OrderRecord, found: list[Violation]
) -> None:
    """Check one committed order against its kind, its product and what was seen of it, then
    remember it."""
    order, pid = record.order, record.position_id
    cid = order.client_order_id
    bad = [name for name in _ORDER_MONEY if getattr(order, name) is not None]
    bad = [name for name in bad if not is_decimal(getattr(order, name))]
    if bad:
        values = ", ".join(f"{n}={getattr(order, n)!r}" for n in bad)
        found.append(Violation("decimal-only", cid, f"not a finite Decimal: {values}"))
    if order.order_type is OrderType.MARKET and (
        order.operator_action is None or order.side is not OrderSide.SELL
    ):
        found.append(
            Violation(
                "market-needs-operator",
                cid,
                f"a market {order.side.name} without an operator action (position {pid})",
            )
        )
    if order.side is OrderSide.BUY and order.order_type is not OrderType.LIMIT:
        found.append(Violation("limit-buy-entries", cid, f"a {order.order_type.name} buy"))
    if not bad:
        _check_increments(products, order, found)
    position = memory.position(pid, order.product_id)
    before = memory.orders.get(cid)
    if before is None:
        _check_new_order(order, pid, position, found)
    else:
        _check_known_order(order, pid, before, found)
    memory.remember(record)


def _check_increments(
    products: Mapping[str, Product], order: Order, found: list[Violation]
) -> None:
    product = products.get(order.product_id)
    cid = order.client_order_id
    if product is None:
        found.append(Violation("increments", cid, f"unknown product {order.product_id}"))
        return
    for name in ("limit_price", "stop_price"):
        price = getattr(order, name)
        if price is not None and not is_multiple(price, product.price_increment):
            found.append(
                Violation("increments", cid, f"{name} {price} is off {product.price_increment}")
            )
    if not is_multiple(order.size, product.base_increment):
        found.append(
            Violation("increments", cid, f"size {order.size} is off {product.base_increment}")
        )
    if order.size < product.base_min_size:
        found.append(
            Violation("increments", cid, f"size {order.size} < minimum {product.base_min_size}")
        )


def _check_edit(order: Order, before: OrderSeen, found: list[Violation]) -> None:
    """Terms change only by an edit: of an order working on the exchange, above what has
    filled, and a stop never lower than it was."""
    cid, now = order.client_order_id, terms(order)
    if before.status not in _EDITABLE or before.exchange_order_id is None:
        found.append(
            Violation(
                "edit-only-when-working",
                cid,
                f"terms {before.terms} became {now} while {before.status.name}",
            )
        )
    if now.size <= order.filled_size:
        found.append(
            Violation("edit-only-when-working", cid, f"edited to {now.size}, not above filled")
        )
    stop_before = before.terms.stop_price
    if stop_before is not None and (now.stop_price is None or now.stop_price < stop_before):
        found.append(
            Violation("stop-never-down", cid, f"edited from {stop_before} to {now.stop_price}")
        )


def _check_new_order(
    order: Order, pid: str, position: PositionSeen, found: list[Violation]
) -> None:
    cid = order.client_order_id
    if order.status is not OrderStatus.INITIALIZED:
        found.append(
            Violation("write-ahead", cid, f"first committed as {order.status.name}, not intent")
        )
    if order.side is OrderSide.SELL and position.entry_filled <= ZERO:
        found.append(
            Violation(
                "no-exit-before-entry",
                pid,
                f"sell {cid} ({order.order_type.name}) before the entry has a fill",
            )
        )
    if (
        order.order_type is OrderType.STOP_LIMIT
        and order.stop_price is not None
        and position.max_confirmed is not None
        and order.stop_price < position.max_confirmed
    ):
        found.append(
            Violation(
                "stop-never-down",
                pid,
                f"new stop {cid} at {order.stop_price} below the confirmed "
                f"{position.max_confirmed}",
            )
        )


def _check_known_order(order: Order, pid: str, before: OrderSeen, found: list[Violation]) -> None:
    cid = order.client_order_id
    if identity(order, pid) != before.identity:
        found.append(
            Violation(
                "client-order-id-unique",
                cid,
                f"reused for a different order: {before.identity} then {identity(order, pid)}",
            )
        )
    now = terms(order)
    if now != before.terms:
        _check_edit(order, before, found)
    xid = order.exchange_order_id
    if before.exchange_order_id and xid != before.exchange_order_id:
        found.append(
            Violation(
                "client-order-id-unique",
                cid,
                f"exchange order {before.exchange_order_id} then {xid}",
            )
        )
    if before.status.is_terminal and order.status is not before.status:
        late_fill = before.status in _LATE_FILL_COMPLETES and order.status is OrderStatus.FILLED
        if not late_fill:
            found.append(
                Violation(
                    "terminal-is-final",
                    cid,
                    f"went back from {before.status.name} to {order.status.name}",
                )
            )
    if order.filled_size < before.filled_size:
        found.append(
            Violation(
                "terminal-is-final",
                cid,
                f"filled size shrank from {before.filled_size} to {order.filled_size}",
            )
        )


def check_fill(memory: Memory, cid: str, fill: Fill, found: list[Violation]) -> None:
    """Check one committed fill of order ``cid`` and count it (once) for its position."""
    bad = [n for n in ("price", "size", "fee") if not is_decimal(getattr(fill, n))]
    if bad:
        found.append(Violation("decimal-only", cid, f"fill {fill.trade_id}: {bad} not Decimal"))
        return
    owner = memory.trades.get(fill.trade_id)
    if owner is not None:
        if owner != cid:
            found.append(
                Violation(
                    "position-matches-fills",
                    cid,
                    f"fill {fill.trade_id} already counted for {owner}",
                )
            )
        return  # a repeat: stored once, counted once
    memory.trades[fill.trade_id] = cid
    seen = memory.orders.get(cid)
    if seen is None:
        found.append(Violation("write-ahead", cid, f"fill {fill.trade_id} of an unknown order"))
        return
    position = memory.positions[seen.position_id]
    if seen.side is OrderSide.SELL and position.entry_filled <= ZERO:
        found.append(
            Violation(
                "no-exit-before-entry",
                seen.position_id,
                f"exit fill {fill.trade_id} of {cid} before the entry has a fill",
            )
        )
    position.fills[seen.side].append(fill)
