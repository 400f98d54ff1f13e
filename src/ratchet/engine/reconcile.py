"""Restart: hydrate the traders from the store, then compare with the exchange and repair.

* A stored order the exchange reports filled/cancelled while we were down: its report and
  fills are applied (each fill counted once by trade id).
* An intent written but never confirmed (INITIALIZED/UNKNOWN): looked up by client_order_id —
  adopted if it reached the exchange, otherwise an entry intent is withdrawn and a stop or exit
  intent is sent again with the same id.
* A working order whose terms differ on the exchange (an edit it accepted while we were down,
  before we noted its answer): the exchange's terms are taken.
* An exchange order with our prefix that the store does not know: cancelled and audited (its
  intent was never recorded, so nothing in the store can own it).
* An open position without a live stop: a stop is placed, never below the recorded level.

The result is a :class:`ReconcileReport` (printed and audited) and the events each trader must
take, which the runtime feeds in before the live feed starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ratchet.domain.ids import ClientOrderId, OrderRole
from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import Amended, Order, OrderError
from ratchet.domain.reports import FillReport, OrderReport
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader
from ratchet.ports import AuditEntry, Exchange, OrderRecord, StateBatch, StoredState


@dataclass(slots=True)
class ReconcileReport:
    """What the restart found and what it did, line by line."""

    found: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    events: dict[str, list[m.EngineEvent]] = field(default_factory=dict)
    batch: StateBatch = field(default_factory=StateBatch)

    def lines(self) -> list[str]:
        """The report as text."""
        return [f"found: {line}" for line in self.found] + [f"did: {line}" for line in self.done]


def hydrate(traders: Mapping[str, PairTrader], state: StoredState) -> list[str]:
    """Give each trader its open position and that position's orders back."""
    notes = []
    by_position: dict[str, list[OrderRecord]] = {}
    for record in state.orders:
        by_position.setdefault(record.position_id, []).append(record)
    for pair, sequence in state.position_sequences.items():
        if pair in traders:
            traders[pair].restore_sequence(sequence)
    for position in state.positions:
        trader = traders.get(position.pair)
        if trader is None:
            notes.append(f"{position.position_id}: no trader for {position.pair} (not configured)")
            continue
        records = sorted(by_position.get(position.position_id, []), key=lambda r: r.created_at)
        trader.restore(position, [r.order for r in records])
        notes.append(f"{position.position_id}: {position.status.name}, {len(records)} orders")
    return notes


async def reconcile(
    exchange: Exchange,
    traders: Mapping[str, PairTrader],
    state: StoredState,
    *,
    prefix: str,
    now: float,
) -> ReconcileReport:
    """Hydrate, then compare every order with the exchange's truth (see the module docstring)."""
    report = ReconcileReport()
    report.found.extend(hydrate(traders, state))
    known = {record.order.client_order_id for record in state.orders}
    products = list(traders)
    open_now = {
        r.exchange_order_id: r
        for r in await exchange.list_orders(product_ids=products, open_only=True)
    }
    fills_by_order: dict[str, list[FillReport]] = {}
    tracked = [o for t in traders.values() for o in t.orders() if not o.is_done]
    if any(o.exchange_order_id for o in tracked):
        for fill in await exchange.list_fills(product_ids=products):
            fills_by_order.setdefault(fill.exchange_order_id, []).append(fill)
    for pair, trader in traders.items():
        events = report.events.setdefault(pair, [])
        for order in trader.orders():
            if not order.is_done:
                events.extend(await _truth_of(exchange, order, open_now, fills_by_order, report))
                _take_terms(trader, order, open_now, report, now)
        position = trader.position
        if position is not None and not position.status.is_final:
            events.append(m.TimerFired(now))  # lets the stop keeper place a missing stop
    orphans = [
        found
        for found in open_now.values()
        if ClientOrderId.parse(found.client_order_id, prefix) is not None
        and found.client_order_id not in known
    ]
    if orphans:
        results = {
            r.exchange_order_id: r
            for r in await exchange.cancel_orders([o.exchange_order_id for o in orphans])
        }
        for found in orphans:
            cid = found.client_order_id
            result = results.get(found.exchange_order_id)
            outcome = "cancelled" if result is not None and result.success else "cancel failed"
            report.found.append(f"{cid}: open on the exchange, unknown to the store")
            report.done.append(f"{cid}: {outcome} (its intent was never recorded)")
            report.batch.audit.append(
                AuditEntry(now, "reconcile", "cancel orphan", found.product_id, f"{cid}: {outcome}")
            )
    for line in report.lines():
        report.batch.audit.append(AuditEntry(now, "reconcile", "restart", "", line))
    return report


def _take_terms(
    trader: PairTrader,
    order: Order,
    open_now: dict[str, OrderReport],
    report: ReconcileReport,
    now: float,
) -> None:
    """Take the exchange's terms of a working order that were edited while we were down."""
    current = open_now.get(order.exchange_order_id or "")
    position = trader.position
    if current is None or position is None:
        return
    ours = (order.size, order.limit_price, order.stop_price)
    theirs = (current.size, current.limit_price, current.stop_price)
    if ours == theirs:
        return
    cid = order.client_order_id
    report.found.append(f"{cid}: size/limit/stop {ours} here, {theirs} on the exchange")
    amended = Amended(current.size, current.limit_price, current.stop_price)
    try:
        if not (order.allows(amended) and order.apply(amended)):
            return
    except OrderError as exc:
        report.done.append(f"{cid}: the exchange's terms not taken ({exc})")
        return
    report.done.append(f"{cid}: took the exchange's terms (an edit answered while we were down)")
    report.batch.orders.append(OrderRecord(order, position.position_id, now, now))


async def _truth_of(
    exchange: Exchange,
    order: Order,
    open_now: dict[str, OrderReport],
    fills_by_order: dict[str, list[FillReport]],
    report: ReconcileReport,
) -> list[m.EngineEvent]:
    cid = order.client_order_id
    if order.exchange_order_id is None:
        found = await exchange.find_order(cid, product_id=order.product_id)
        if found is None:
            parsed = ClientOrderId.parse(cid, cid.split("-", 1)[0])
            if parsed is not None and parsed.role is OrderRole.ENTRY:
                report.found.append(f"{cid}: entry intent never reached the exchange")
                report.done.append(f"{cid}: withdrawn (the signal is stale after a restart)")
                return [m.OrderRefusedByExchange(cid, "intent never sent before the restart")]
            report.found.append(f"{cid}: intent never reached the exchange")
            report.done.append(f"{cid}: looked up again and sent with the same id if absent")
            if order.status is OrderStatus.INITIALIZED:
                return [m.OrderSendFailed(cid, "not confirmed before the restart")]
            return [m.OrderNotOnExchange(cid)]
        report.found.append(f"{cid}: on the exchange as {found.status.name} (adopted)")
        return [m.OrderUpdated(found)]
    xid = order.exchange_order_id
    current = open_now.get(xid)
    if current is None:  # no longer open: it finished while we were down
        current = await exchange.get_order(xid)
    fills = fills_by_order.get(xid, [])
    if current.status is not order.status or len(fills) != len(order.fills):
        report.found.append(f"{cid}: {order.status.name} here, {current.status.name} there")
    events: list[m.EngineEvent] = []
    if fills:
        events.append(m.FillsReported(tuple(fills)))
    events.append(m.OrderUpdated(current))
    return events
