"""The trading rules of DESIGN.md §2, checked on the engine's state after every committed step.

:class:`InvariantChecker` watches what the engine commits (each :class:`~ratchet.ports.StateBatch`)
and, optionally, the traders' live state, and remembers what it needs (per order, per position)
to check rules that span steps. :class:`CheckingStore` wraps any :class:`~ratchet.ports.Store`
with one, so a running engine is checked after every decision without knowing it.

=======================  ===========================================================================
rule                     what must hold
=======================  ===========================================================================
stop-never-down          per position the desired stop (``Position.stop``, ``StopChange.desired``,
                         the keeper's ``desired``) and the confirmed stop (``StopChange.confirmed``,
                         the keeper's ``confirmed``) never go down; a new stop order never rests
                         below the highest stop the exchange confirmed
no-exit-before-entry     no sell order (stop or exit) and no exit fill before the entry has a fill
market-needs-operator    no market order without an :class:`OperatorAction` (and only sells)
limit-buy-entries        every buy is a limit order
one-position-per-pair    at most one position per pair that is not final; the trader holds it
decimal-only             every price, size, value and fee is a finite ``Decimal`` (never a float)
increments               order prices on the price increment, sizes on the base increment and
                         at least the minimum size
client-order-id-unique   a client_order_id always names the same order (same position, side, type,
                         prices, size, operator action) and one exchange order only
write-ahead              an order is first committed as an intent (INITIALIZED), before any send
realized-pnl             a closed position holds nothing, sold what it bought, and its realised
                         P&L is exit value − exit fees − entry value − entry fees
position-matches-fills   a position's entry/exit size, value and fees are the sums of its fills
spot-only                the sells working for a position never exceed what it holds
terminal-is-final        an order never leaves a terminal status (a cancelled or expired order
                         whose late fills complete it becomes FILLED, nothing else), its filled
                         size never shrinks, and a final position never reopens
=======================  ===========================================================================

Violations are collected (:attr:`InvariantChecker.violations`) with the position or order they
concern; ``strict=True`` raises :class:`InvariantViolation` at the first one instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from ratchet.domain.money import ZERO, Product, is_multiple
from ratchet.domain.order_types import OrderSide, OrderStatus, OrderType
from ratchet.domain.orders import Fill, Order
from ratchet.domain.position import Position, PositionStatus
from ratchet.ports import OrderRecord, StateBatch, StopChange, Store, StoredState

if TYPE_CHECKING:
    from ratchet.engine.pair_trader import PairTrader

_LATE_FILL_COMPLETES = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)
_POSITION_MONEY = (
    "quantity",
    "entry_size",
    "entry_value",
    "entry_fees",
    "exit_size",
    "exit_value",
    "exit_fees",
    "realized_pnl",
    "high_water",
    "stop",
)
_ORDER_MONEY = ("size", "limit_price", "stop_price", "filled_size", "filled_value", "fees")


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: which, about what (a position or order id), and what was seen."""

    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.subject}: {self.detail}"


class InvariantViolation(AssertionError):
    """Raised by a strict checker; ``violations`` are the rules broken by the step."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = violations


@dataclass(slots=True)
class _OrderSeen:
    identity: tuple[object, ...]
    position_id: str
    side: OrderSide
    status: OrderStatus
    filled_size: Decimal
    remaining: Decimal
    exchange_order_id: str | None


@dataclass(slots=True)
class _PositionSeen:
    pair: str
    status: PositionStatus = PositionStatus.PENDING_ENTRY
    quantity: Decimal = ZERO
    entry_filled: Decimal = ZERO
    max_desired: Decimal | None = None
    max_confirmed: Decimal | None = None
    fills: dict[OrderSide, list[Fill]] = field(
        default_factory=lambda: {OrderSide.BUY: [], OrderSide.SELL: []}
    )


def _is_decimal(value: object) -> bool:
    return type(value) is Decimal and value.is_finite()


def _higher(current: Decimal | None, level: Decimal) -> Decimal:
    return level if current is None else max(current, level)


class InvariantChecker:
    """Checks every committed batch (and the traders) against the rules in the module docstring."""

    def __init__(self, products: Mapping[str, Product], *, strict: bool = False) -> None:
        self.products = dict(products)
        self.strict = strict
        self.violations: list[Violation] = []
        self.batches = 0
        self._orders: dict[str, _OrderSeen] = {}
        self._positions: dict[str, _PositionSeen] = {}
        self._trades: dict[str, str] = {}  # trade id -> client_order_id

    def __repr__(self) -> str:
        return (
            f"InvariantChecker(batches={self.batches}, orders={len(self._orders)}, "
            f"violations={len(self.violations)})"
        )

    # -- what a restart hydrates -------------------------------------------------------------
    def learn(self, state: StoredState) -> None:
        """Take stored state as already checked (a restart): remember it, check nothing."""
        for position in state.positions:
            seen = self._position(position.position_id, position.pair)
            seen.status, seen.quantity = position.status, position.quantity
            seen.entry_filled = position.entry_size
            if position.stop is not None:
                seen.max_desired = _higher(seen.max_desired, position.stop)
        for record in state.orders:
            self._remember(record)
            owner = self._positions[record.position_id]
            for fill in record.order.fills:
                if fill.trade_id not in self._trades:
                    self._trades[fill.trade_id] = record.order.client_order_id
                    owner.fills[record.order.side].append(fill)

    # -- one committed step ------------------------------------------------------------------
    def check(self, batch: StateBatch) -> list[Violation]:
        """Check one batch (before it is written) and remember its state; return what broke."""
        found: list[Violation] = []
        self.batches += 1
        # the batch is one atomic step: what its entry filled counts for all of it
        for position in batch.positions:
            seen = self._position(position.position_id, position.pair)
            if _is_decimal(position.entry_size):
                seen.entry_filled = max(seen.entry_filled, position.entry_size)
        for record in batch.orders:
            order = record.order
            if order.side is OrderSide.BUY and _is_decimal(order.filled_size):
                seen = self._position(record.position_id, order.product_id)
                seen.entry_filled = max(seen.entry_filled, order.filled_size)
        for record in batch.orders:
            self._check_order(record, found)
        for cid, fill in batch.fills:
            self._check_fill(cid, fill, found)
        for position in batch.positions:
            self._check_position(position, found)
        for change in batch.stops:
            self._check_stop_change(change, found)
        self._check_one_per_pair(batch, found)
        self._check_sells_within_holdings(batch, found)
        return self._report(found)

    def check_traders(self, traders: Iterable[PairTrader]) -> list[Violation]:
        """Check the traders' live state against what was committed."""
        found: list[Violation] = []
        for trader in traders:
            position = trader.position
            if position is None:
                continue
            pid = position.position_id
            seen = self._positions.get(pid)
            others = [
                other
                for other_id, other in self._positions.items()
                if other_id != pid and other.pair == trader.pair and not other.status.is_final
            ]
            if others and not position.status.is_final:
                found.append(
                    Violation(
                        "one-position-per-pair", pid, "the trader holds it while another is open"
                    )
                )
            if seen is None:
                continue
            stops = trader.stops
            for what, level, highest in (
                ("position stop", position.stop, seen.max_desired),
                ("desired stop", stops.desired, seen.max_desired),
                ("confirmed stop", stops.confirmed, seen.max_confirmed),
            ):
                if level is not None and highest is not None and level < highest:
                    found.append(
                        Violation(
                            "stop-never-down", pid, f"the trader's {what} {level} < {highest}"
                        )
                    )
            working_sells = [
                o for o in trader.orders() if o.side is OrderSide.SELL and o.is_working
            ]
            if working_sells and position.entry_size <= ZERO and seen.entry_filled <= ZERO:
                cids = ", ".join(o.client_order_id for o in working_sells)
                found.append(
                    Violation("no-exit-before-entry", pid, f"sells working before a fill: {cids}")
                )
        return self._report(found)

    def _report(self, found: list[Violation]) -> list[Violation]:
        self.violations.extend(found)
        if found and self.strict:
            raise InvariantViolation(found)
        return found

    # -- orders --------------------------------------------------------------------------------
    def _check_order(self, record: OrderRecord, found: list[Violation]) -> None:
        order, pid = record.order, record.position_id
        cid = order.client_order_id
        bad = [name for name in _ORDER_MONEY if getattr(order, name) is not None]
        bad = [name for name in bad if not _is_decimal(getattr(order, name))]
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
            self._check_increments(order, found)
        position = self._position(pid, order.product_id)
        before = self._orders.get(cid)
        if before is None:
            self._check_new_order(order, pid, position, found)
        else:
            self._check_known_order(order, pid, before, found)
        self._remember(record)

    def _check_increments(self, order: Order, found: list[Violation]) -> None:
        product = self.products.get(order.product_id)
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

    def _check_new_order(
        self, order: Order, pid: str, position: _PositionSeen, found: list[Violation]
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

    def _check_known_order(
        self, order: Order, pid: str, before: _OrderSeen, found: list[Violation]
    ) -> None:
        cid = order.client_order_id
        if _identity(order, pid) != before.identity:
            found.append(
                Violation(
                    "client-order-id-unique",
                    cid,
                    f"reused for a different order: {before.identity} then {_identity(order, pid)}",
                )
            )
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

    def _remember(self, record: OrderRecord) -> None:
        order = record.order
        self._orders[order.client_order_id] = _OrderSeen(
            _identity(order, record.position_id),
            record.position_id,
            order.side,
            order.status,
            order.filled_size,
            order.remaining_size,
            order.exchange_order_id,
        )
        position = self._position(record.position_id, order.product_id)
        if order.side is OrderSide.BUY:
            position.entry_filled = max(position.entry_filled, order.filled_size)

    # -- fills ---------------------------------------------------------------------------------
    def _check_fill(self, cid: str, fill: Fill, found: list[Violation]) -> None:
        bad = [n for n in ("price", "size", "fee") if not _is_decimal(getattr(fill, n))]
        if bad:
            found.append(Violation("decimal-only", cid, f"fill {fill.trade_id}: {bad} not Decimal"))
            return
        owner = self._trades.get(fill.trade_id)
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
        self._trades[fill.trade_id] = cid
        seen = self._orders.get(cid)
        if seen is None:
            found.append(Violation("write-ahead", cid, f"fill {fill.trade_id} of an unknown order"))
            return
        position = self._positions[seen.position_id]
        if seen.side is OrderSide.SELL and position.entry_filled <= ZERO:
            found.append(
                Violation(
                    "no-exit-before-entry",
                    seen.position_id,
                    f"exit fill {fill.trade_id} of {cid} before the entry has a fill",
                )
            )
        position.fills[seen.side].append(fill)

    # -- positions -----------------------------------------------------------------------------
    def _position(self, pid: str, pair: str) -> _PositionSeen:
        seen = self._positions.get(pid)
        if seen is None:
            seen = self._positions[pid] = _PositionSeen(pair)
        return seen

    def _check_position(self, position: Position, found: list[Violation]) -> None:
        pid = position.position_id
        seen = self._position(pid, position.pair)
        bad = [n for n in _POSITION_MONEY if getattr(position, n) is not None]
        bad = [n for n in bad if not _is_decimal(getattr(position, n))]
        if bad:
            found.append(Violation("decimal-only", pid, f"not a finite Decimal: {bad}"))
            return
        if seen.status.is_final and position.status is not seen.status:
            found.append(
                Violation(
                    "terminal-is-final", pid, f"reopened: {seen.status.name} -> {position.status}"
                )
            )
        if position.stop is not None:
            if seen.max_desired is not None and position.stop < seen.max_desired:
                found.append(
                    Violation(
                        "stop-never-down", pid, f"stop {position.stop} < earlier {seen.max_desired}"
                    )
                )
            seen.max_desired = _higher(seen.max_desired, position.stop)
        self._check_sums(position, seen, found)
        if position.status is PositionStatus.CLOSED:
            expected = (
                position.exit_value
                - position.exit_fees
                - position.entry_value
                - position.entry_fees
            )
            if position.realized_pnl != expected:
                found.append(
                    Violation(
                        "realized-pnl", pid, f"realised {position.realized_pnl} != {expected}"
                    )
                )
            if position.quantity != ZERO or position.exit_size != position.entry_size:
                found.append(
                    Violation(
                        "realized-pnl",
                        pid,
                        f"closed holding {position.quantity} (bought {position.entry_size}, "
                        f"sold {position.exit_size})",
                    )
                )
        seen.status, seen.quantity = position.status, position.quantity
        seen.entry_filled = max(seen.entry_filled, position.entry_size)

    @staticmethod
    def _check_sums(position: Position, seen: _PositionSeen, found: list[Violation]) -> None:
        for side, size, value, fees in (
            (OrderSide.BUY, position.entry_size, position.entry_value, position.entry_fees),
            (OrderSide.SELL, position.exit_size, position.exit_value, position.exit_fees),
        ):
            fills = seen.fills[side]
            sums = (
                sum((f.size for f in fills), ZERO),
                sum((f.value for f in fills), ZERO),
                sum((f.fee for f in fills), ZERO),
            )
            if (size, value, fees) != sums:
                found.append(
                    Violation(
                        "position-matches-fills",
                        position.position_id,
                        f"{side.name} size/value/fees {size}/{value}/{fees} but its "
                        f"{len(fills)} committed fills sum to {sums[0]}/{sums[1]}/{sums[2]}",
                    )
                )

    def _check_stop_change(self, change: StopChange, found: list[Violation]) -> None:
        pid = change.position_id
        seen = self._positions.get(pid)
        if seen is None:
            seen = self._position(pid, pid.partition("#")[0])
        for name in ("desired", "confirmed"):
            level = getattr(change, name)
            if level is not None and not _is_decimal(level):
                found.append(Violation("decimal-only", pid, f"stop change {name}={level!r}"))
                return
        if seen.max_desired is not None and change.desired < seen.max_desired:
            found.append(
                Violation(
                    "stop-never-down",
                    pid,
                    f"desired stop {change.desired} < earlier {seen.max_desired} ({change.reason})",
                )
            )
        seen.max_desired = _higher(seen.max_desired, change.desired)
        confirmed = change.confirmed
        if confirmed is not None:
            if seen.max_confirmed is not None and confirmed < seen.max_confirmed:
                found.append(
                    Violation(
                        "stop-never-down",
                        pid,
                        f"confirmed stop {confirmed} < earlier {seen.max_confirmed} "
                        f"({change.client_order_id}, {change.reason})",
                    )
                )
            seen.max_confirmed = _higher(seen.max_confirmed, confirmed)

    def _check_one_per_pair(self, batch: StateBatch, found: list[Violation]) -> None:
        pairs = {p.pair for p in batch.positions}
        for pair in sorted(pairs):
            live = sorted(
                pid
                for pid, seen in self._positions.items()
                if seen.pair == pair and not seen.status.is_final
            )
            if len(live) > 1:
                found.append(
                    Violation("one-position-per-pair", pair, f"open at once: {', '.join(live)}")
                )

    def _check_sells_within_holdings(self, batch: StateBatch, found: list[Violation]) -> None:
        touched = {r.position_id for r in batch.orders} | {p.position_id for p in batch.positions}
        for pid in sorted(touched):
            position = self._positions.get(pid)
            if position is None:
                continue
            sells = [
                (cid, seen.remaining)
                for cid, seen in self._orders.items()
                if seen.position_id == pid
                and seen.side is OrderSide.SELL
                and not seen.status.is_terminal
            ]
            working = sum((remaining for _, remaining in sells), ZERO)
            if working > position.quantity:
                names = ", ".join(f"{cid} ({remaining})" for cid, remaining in sells)
                found.append(
                    Violation(
                        "spot-only",
                        pid,
                        f"sells for {working} working, {position.quantity} held: {names}",
                    )
                )


def _identity(order: Order, position_id: str) -> tuple[object, ...]:
    return (
        position_id,
        order.product_id,
        order.side,
        order.order_type,
        order.size,
        order.limit_price,
        order.stop_price,
        order.operator_action,
    )


class CheckingStore:
    """A :class:`~ratchet.ports.Store` that checks every batch before handing it to ``inner``.

    ``traders`` (optional) are checked after each commit too. The batch is always written
    (unless ``strict`` raised): a campaign collects every violation and reports them at the end.
    """

    def __init__(
        self,
        inner: Store,
        traders: Mapping[str, PairTrader] | None = None,
        *,
        products: Mapping[str, Product] | None = None,
        strict: bool = False,
    ) -> None:
        self.inner = inner
        self.traders = dict(traders or {})
        known = dict(products or {})
        known.update({pair: trader.product for pair, trader in self.traders.items()})
        self.checker = InvariantChecker(known, strict=strict)

    def __repr__(self) -> str:
        return f"CheckingStore({self.inner!r}, {self.checker!r})"

    @property
    def violations(self) -> list[Violation]:
        """Every rule broken so far."""
        return self.checker.violations

    async def commit(self, batch: StateBatch) -> None:
        """Check the batch (and the traders), then write it."""
        self._check(batch)
        await self.inner.commit(batch)

    def submit(self, batch: StateBatch) -> asyncio.Future[None]:
        """Check the batch (and the traders) now, then queue its write."""
        self._check(batch)
        return self.inner.submit(batch)

    def _check(self, batch: StateBatch) -> None:
        # the batch holds live objects: check them now, as the decision left them
        self.checker.check(batch)
        self.checker.check_traders(self.traders.values())

    async def load(self, products: dict[str, Product]) -> StoredState:
        """Load from ``inner`` and remember it as checked."""
        state = await self.inner.load(products)
        self.checker.products.update(products)
        self.checker.learn(state)
        return state

    async def next_position_sequence(self, pair: str) -> int:
        """Delegated."""
        return await self.inner.next_position_sequence(pair)

    async def close(self) -> None:
        """Delegated."""
        await self.inner.close()
