"""``EngineControl``: what the operating surfaces (web, CLI) may see of and ask of the engine.

Reads are snapshots of the running engine (views: frozen, Decimal money) plus the store's
history. Requests are checked here first, so that a bad one gets a clear answer at once
(unknown pair, busy pair, price off the increments, risk gate), then queued on the pair's own
queue as an event: the trader acts on it in order with everything else, and audits it in the
operator's name. A market order can come only from a force-exit or a liquidation.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from ratchet.domain.ids import ClientOrderId, OrderRole
from ratchet.domain.metrics import ClosedTally, PortfolioMetrics, entry_cost
from ratchet.domain.money import ZERO
from ratchet.domain.orders import OperatorAction, OperatorCommand, Order, OrderError
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.runtime import Runtime
from ratchet.ports import AuditEntry, History, SignalRecord, StateBatch, StopChange

if TYPE_CHECKING:
    from ratchet.store.database import Database

HUNDRED = Decimal(100)
ENTRY_ANSWER_WAIT = 5.0
"""Seconds an operator's entry waits for the trader's decision before it is left queued."""


class OperatorRefused(Exception):
    """A request the engine will not carry out, with the reason (shown to the operator)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(OperatorRefused):
    """The pair or order asked about is not known to this engine."""


class NotAllowed(OperatorRefused):
    """The operator's role or ownership does not allow the request."""


@dataclass(frozen=True, slots=True)
class PriceView:
    """The last traded price of a pair (None before the first tick)."""

    pair: str
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class PairView:
    """A traded pair: its state, last price, last signal verdict and order increments."""

    pair: str
    status: str
    last_price: Decimal | None
    signal: SignalRecord | None
    base_increment: Decimal
    price_increment: Decimal
    base_min_size: Decimal
    quote_min_size: Decimal


@dataclass(frozen=True, slots=True)
class PositionView:
    """An open (or opening) position with its stop and P&L at the last price."""

    position_id: str
    pair: str
    status: str
    entry_price: Decimal | None
    quantity: Decimal
    desired_stop: Decimal | None
    confirmed_stop: Decimal | None
    last_price: Decimal | None
    unrealized_pnl: Decimal | None
    entry_cost: Decimal
    share_pct: Decimal
    opened_by: str


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order: what it is, where it stands, who placed it and whether it may be cancelled."""

    client_order_id: str
    exchange_order_id: str | None
    pair: str
    position_id: str
    role: str
    side: str
    order_type: str
    status: str
    size: Decimal
    filled_size: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    owner: str
    cancellable: bool


@dataclass(frozen=True, slots=True)
class PositionDetail:
    """A pair's current position with its whole order history and stop history."""

    pair: str
    position: PositionView | None
    orders: list[OrderView]
    stops: list[StopChange]


def order_view(order: Order, position_id: str, prefix: str = "rt") -> OrderView:
    """The view of one order (its role read from its client_order_id)."""
    parsed = ClientOrderId.parse(order.client_order_id, prefix)
    role = parsed.role.value if parsed else "foreign"
    action = order.operator_action
    is_entry = parsed is not None and parsed.role is OrderRole.ENTRY
    return OrderView(
        client_order_id=order.client_order_id,
        exchange_order_id=order.exchange_order_id,
        pair=order.product_id,
        position_id=position_id,
        role=role,
        side=order.side.value,
        order_type=order.order_type.value,
        status=order.status.value,
        size=order.size,
        filled_size=order.filled_size,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        owner=action.actor if action else "engine",
        cancellable=is_entry and order.is_working,
    )


def decimal_field(text: object, name: str) -> Decimal:
    """A positive, finite Decimal from a request field, or a refusal naming the field."""
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        raise OperatorRefused(f"{name} must be a decimal number, got {text!r}") from None
    if not value.is_finite() or value <= ZERO:
        raise OperatorRefused(f"{name} must be > 0, got {text}")
    return value


class EngineControl:
    """The running engine as the operating surfaces see it."""

    def __init__(
        self,
        runtime: Runtime,
        history: History | None = None,
        database: Database | None = None,
    ) -> None:
        self.runtime = runtime
        self.history = history
        self.database = database  # passed through for the web's users (None: memory only)

    def __repr__(self) -> str:
        return f"EngineControl({self.runtime!r})"

    async def load_history(self) -> None:
        """Count closed positions of earlier runs into the metrics."""
        if self.history is not None:
            closed = await self.history.closed_positions()
            self.runtime.history.before = ClosedTally().add(closed)

    # -- reads -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the runtime's workers run (for the health check)."""
        return self.runtime.running

    def portfolio(self) -> PortfolioMetrics:
        """Capital deployed and available, P&L, win rate, concentration, exposure, drift."""
        return self.runtime.portfolio.metrics()

    def counters(self) -> dict[str, int]:
        """The runtime's counters: events, commits, commands, ignored reports."""
        stats = self.runtime.stats
        return {
            "events": stats.events,
            "commits": stats.commits,
            "commands": stats.commands,
            "ignored": stats.ignored,
        }

    def prices(self) -> list[PriceView]:
        """The last price of every pair."""
        last = self.runtime.last_prices
        return [PriceView(pair, last.get(pair)) for pair in self.runtime.traders]

    def pairs(self) -> list[PairView]:
        """Every traded pair with its state and last signal."""
        found = []
        for pair, trader in self.runtime.traders.items():
            product = trader.product
            status = trader.position.status.value if trader.position else "idle"
            found.append(
                PairView(
                    pair,
                    status,
                    self.runtime.last_prices.get(pair),
                    trader.last_signal,
                    product.base_increment,
                    product.price_increment,
                    product.base_min_size,
                    product.quote_min_size,
                )
            )
        return found

    def positions(self) -> list[PositionView]:
        """The positions the traders hold now."""
        deployed = self._deployed()
        views = [self._position_view(t, deployed) for t in self.runtime.traders.values()]
        return [view for view in views if view is not None]

    def orders(self) -> list[OrderView]:
        """Every order the traders track now (working and just finished)."""
        found: list[OrderView] = []
        for trader in self.runtime.traders.values():
            if trader.position is None:
                continue
            prefix = trader.settings.id_prefix
            position_id = trader.position.position_id
            found.extend(order_view(o, position_id, prefix) for o in trader.orders())
        return found

    async def position_detail(self, pair: str) -> PositionDetail:
        """The pair's current position, its orders (stored history first) and stop moves."""
        trader = self._trader(pair)
        view = self._position_view(trader, self._deployed())
        if view is None or self.history is None:
            orders = [] if view is None else [o for o in self.orders() if o.pair == pair]
            return PositionDetail(pair, view, orders, [])
        position_id = view.position_id
        prefix = trader.settings.id_prefix
        records = await self.history.orders_of(position_id)
        stops = await self.history.stop_changes(position_id)
        live = {o.client_order_id: o for o in trader.orders()}
        orders = [
            order_view(live.get(r.order.client_order_id, r.order), position_id, prefix)
            for r in records
        ]
        return PositionDetail(pair, view, orders, stops)

    # -- requests ----------------------------------------------------------------------------
    async def place_entry(self, pair: str, price: Decimal, size: Decimal, actor: str) -> str | None:
        """A limit-buy entry of ``size`` at ``price``: its client order id once the trader has
        placed it, None when the pair is still busy with earlier events after
        ``ENTRY_ANSWER_WAIT`` seconds (it will be decided in turn and audited). Raises
        :class:`OperatorRefused` with the reason when it cannot go."""
        trader = self._trader(pair)
        problems = trader.product.violations(price, size)
        if problems:
            raise OperatorRefused(f"{pair}: {'; '.join(problems)}")
        if not trader.is_idle:
            raise OperatorRefused(f"{pair} already has a position or an entry (one per pair)")
        cost = trader.product.order_cost(price, size, trader.settings.sizing_fee_rate)
        refusal = await self.runtime.portfolio.reserve_entry(pair, cost)
        if refusal:
            raise OperatorRefused(f"{pair}: {refusal}")
        action = self._action(OperatorCommand.MANUAL_ENTRY, actor, f"buy {size} at {price}")
        answer = self.runtime.ask(pair, m.EntryRequestedByOperator(price, size, action))
        try:
            decision = await asyncio.wait_for(asyncio.shield(answer), ENTRY_ANSWER_WAIT)
        except TimeoutError:
            return None
        for command in decision.commands:
            if isinstance(command, m.PlaceOrder) and command.order.operator_action == action:
                return command.order.client_order_id
        said = [entry.detail for entry in decision.batch.audit if entry.actor == actor]
        raise OperatorRefused(f"{pair}: {said[0] if said else 'the engine did not place it'}")

    async def cancel_order(self, client_order_id: str, actor: str, *, any_owner: bool) -> None:
        """Queue the cancel of a working entry (the operator's own, or any for an admin)."""
        for trader in self.runtime.traders.values():
            order = trader.order(client_order_id)
            if order is None:
                continue
            if order is not trader.entry:
                raise OperatorRefused(
                    "only an entry can be cancelled; a stop goes only with a force-exit "
                    "(a position is never left unprotected)"
                )
            if not order.is_working:
                raise OperatorRefused(f"{client_order_id} is {order.status.value}, not working")
            owner = order.operator_action.actor if order.operator_action else "engine"
            if owner != actor and not any_owner:
                raise NotAllowed(f"{client_order_id} was placed by {owner}, not by {actor}")
            action = self._action(OperatorCommand.CANCEL, actor, f"cancel {client_order_id}")
            self.runtime.post(trader.pair, m.CancelRequestedByOperator(client_order_id, action))
            return
        raise NotFound(f"no working order {client_order_id} in this engine")

    async def force_exit(self, pair: str, actor: str, reason: str) -> None:
        """Queue a force-exit of the pair's position (cancel what rests, sell at market)."""
        trader = self._trader(pair)
        if trader.position is None:
            raise OperatorRefused(f"{pair} has no position to exit")
        self.runtime.force_exit(pair, self._action(OperatorCommand.FORCE_EXIT, actor, reason))

    async def liquidate(self, actor: str, reason: str) -> None:
        """Queue the force-exit of every position (emergency liquidation)."""
        self.runtime.liquidate(self._action(OperatorCommand.EMERGENCY_LIQUIDATION, actor, reason))

    async def audit(self, actor: str, action: str, subject: str, detail: str) -> None:
        """Write one audit entry now."""
        entry = AuditEntry(self.runtime.now(), actor, action, subject, detail)
        await self.runtime.store.commit(StateBatch(audit=[entry]))

    # -- helpers -----------------------------------------------------------------------------
    def _trader(self, pair: str) -> PairTrader:
        trader = self.runtime.traders.get(pair)
        if trader is None:
            raise NotFound(f"{pair!r} is not traded by this engine")
        return trader

    def _action(self, command: OperatorCommand, actor: str, reason: str) -> OperatorAction:
        try:
            return OperatorAction(command, actor, reason or command.value, int(time.time()))
        except OrderError as exc:
            raise OperatorRefused(str(exc)) from None

    def _deployed(self) -> Decimal:
        """What every position's holding cost, summed once per snapshot."""
        traders = self.runtime.traders.values()
        return sum((entry_cost(t.position) for t in traders if t.position), ZERO)

    def _position_view(self, trader: PairTrader, deployed: Decimal) -> PositionView | None:
        position = trader.position
        if position is None:
            return None
        last = self.runtime.last_prices.get(trader.pair)
        cost = entry_cost(position)
        entry = trader.entry
        owner = entry.operator_action.actor if entry and entry.operator_action else "engine"
        return PositionView(
            position_id=position.position_id,
            pair=trader.pair,
            status=position.status.value,
            entry_price=position.entry_price,
            quantity=position.quantity,
            desired_stop=trader.stops.desired,
            confirmed_stop=trader.stops.confirmed,
            last_price=last,
            unrealized_pnl=position.unrealized_pnl(last) if last is not None else None,
            entry_cost=cost,
            share_pct=cost * HUNDRED / deployed if deployed else ZERO,
            opened_by=owner,
        )
