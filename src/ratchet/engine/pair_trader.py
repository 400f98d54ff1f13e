"""``PairTrader``: one pair's life, as a plain object that takes events and returns commands.

    closed candle → 2-of-3 signal → RequestEntry → (risk gate) EntryApproved → limit buy
    → fills → entry done → stop-limit sell → ticks ratchet the stop up → stop fills → closed

The one rule: it never blocks and never awaits — :meth:`PairTrader.handle` returns a
:class:`~ratchet.engine.messages.Decision` (commands plus the state to commit *before* the
commands are carried out), so live trading, paper trading and backtests run this same code.

Events it takes: CandleClosed, PriceTick, OrderPlaced, OrderRefusedByExchange, OrderSendFailed,
OrderUpdated, FillsReported, CancelAnswered, EditAnswered, ReadFailed, EntryApproved,
EntryDenied, TimerFired, and the operator's requests (see :mod:`ratchet.engine.trader_operator`);
the exchange's answers about orders are handled in :mod:`ratchet.engine.trader_orders`.
Commands it gives: RequestEntry, PlaceOrder, CancelOrder, EditOrder, FetchFills, LookUpOrder.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ratchet.domain.candles import Candle
from ratchet.domain.ids import ClientOrderId, OrderRole, position_id
from ratchet.domain.money import INFINITY, ZERO, Product
from ratchet.domain.orders import (
    CancelRequested,
    Order,
    OrderSide,
    OrderType,
)
from ratchet.domain.position import Position, PositionStatus
from ratchet.domain.signals import SignalDecision, SignalEngine
from ratchet.engine import messages as m
from ratchet.engine.forced_exit import ForcedExit
from ratchet.engine.settings import TraderSettings
from ratchet.engine.stops import StopKeeper
from ratchet.engine.trader_operator import OperatorRequests
from ratchet.engine.trader_orders import OrderEvents
from ratchet.ports import AuditEntry, OrderRecord, SignalRecord

HUNDRED = Decimal(100)


def signal_record(pair: str, verdict: SignalDecision) -> SignalRecord:
    """What is kept of one closed candle's verdict."""
    values, candle = verdict.values, verdict.candle
    macd = values.macd
    return tuple.__new__(  # half the cost of SignalRecord(...): one per closed candle
        SignalRecord,
        (
            pair,
            candle.start,
            candle.close,
            values.rsi,
            macd.line if macd else None,
            macd.signal if macd else None,
            values.vwap,
            verdict.rsi_ok,
            verdict.macd_ok,
            verdict.vwap_ok,
            verdict.enter,
        ),
    )


class PairTrader(OrderEvents, OperatorRequests):
    """The life of one pair; see the module docstring for its events and commands."""

    def __init__(
        self,
        product: Product,
        settings: TraderSettings | None = None,
        *,
        position_sequence: int = 0,
    ) -> None:
        self.product = product
        self.pair = product.product_id  # read on every closed candle: a plain attribute
        self.settings = settings or TraderSettings()
        self.signals = SignalEngine(self.settings.rules, self.settings.indicators)
        self.position: Position | None = None
        self.entry: Order | None = None
        self.exit: Order | None = None
        self.stops = StopKeeper(product, self.settings)
        self._sequence = position_sequence
        self._order_seq: dict[OrderRole, int] = {}
        self._requested_price: Decimal | None = None
        self._exchange_filled: dict[str, Decimal] = {}
        self._reads_due: dict[str, tuple[float, m.FetchFills | m.LookUpOrder]] = {}
        self._awaiting_read: set[str] = set()  # asked to read (fills and state), not answered
        self.forced: ForcedExit | None = None
        self.last_signal: SignalRecord | None = None
        self._entry_candles = 0
        self._cooldown = 0
        self._now = 0.0
        self._handlers: dict[type[Any], Callable[[Any, m.Decision], None]] = {
            m.CandleClosed: self._on_candle,
            m.PriceTick: self._on_tick,
            m.EntryApproved: self._on_entry_approved,
            m.EntryDenied: self._on_entry_denied,
            m.OrderPlaced: self._on_placed,
            m.OrderRefusedByExchange: self._on_refused,
            m.OrderSendFailed: self._on_send_failed,
            m.OrderUpdated: self._on_report,
            m.FillsReported: self._on_fills,
            m.CancelAnswered: self._on_cancel_answered,
            m.EditAnswered: self._on_edit_answered,
            m.TimerFired: self._on_timer,
            m.OrderNotOnExchange: self._on_not_on_exchange,
            m.ReadFailed: self._on_read_failed,
            m.OrderRead: self._on_order_read,
            m.ForceExitRequested: self._on_force_exit,
            m.EntryRequestedByOperator: self._on_operator_entry,
            m.CancelRequestedByOperator: self._on_operator_cancel,
        }

    def __repr__(self) -> str:
        state = self.position.status.name if self.position else "IDLE"
        return f"PairTrader({self.pair}, {state}, stop={self.stops.confirmed})"

    @property
    def is_idle(self) -> bool:
        """True when the pair has no position and asked for no entry."""
        return self.position is None and self._requested_price is None

    def tick_ceiling(self) -> Decimal | None:
        """Ticks at or below this price change nothing here, whenever they come (None: any
        tick may). A driver that knows the market stays below it may leave the ticks out:
        the backtester does, for the legs of a candle that cannot reach anything."""
        position = self.position
        if position is None:
            return INFINITY
        if (
            self.forced is not None
            or self.settings.stranded_stop_after > 0
            or not self.stops.settled(position)
        ):
            return None
        return position.tick_ceiling()

    def orders(self) -> list[Order]:
        """Every order of the current position that the trader tracks."""
        return [order for order in self._order_slots() if order is not None]

    def order(self, client_order_id: str) -> Order | None:
        """A tracked order by client_order_id."""
        for order in self._order_slots():  # a plain loop: this runs for every order event
            if order is not None and order.client_order_id == client_order_id:
                return order
        return None

    def _order_on_exchange(self, exchange_order_id: str) -> Order | None:
        """A tracked order by the exchange's id for it."""
        for order in self._order_slots():
            if order is not None and order.exchange_order_id == exchange_order_id:
                return order
        return None

    def _order_slots(self) -> tuple[Order | None, ...]:
        """Where the trader keeps orders (None: empty): the entry, the operator's exit, a
        forced exit's sell, and the stop with the one it replaces (:meth:`StopKeeper.orders`)."""
        forced = self.forced.order if self.forced else None
        return (self.entry, self.exit, forced, self.stops.order, self.stops.retiring)

    # -- restart ------------------------------------------------------------------------------
    def warm_up(self, candles: list[Candle]) -> int:
        """Feed history to the indicators only (no signals acted on); return how many were new."""
        taken = 0
        for candle in candles:
            if candle.start > self.signals.indicators.last_start:
                self.signals.on_candle_closed(candle)
                taken += 1
        return taken

    def restore_sequence(self, sequence: int) -> None:
        """The last position number used for this pair (new ones continue after it)."""
        self._sequence = max(self._sequence, sequence)

    def restore(self, position: Position, orders: list[Order]) -> None:
        """Take back a stored position and its orders (oldest first) after a restart."""
        self.position = position
        self.restore_sequence(int(position.position_id.partition("#")[2]))
        self._order_seq = {}
        stops: list[Order] = []
        for order in orders:
            parsed = ClientOrderId.parse(order.client_order_id, self.settings.id_prefix)
            if parsed is None:
                continue
            seq = self._order_seq.get(parsed.role, 0)
            self._order_seq[parsed.role] = max(seq, parsed.sequence)
            if parsed.role is OrderRole.ENTRY:
                self.entry = order
            elif order.operator_action is not None:
                if self.forced is None:
                    self.forced = ForcedExit(order.operator_action)
                self.forced.order = order
                self.forced.sells += 1
                self.stops.frozen = True
            else:
                if self.forced is not None:
                    # a stop placed after the operator's sells: that exit gave up and protected
                    # the rest again, so the stop trails as usual
                    self.forced = None
                    self.stops.frozen = False
                stops.append(order)
        self.stops.restore(position, stops)

    # -- the one entry point ---------------------------------------------------------------
    def handle(self, event: m.EngineEvent, now: float) -> m.Decision:
        """Take one event; return the commands and the state to commit before them."""
        if now > self._now:  # noqa: PLR1730 (max() costs a call on every event)
            self._now = now
        decision = m.Decision()
        self._handlers[type(event)](event, decision)
        return decision

    # -- signals and entry -------------------------------------------------------------------
    def _on_candle(self, event: m.CandleClosed, d: m.Decision) -> None:
        verdict = self.signals.on_candle_closed(event.candle)
        self.last_signal = signal_record(self.pair, verdict)
        d.batch.signals.append(self.last_signal)
        if self.entry is not None and self.entry.is_working:
            self._age_entry(d)
        if self.position is None and self._requested_price is None:
            if self._cooldown:
                self._cooldown -= 1
            elif verdict.enter:
                self._requested_price = self.product.buy_limit_price(event.candle.close)
                d.commands.append(m.RequestEntry(self.pair, self._requested_price, self._now))

    def _age_entry(self, d: m.Decision) -> None:
        assert self.entry is not None
        self._entry_candles += 1
        ttl = self.settings.entry_ttl_candles
        if self._entry_candles < ttl:
            return
        filled = self.entry.filled_size
        too_small = filled > 0 and not self.product.can_carry_order(filled)
        if too_small and self._entry_candles < ttl + self.settings.dust_grace_candles:
            self._audit(d, "entry kept working", f"filled {filled} cannot carry a stop yet")
            return
        self._cancel(self.entry, d, "entry time-to-live reached")

    def _on_entry_approved(self, event: m.EntryApproved, d: m.Decision) -> None:
        price, self._requested_price = self._requested_price, None
        if price is None or self.position is not None:
            return  # a stale answer: the pair has moved on
        size = self.product.buy_size(event.budget, price, self.settings.sizing_fee_rate)
        problems = self.product.violations(price, size)
        if problems:
            self._audit(d, "entry skipped", f"budget {event.budget}: {'; '.join(problems)}")
            return
        self._open_position(d)
        self.entry = self._new_order(
            OrderRole.ENTRY, OrderSide.BUY, OrderType.LIMIT, size, limit_price=price
        )
        self._send(self.entry, d)

    def _open_position(self, d: m.Decision) -> Position:
        """A new position (numbered after the last one), recorded in the batch."""
        self._sequence += 1
        self.position = Position(
            position_id(self.pair, self._sequence), self.product, self.settings.trail
        )
        self._order_seq = {}
        self._entry_candles = 0
        d.batch.positions.append(self.position)
        return self.position

    def _on_entry_denied(self, event: m.EntryDenied, d: m.Decision) -> None:
        if self._requested_price is not None:
            self._requested_price = None
            self._audit(d, "entry refused by risk gate", event.reason)

    # -- order life ----------------------------------------------------------------------------
    def _new_order(
        self, role: OrderRole, side: OrderSide, kind: OrderType, size: Decimal, **extra: Any
    ) -> Order:
        assert self.position is not None
        self._order_seq[role] = self._order_seq.get(role, 0) + 1
        cid = ClientOrderId(
            self.settings.id_prefix, self.position.position_id, role, self._order_seq[role]
        )
        return Order(str(cid), self.pair, side, kind, size, **extra)

    def _send(self, order: Order, d: m.Decision) -> None:
        """Write the intent (INITIALIZED) into the batch, then ask for the send."""
        self._record(order, d)
        d.commands.append(m.PlaceOrder(order))

    def _cancel(self, order: Order, d: m.Decision, why: str) -> None:
        if order.allows(CancelRequested()) and order.apply(CancelRequested()):
            self._record(order, d)
            d.commands.append(m.CancelOrder(order))
            self._audit(d, "cancel requested", f"{order.client_order_id}: {why}")

    def _record(self, order: Order, d: m.Decision) -> None:
        assert self.position is not None
        d.batch.orders.append(OrderRecord(order, self.position.position_id, self._now, self._now))

    def _on_tick(self, event: m.PriceTick, d: m.Decision) -> None:
        if self.position is None:
            return
        if self.forced is not None:
            self._continue_forced_exit(d)  # a partly filled market sell goes on for the rest
            return
        moved = self.position.on_price(event.price)
        if moved is not None:
            d.batch.positions.append(self.position)
            self.stops.desire(self.position, moved, self._now, d)
        # the pair's own tick time: the same in a backtest and a paper run of the same candles
        self.stops.watch(event.price, self.position, event.time, d, self._new_order)
        self.stops.maybe_replace(self.position, self._now, d, self._new_order)

    def _on_timer(self, event: m.TimerFired, d: m.Decision) -> None:
        if self._reads_due:
            self._reask_failed_reads(d)
        if self.forced is not None:
            self._continue_forced_exit(d)
        elif self.position is not None:
            self.stops.maybe_replace(self.position, self._now, d, self._new_order)

    # -- what an order's new state means for the position --------------------------------------
    def _settle(self, order: Order, d: m.Decision) -> None:
        position = self.position
        if position is None:
            return
        if order.is_done and order.client_order_id in self._awaiting_read:
            return  # what it sold or bought is being read: settle it with the answer
        fills_pending = order.filled_size < self._exchange_filled.get(order.client_order_id, ZERO)
        if (
            order is self.entry
            and order.is_done
            and not fills_pending
            and position.status is PositionStatus.PENDING_ENTRY
        ):
            stop = position.on_entry_done()
            d.batch.positions.append(position)
            if stop is None:
                self._finish(d, "entry ended without a fill")
                return
            if not position.can_carry_stop:
                self._audit(
                    d, "dust", f"{position.position_id}: {position.quantity} cannot carry a stop"
                )
                return
            self.stops.desire(position, stop, self._now, d)
            self.stops.place(position, self._now, d, self._new_order)
        elif order is self.entry and position.status is PositionStatus.OPEN:
            self.stops.maybe_replace(position, self._now, d, self._new_order)  # a late entry fill
        if order is self.stops.order or order is self.stops.retiring:
            self.stops.on_order_change(order, position, self._now, d, self._new_order)
        self._continue_forced_exit(d)
        if position.status is PositionStatus.CLOSED:
            self._finish(d, f"closed, realised P&L {position.realized_pnl}")

    def _finish(self, d: m.Decision, why: str) -> None:
        assert self.position is not None
        self._audit(d, "position finished", f"{self.position.position_id}: {why}")
        self.position = None
        self.entry = None
        self.exit = None
        self._exchange_filled.clear()
        self._reads_due.clear()
        self._awaiting_read.clear()
        self.forced = None
        self.stops.reset()
        self._cooldown = self.settings.cooldown_candles

    def _reported_filled(self, order: Order) -> Decimal:
        """The filled size the exchange last reported for ``order``."""
        return self._exchange_filled.get(order.client_order_id, ZERO)

    def _audit(self, d: m.Decision, action: str, detail: str) -> None:
        d.batch.audit.append(AuditEntry(self._now, "engine", action, self.pair, detail))
