"""Translate what the exchange reports about an order into domain events, safely.

An order report never drives an order to FILLED by itself: fills do (each counted once by its
trade id). A report that shows more filled than we counted asks for the fills instead. An
event that the order's state machine does not allow is not applied: it is returned as a
conflict for the audit log and reconciliation — it never crashes the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import (
    Accepted,
    Cancelled,
    Expired,
    Fill,
    InvalidTransition,
    Order,
    OrderError,
    OrderEvent,
    Rejected,
)
from ratchet.domain.reports import FillReport, OrderReport


@dataclass(slots=True)
class SyncResult:
    """What applying a report did: whether anything changed, fills missing, conflicts seen."""

    changed: bool = False
    fills_missing: bool = False
    conflicts: list[str] = field(default_factory=list)


def events_of_report(report: OrderReport) -> list[OrderEvent]:
    """The order events a report stands for (fills excluded: they come from the fills list)."""
    status = report.status
    events: list[OrderEvent] = []
    if report.exchange_order_id and status is not OrderStatus.REJECTED:
        events.append(Accepted(report.exchange_order_id))
    if status is OrderStatus.CANCELLED:
        events.append(Cancelled(report.reason or "cancelled on the exchange"))
    elif status is OrderStatus.EXPIRED:
        events.append(Expired(report.reason or "expired"))
    elif status is OrderStatus.REJECTED:
        events.append(Rejected(report.reason or "failed on the exchange"))
    return events


def apply_report(order: Order, report: OrderReport) -> SyncResult:
    """Apply an exchange report to ``order`` as far as its state machine allows."""
    result = SyncResult(fills_missing=report.filled_size > order.filled_size)
    for event in events_of_report(report):
        result.changed |= _apply(order, event, result)
    return result


def apply_fill(order: Order, report: FillReport) -> tuple[bool, Fill | None, str]:
    """Apply one fill report; return (changed, the fill, conflict text or "")."""
    fill = Fill(
        trade_id=report.trade_id,
        price=report.price,
        size=report.size,
        fee=report.fee,
        liquidity=report.liquidity,
        time=int(report.time) if report.time else None,
    )
    result = SyncResult()
    changed = _apply(order, fill, result)
    return changed, fill if changed else None, "; ".join(result.conflicts)


def _apply(order: Order, event: OrderEvent, result: SyncResult) -> bool:
    try:
        return order.apply(event)
    except (InvalidTransition, OrderError) as exc:
        result.conflicts.append(f"{type(event).__name__} not applied: {exc}")
        return False
