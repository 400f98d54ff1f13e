"""Operator actions while no engine runs: the same PairTrader, carried out step by step.

The caller holds the database's :class:`~ratchet.store.lock.EngineLock`, so no engine starts
meanwhile. For each pair concerned the trader is hydrated from the store and reconciled with
the exchange (what happened while nothing ran is applied first, as on a restart); then it takes
the operator's event and everything that follows is settled with
:func:`~ratchet.engine.oneshot.settle`, polling the exchange for the outcome of each order
until nothing is in flight (or the time limit passes).

Planning reads only the store, so a command can show exactly what it will do before it asks
for confirmation. A stop is never cancelled on its own: only a force-exit removes it, and
only to sell what it protected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from ratchet.domain.ids import ClientOrderId, OrderRole
from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import OperatorAction, Order
from ratchet.domain.position import Position
from ratchet.engine import messages as m
from ratchet.engine.oneshot import settle
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.reconcile import reconcile
from ratchet.engine.settings import TraderSettings
from ratchet.ports import AuditEntry, Exchange, OrderRecord, StateBatch, Store, StoredState

IN_FLIGHT = frozenset(
    {
        OrderStatus.INITIALIZED,
        OrderStatus.PENDING,
        OrderStatus.UNKNOWN,
        OrderStatus.CANCEL_REQUESTED,
    }
)
STOP_STAYS = "a stop is only removed by force-exit; a position is never left unprotected"


class OperatorError(Exception):
    """The operation cannot be done; the message says why (nothing was changed)."""


class NotFound(OperatorError):
    """No open position of the pair, or no working order with the id, in the store."""


class Refused(OperatorError):
    """The request breaks a rule (e.g. cancelling a stop)."""


def describe_order(order: Order) -> str:
    """``rt-ETH-BTC-000001-stop-1: STOP_LIMIT SELL 0.5 stop 0.051 limit 0.0507 (OPEN)``."""
    prices = []
    if order.stop_price is not None:
        prices.append(f"stop {order.stop_price}")
    if order.limit_price is not None:
        prices.append(f"limit {order.limit_price}")
    filled = f", filled {order.filled_size}" if order.filled_size else ""
    what = " ".join([order.order_type.value, order.side.value, str(order.size), *prices])
    return f"{order.client_order_id}: {what} ({order.status.value}{filled})"


@dataclass(frozen=True, slots=True)
class PlannedExit:
    """What a force-exit of one position will do: cancel what rests, then sell at market."""

    position: Position
    cancels: tuple[Order, ...]

    @property
    def pair(self) -> str:
        """The product id."""
        return self.position.pair

    def lines(self) -> list[str]:
        """The plan, step by step."""
        p = self.position
        stop = p.stop if p.stop is not None else "none"
        head = f"{p.position_id} ({p.status.value}): holds {p.quantity}, stop {stop}"
        steps = [f"  cancel {describe_order(order)}" for order in self.cancels]
        if p.quantity > 0:
            steps.append(f"  then sell {p.quantity} {p.product.base_currency} at market")
        else:
            steps.append("  nothing filled: the position ends once the entry is cancelled")
        return [head, *steps]


@dataclass(frozen=True, slots=True)
class PlannedCancel:
    """What cancelling one working entry will do."""

    order: Order
    position_id: str

    @property
    def pair(self) -> str:
        """The product id."""
        return self.order.product_id

    def lines(self) -> list[str]:
        """The plan."""
        return [f"cancel the entry of {self.position_id}: {describe_order(self.order)}"]


@dataclass(slots=True)
class Outcome:
    """How an operation on one pair ended: ``done`` when it did all it was asked."""

    pair: str
    position_id: str
    done: bool
    status: str
    lines: list[str] = field(default_factory=list)


def plan_force_exit(state: StoredState, pair: str) -> PlannedExit:
    """The force-exit of ``pair``'s position, from the store alone.

    Raises:
        NotFound: the store has no open position of ``pair``.
    """
    for position in state.positions:
        if position.pair == pair and not position.status.is_final:
            working = [
                r.order
                for r in state.orders
                if r.position_id == position.position_id and r.order.is_working
            ]
            return PlannedExit(position, tuple(working))
    raise NotFound(f"{pair} has no open position in the store")


def plan_liquidation(state: StoredState) -> list[PlannedExit]:
    """The force-exit of every position that is not over (empty: nothing to liquidate)."""
    pairs = sorted({p.pair for p in state.positions if not p.status.is_final})
    return [plan_force_exit(state, pair) for pair in pairs]


def plan_cancel(state: StoredState, order_id: str, prefix: str = "rt") -> PlannedCancel:
    """The cancel of the working order ``order_id`` (client or exchange id), if an entry.

    Raises:
        NotFound: no working order with that id in the store.
        Refused: the order is a stop (or an exit): only a force-exit removes those.
    """
    record = _working_record(state.orders, order_id)
    order = record.order
    parsed = ClientOrderId.parse(order.client_order_id, prefix)
    if parsed is None or parsed.role is not OrderRole.ENTRY:
        raise Refused(f"{order.client_order_id} is not an entry: {STOP_STAYS}")
    return PlannedCancel(order, record.position_id)


def _working_record(records: tuple[OrderRecord, ...], order_id: str) -> OrderRecord:
    for record in records:
        order = record.order
        if order_id in (order.client_order_id, order.exchange_order_id) and not order.is_done:
            return record
    raise NotFound(f"no working order {order_id!r} in the store (unknown, or already finished)")


class OfflineOperator:
    """Carries out operator actions against the exchange and the store, no engine running.

    ``settings_for(pair)`` gives each pair's trader settings (the id prefix among them).
    """

    def __init__(
        self,
        exchange: Exchange,
        store: Store,
        settings_for: Callable[[str], TraderSettings] = lambda _pair: TraderSettings(),
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout: float = 30.0,
        poll_interval: float = 0.2,
    ) -> None:
        self.exchange = exchange
        self.store = store
        self.settings_for = settings_for
        self._clock = clock
        self._sleep = sleep
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.restart_lines: list[str] = []  # what the last restart check found and did

    def __repr__(self) -> str:
        return f"OfflineOperator({self.exchange!r}, {self.store!r})"

    async def force_exit(self, pair: str, action: OperatorAction) -> Outcome:
        """Cancel what rests of ``pair``'s position, then sell what it holds at market."""
        [outcome] = await self._exit([pair], action)
        return outcome

    async def liquidate(self, action: OperatorAction) -> list[Outcome]:
        """Force-exit every position that is not over (emergency liquidation)."""
        state = await self.store.load({})
        pairs = [planned.pair for planned in plan_liquidation(state)]
        note = f"{len(pairs)} positions: {', '.join(pairs) or 'none'} ({action.reason})"
        audit = AuditEntry(self._clock(), action.actor, "emergency liquidation", "portfolio", note)
        await self.store.commit(StateBatch(audit=[audit]))
        return await self._exit(pairs, action) if pairs else []

    async def cancel(self, order_id: str, action: OperatorAction) -> Outcome:
        """Cancel one working entry (by client or exchange order id); never a stop."""
        state = await self.store.load({})
        pair = _working_record(state.orders, order_id).order.product_id
        planned = plan_cancel(state, order_id, self.settings_for(pair).id_prefix)
        trader = (await self._restored([pair]))[pair]
        lines: list[str] = []
        position, cid = trader.position, planned.order.client_order_id
        order = trader.order(cid)
        if order is None or not order.is_working:
            found = order.status.value if order is not None else "no longer tracked"
            lines.append(f"{cid}: {found} after the restart check: nothing to cancel")
            return Outcome(pair, planned.position_id, False, _status(position), lines)
        event = m.CancelRequestedByOperator(cid, action)
        await settle(trader, self.exchange, self.store, [event], self._clock())
        settled = await self._until_quiet(trader)
        lines.append(f"{cid}: {order.status.value}")
        if position is not None:
            lines.append(_position_line(position))
        if not settled:
            lines.append(f"still in flight after {self.timeout:g}s: {_busy_lines(trader)}")
        done = settled and order.status is OrderStatus.CANCELLED
        return Outcome(pair, planned.position_id, done, _status(position), lines)

    # -- the steps -------------------------------------------------------------------------
    async def _exit(self, pairs: list[str], action: OperatorAction) -> list[Outcome]:
        traders = await self._restored(pairs)
        outcomes = []
        for pair in pairs:
            trader = traders[pair]
            position = trader.position
            if position is None:  # it ended while nothing ran (e.g. the stop filled)
                lines = [f"{pair}: the position ended while no engine ran"]
                outcomes.append(Outcome(pair, "", True, "none", lines))
                continue
            event = m.ForceExitRequested(action)
            await settle(trader, self.exchange, self.store, [event], self._clock())
            settled = await self._until_quiet(trader)
            done = position.status.is_final
            lines = [_position_line(position)]
            if not settled:
                lines.append(f"still in flight after {self.timeout:g}s: {_busy_lines(trader)}")
            elif not done:
                lines.append(_why_open(trader, position))
            outcomes.append(Outcome(pair, position.position_id, done, position.status.value, lines))
        return outcomes

    async def _restored(self, pairs: list[str]) -> dict[str, PairTrader]:
        """Traders of ``pairs`` hydrated from the store and reconciled with the exchange."""
        products = {p.product_id: p for p in await self.exchange.products(pairs)}
        missing = [pair for pair in pairs if pair not in products]
        if missing:
            raise NotFound(f"the exchange does not list {', '.join(missing)}")
        traders = {pair: PairTrader(products[pair], self.settings_for(pair)) for pair in pairs}
        state = _only(await self.store.load(products), traders)
        prefix = next(iter(traders.values())).settings.id_prefix
        now = self._clock()
        report = await reconcile(self.exchange, traders, state, prefix=prefix, now=now)
        if report.batch:
            await self.store.commit(report.batch)
        for pair, events in report.events.items():
            await settle(traders[pair], self.exchange, self.store, events, now)
        await asyncio.gather(*(self._until_quiet(t) for t in traders.values()))
        self.restart_lines = report.lines()
        return traders

    async def _until_quiet(self, trader: PairTrader) -> bool:
        """Ask the exchange about every order not done until none is in flight (or time is
        up: False)."""
        deadline = time.monotonic() + self.timeout
        while _busy(trader):
            if time.monotonic() >= deadline:
                return False
            await self._sleep(self.poll_interval)
            events: list[m.EngineEvent] = []
            for order in trader.orders():
                xid = order.exchange_order_id
                if xid is None or order.is_done:
                    continue
                fills = await self.exchange.list_fills(exchange_order_ids=[xid])
                if fills:
                    events.append(m.FillsReported(tuple(fills)))
                events.append(m.OrderUpdated(await self.exchange.get_order(xid)))
            events.append(m.TimerFired(self._clock()))  # a force-exit may sell the rest now
            await settle(trader, self.exchange, self.store, events, self._clock())
        return True


def _busy(trader: PairTrader) -> bool:
    """True while an order is on its way, being cancelled, or an operator's sell is working."""
    forced = trader.forced.order if trader.forced is not None else None
    if forced is not None and not forced.is_done:
        return True
    position = trader.position
    if trader.forced is not None and position is not None and not position.status.is_final:
        return True  # a market sell filled in part: the rest follows
    return any(order.status in IN_FLIGHT for order in trader.orders())


def _busy_lines(trader: PairTrader) -> str:
    return "; ".join(describe_order(o) for o in trader.orders() if not o.is_done)


def _only(state: StoredState, traders: Mapping[str, PairTrader]) -> StoredState:
    """The part of the stored state that belongs to ``traders``' pairs."""
    positions = tuple(p for p in state.positions if p.pair in traders)
    orders = tuple(r for r in state.orders if r.order.product_id in traders)
    sequences = {k: v for k, v in state.position_sequences.items() if k in traders}
    return StoredState(positions, orders, sequences)


def _status(position: Position | None) -> str:
    return position.status.value if position is not None else "none"


def _why_open(trader: PairTrader, position: Position) -> str:
    """Why a force-exit left the position open."""
    sell = trader.forced.order if trader.forced is not None else None
    if sell is not None and sell.is_done and position.quantity > 0:
        return (
            f"the market sell {sell.client_order_id} ended {sell.status.value} after "
            f"{sell.filled_size} of {sell.size}: {position.quantity} is still held, with no "
            "stop resting (see the audit log)"
        )
    return "the position is not closed: see the audit log"


def _position_line(position: Position) -> str:
    pnl = f", realised P&L {position.realized_pnl}" if position.status.is_final else ""
    return f"{position.position_id}: {position.status.value}, holds {position.quantity}{pnl}"
