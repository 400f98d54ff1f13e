"""Run one trader's events to quiescence, awaiting each command in turn.

The live runtime runs commands concurrently; tools that act while no engine runs (restart
checks, operator commands on a stopped engine) need the same loop done step by step: handle an
event, commit its batch, carry out its commands, feed their results back, until quiet.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader
from ratchet.ports import Exchange, OrderRefused, Store


async def settle(
    trader: PairTrader,
    exchange: Exchange,
    store: Store,
    events: list[m.EngineEvent],
    now: float,
    *,
    entry_budget: Decimal | None = None,
    max_steps: int = 10_000,
) -> int:
    """Handle ``events`` and everything they lead to; return how many events were handled.

    Entry requests are denied unless ``entry_budget`` is given.
    """
    queue = deque(events)
    handled = 0
    while queue and handled < max_steps:
        decision = trader.handle(queue.popleft(), now)
        handled += 1
        if decision.batch:
            await store.commit(decision.batch)
        for command in decision.commands:
            queue.extend(await _carry_out(command, exchange, entry_budget))
    return handled


async def _carry_out(
    command: m.EngineCommand, exchange: Exchange, budget: Decimal | None
) -> list[m.EngineEvent]:
    if isinstance(command, m.RequestEntry):
        if budget is None:
            return [m.EntryDenied("no entries outside the running engine")]
        return [m.EntryApproved(budget)]
    order = command.order
    if isinstance(command, m.PlaceOrder):
        try:
            report = await exchange.place_order(order)
        except OrderRefused as exc:
            return [m.OrderRefusedByExchange(order.client_order_id, exc.reason)]
        return [m.OrderPlaced(order.client_order_id, report.exchange_order_id)]
    if isinstance(command, m.LookUpOrder):
        found = await exchange.find_order(order.client_order_id, product_id=order.product_id)
        if found is None:
            return [m.OrderNotOnExchange(order.client_order_id)]
        return [m.OrderUpdated(found)]
    if order.exchange_order_id is None:
        return []
    if isinstance(command, m.CancelOrder):
        [result] = await exchange.cancel_orders([order.exchange_order_id])
        return [m.CancelAnswered(order.client_order_id, result.success, result.reason)]
    if isinstance(command, m.EditOrder):
        terms = command.terms
        edited = await exchange.edit_order(
            order.exchange_order_id,
            size=terms.size,
            limit_price=command.limit_price,
            stop_price=terms.stop_price,
        )
        return [m.EditAnswered(order.client_order_id, terms, edited.success, edited.reason)]
    fills = await exchange.list_fills(exchange_order_ids=[order.exchange_order_id])
    report = await exchange.get_order(order.exchange_order_id)
    events: list[m.EngineEvent] = [m.FillsReported(tuple(fills))] if fills else []
    events.append(m.OrderUpdated(report))
    if isinstance(command, m.FetchFills) and command.report is None:
        events.append(m.OrderRead(order.client_order_id))
    return events
