"""The order state machine: only the moves the table allows, and every fill counted once."""

from __future__ import annotations

import copy
import pickle
from dataclasses import fields
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ratchet.domain.ids import ClientOrderId, OrderRole, position_id
from ratchet.domain.orders import (
    TRANSITIONS,
    Accepted,
    Amended,
    Cancelled,
    CancelRejected,
    CancelRequested,
    Expired,
    Fill,
    InvalidTransition,
    MarkedUnknown,
    OperatorAction,
    OperatorCommand,
    Order,
    OrderError,
    OrderEvent,
    OrderSide,
    OrderStatus,
    OrderType,
    Rejected,
    Submitted,
    TimeInForce,
    Trigger,
)
from ratchet.domain.position import PositionStatus

D = Decimal
S = OrderStatus
LOT = D("0.001")
TICK = D("0.00001")


# -- stub factories --------------------------------------------------------------------------
def client_order_id(role: OrderRole = OrderRole.ENTRY, sequence: int = 1) -> str:
    """A real client_order_id for position 1 of ETH-BTC."""
    return str(ClientOrderId("rt", position_id("ETH-BTC", 1), role, sequence))


def order_with(**changes: Any) -> Order:
    """An entry (a GTC limit buy of 1 ETH at 0.05 BTC) with ``changes`` applied."""
    spec: dict[str, Any] = {
        "client_order_id": client_order_id(),
        "product_id": "ETH-BTC",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "size": D(1),
        "limit_price": D("0.05"),
    }
    return Order(**(spec | changes))


def limit_buy(size: str = "1") -> Order:
    """An entry of ``size`` ETH."""
    return order_with(size=D(size))


def stop_sell(size: str = "1", **changes: Any) -> Order:
    """A protective stop-limit sell of ``size`` ETH, stop 0.05, limit 0.049."""
    spec = {
        "client_order_id": client_order_id(OrderRole.STOP),
        "side": OrderSide.SELL,
        "order_type": OrderType.STOP_LIMIT,
        "size": D(size),
        "limit_price": D("0.049"),
        "stop_price": D("0.05"),
    }
    return order_with(**(spec | changes))


def market_sell(action: OperatorAction | None, **changes: Any) -> Order:
    """An operator's market sell (an exit), carrying ``action`` as its audit record."""
    spec = {
        "client_order_id": client_order_id(OrderRole.EXIT),
        "side": OrderSide.SELL,
        "order_type": OrderType.MARKET,
        "limit_price": None,
        "time_in_force": TimeInForce.IOC,
        "operator_action": action,
    }
    return order_with(**(spec | changes))


def fill(trade_id: str, size: str, price: str = "0.05", fee: str = "0") -> Fill:
    """One trade of ``size`` at ``price``."""
    return Fill(trade_id, D(price), D(size), D(fee))


def working(order: Order) -> Order:
    """The order sent and acknowledged as ``ex-1``."""
    order.apply(Submitted())
    order.apply(Accepted("ex-1"))
    return order


def snapshot(order: Order) -> dict[str, Any]:
    """A deep copy of every field of the order, to prove that nothing changed."""
    return {f.name: copy.deepcopy(getattr(order, f.name)) for f in fields(order)}


# -- the state machine -----------------------------------------------------------------------
REASONS = st.sampled_from(["", "EXPIRED", "user"])
# Weighted so that most runs stay out of the terminal statuses for a while.
KINDS = ["fill"] * 5 + ["amend"] * 2 + ["submit", "accept"] * 2 + ["cancel_request"] * 2
KINDS += ["cancel_rejected", "unknown", "cancelled", "expired", "rejected"]
OTHER_EVENTS: dict[str, st.SearchStrategy[OrderEvent]] = {
    "submit": st.just(Submitted()),
    "accept": st.sampled_from(["ex-1", "ex-1", "ex-2"]).map(Accepted),
    "cancel_request": st.just(CancelRequested()),
    "cancel_rejected": REASONS.map(CancelRejected),
    "unknown": REASONS.map(MarkedUnknown),
    "cancelled": REASONS.map(Cancelled),
    "expired": REASONS.map(Expired),
    "rejected": REASONS.map(Rejected),
}


class OrderMachine(RuleBasedStateMachine):
    """Random event sequences against an Order, checked against a model of its fills."""

    def __init__(self) -> None:
        super().__init__()
        self.order = limit_buy()
        self.model: dict[str, Fill] = {}
        self.trade_ids: list[str] = []

    @initialize(is_stop=st.booleans(), lots=st.integers(1, 20))
    def create(self, is_stop: bool, lots: int) -> None:
        self.order = stop_sell(str(LOT * lots)) if is_stop else limit_buy(str(LOT * lots))

    def _fill(self, data: st.DataObject) -> Fill:
        remaining = int(self.order.remaining_size / LOT)
        if self.trade_ids and data.draw(st.booleans(), label="repeat"):
            trade_id = data.draw(st.sampled_from(self.trade_ids), label="trade_id")
        else:
            trade_id = f"t{len(self.trade_ids)}"
            self.trade_ids.append(trade_id)
        lots = data.draw(st.integers(1, max(1, remaining) + 2), label="lots")
        price = TICK * data.draw(st.integers(4000, 6000), label="price ticks")
        fee = data.draw(st.decimals(0, D("0.0001"), places=8), label="fee")
        return Fill(trade_id, price, LOT * lots, fee)

    def _amend(self, data: st.DataObject) -> Amended:
        filled = int(self.order.filled_size / LOT)
        below = st.integers(1, filled - 1) if filled > 1 else st.nothing()
        # Sizes equal to the filled size are left out: see test_amend_to_the_filled_size_...
        lots = data.draw(st.integers(filled + 1, filled + 20) | below, label="amend lots")
        if self.order.order_type is OrderType.STOP_LIMIT and data.draw(st.booleans()):
            stop = TICK * data.draw(st.integers(4000, 6000), label="stop ticks")
            return Amended(LOT * lots, limit_price=stop - TICK, stop_price=stop)
        return Amended(LOT * lots)

    @rule(data=st.data())
    def apply_event(self, data: st.DataObject) -> None:
        # Arrange
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        if kind == "fill":
            event: OrderEvent = self._fill(data)
        elif kind == "amend":
            event = self._amend(data)
        else:
            event = data.draw(OTHER_EVENTS[kind], label="event")
        order, before = self.order, snapshot(self.order)
        duplicate = isinstance(event, Fill) and event.trade_id in self.model
        target = TRANSITIONS.get((order.status, expected_trigger(order, event)))
        contradicts = contradiction(order, event)
        allowed = order.allows(event)
        # Act
        try:
            changed = order.apply(event)
        except OrderError as error:
            # Assert: refused, and the order is exactly as it was (no partial mutation)
            assert snapshot(order) == before
            assert not duplicate
            if isinstance(error, InvalidTransition):
                assert target is None
                assert not allowed
            else:
                assert target is not None
                assert contradicts
            return
        # Assert
        if duplicate:
            assert changed is False
            assert snapshot(order) == before
            return
        assert target is not None
        assert not contradicts
        assert allowed
        assert order.status is expected_status(target, order)
        assert changed == (snapshot(order) != before)
        if before["status"].is_terminal and order.status is not before["status"]:
            assert before["status"] in (S.CANCELLED, S.EXPIRED)
            assert order.status is S.FILLED
        if isinstance(event, Fill):
            self.model[event.trade_id] = event

    @invariant()
    def fills_are_counted_once(self) -> None:
        fills = list(self.model.values())
        assert [f.trade_id for f in self.order.fills] == list(self.model)
        assert self.order.filled_size == sum((f.size for f in fills), D(0))
        assert self.order.filled_value == sum((f.price * f.size for f in fills), D(0))
        assert self.order.fees == sum((f.fee for f in fills), D(0))

    @invariant()
    def filled_size_matches_the_status(self) -> None:
        order = self.order
        assert D(0) <= order.filled_size <= order.size
        assert (order.status is S.FILLED) == (order.filled_size == order.size)
        if order.status is S.OPEN:
            assert order.filled_size == 0
        if order.status is S.PARTIALLY_FILLED:
            assert 0 < order.filled_size < order.size
        assert order.is_done == (order.status in (S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED))


NAMES = {Submitted: "SUBMIT", Accepted: "ACCEPT", Amended: "AMEND", Expired: "EXPIRE"}
NAMES |= {CancelRequested: "REQUEST_CANCEL", CancelRejected: "CANCEL_REJECTED"}
NAMES |= {Cancelled: "CANCEL", Rejected: "REJECT", MarkedUnknown: "MARK_UNKNOWN"}


def expected_trigger(order: Order, event: OrderEvent) -> Trigger:
    """The trigger an event should have, worked out from the order's sizes."""
    if isinstance(event, Fill):
        completes = order.filled_size + event.size >= order.size
        return Trigger.FILL if completes else Trigger.PARTIAL_FILL
    return Trigger[NAMES[type(event)]]


def contradiction(order: Order, event: OrderEvent) -> bool:
    """True when the event contradicts what the order knows (apply must raise OrderError)."""
    if isinstance(event, Accepted):
        return order.exchange_order_id not in (None, event.exchange_order_id)
    if isinstance(event, Fill):
        return order.filled_size + event.size > order.size
    if isinstance(event, Amended):
        return event.size < order.filled_size
    return False


def expected_status(target: OrderStatus | None, order: Order) -> OrderStatus | None:
    """The table's target, with OPEN read as PARTIALLY_FILLED once something has filled."""
    return S.PARTIALLY_FILLED if target is S.OPEN and order.filled_size > 0 else target


TestOrderStateMachine = OrderMachine.TestCase
TestOrderStateMachine.settings = settings(max_examples=300, stateful_step_count=25, deadline=None)


# -- fills, acks and cancels ----------------------------------------------------------------
def test_fill_after_cancel_request_moves_to_filled() -> None:
    # Arrange
    order = working(limit_buy("1"))
    order.apply(CancelRequested())
    # Act
    order.apply(fill("t1", "1"))
    # Assert
    assert order.status is S.FILLED
    assert order.filled_size == D(1)


def test_duplicate_fill_is_counted_once() -> None:
    # Arrange
    order = working(limit_buy("1"))
    order.apply(fill("t1", "0.4", fee="0.0001"))
    before = snapshot(order)
    # Act: the same trade, reported again by REST (even with another size)
    first = order.apply(fill("t1", "0.4", fee="0.0001"))
    second = order.apply(fill("t1", "0.6"))
    # Assert
    assert (first, second) == (False, False)
    assert snapshot(order) == before
    assert (order.filled_size, order.fees) == (D("0.4"), D("0.0001"))


def test_fills_give_an_exact_average_price() -> None:
    # Arrange
    order = working(limit_buy("1"))
    # Act
    order.apply(fill("t1", "0.25", price="0.04"))
    order.apply(fill("t2", "0.75", price="0.05"))
    # Assert
    assert order.status is S.FILLED
    assert order.average_fill_price == D("0.0475")


def test_ack_after_fill_changes_nothing() -> None:
    # Arrange
    order = working(limit_buy("1"))
    order.apply(fill("t1", "1"))
    before = snapshot(order)
    # Act
    changed = order.apply(Accepted("ex-1"))
    # Assert
    assert changed is False
    assert snapshot(order) == before


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([fill("t1", "0.5"), Accepted("ex-1")], S.PARTIALLY_FILLED),  # the fill overtook the ack
        # a partial fill races the cancel, which then fails: back to working
        ([CancelRequested(), fill("t1", "0.4"), CancelRejected("late")], S.PARTIALLY_FILLED),
        ([Cancelled(), fill("t1", "0.5")], S.CANCELLED),  # late report of an earlier fill
        ([Cancelled(), fill("t1", "0.5"), fill("t2", "0.5")], S.FILLED),  # filled after all
        ([Expired(), fill("t1", "1")], S.FILLED),
        ([fill("t1", "1"), CancelRequested(), CancelRejected("FULLY_FILLED")], S.FILLED),
        ([MarkedUnknown("timeout"), Accepted("ex-1")], S.OPEN),  # a look-up resolves it
        ([MarkedUnknown("timeout"), Submitted()], S.PENDING),  # never arrived: same id again
        ([MarkedUnknown("timeout"), fill("t1", "0.3")], S.PARTIALLY_FILLED),
    ],
)
def test_late_and_racing_events_end_in_the_right_status(
    events: list[OrderEvent], status: OrderStatus
) -> None:
    # Arrange: sent, not acknowledged yet
    order = limit_buy("1")
    order.apply(Submitted())
    # Act
    for event in events:
        order.apply(event)
    # Assert
    assert order.status is status


def test_conflicting_exchange_id_raises() -> None:
    # Arrange
    order = working(limit_buy("1"))
    before = snapshot(order)
    # Act / Assert
    with pytest.raises(OrderError, match="contradicts"):
        order.apply(Accepted("ex-2"))
    assert snapshot(order) == before


@pytest.mark.parametrize(
    ("events", "bad", "error"),
    [
        ([fill("t1", "0.5")], fill("t2", "0.6"), OrderError),  # more than the size
        ([fill("t1", "0.5")], Amended(D("0.4")), OrderError),  # below the filled size
        ([], Accepted("ex-2"), OrderError),  # contradicts ex-1
        ([MarkedUnknown(), Rejected("risk")], fill("t1", "1"), InvalidTransition),
        ([], Submitted(), InvalidTransition),  # OPEN -> SUBMIT
        ([fill("t1", "1")], Cancelled(), InvalidTransition),
    ],
)
def test_refused_events_leave_the_order_unchanged(
    events: list[OrderEvent], bad: OrderEvent, error: type[Exception]
) -> None:
    # Arrange
    order = working(limit_buy("1"))
    for event in events:
        order.apply(event)
    before = snapshot(order)
    # Act / Assert
    assert not order.allows(bad)
    with pytest.raises(error):
        order.apply(bad)
    assert snapshot(order) == before


# -- amends: known gaps (src bugs) -----------------------------------------------------------
@pytest.mark.parametrize(("filled", "new_size"), [("0.4", "0.4"), ("0", "0")])
def test_amend_to_the_filled_size_is_refused_or_completes_the_order(
    filled: str, new_size: str
) -> None:
    # Arrange
    order = working(limit_buy("1"))
    if D(filled):
        order.apply(fill("t1", filled))
    # Act
    try:
        order.apply(Amended(D(new_size)))
    except OrderError:
        return
    # Assert: a working order with nothing left to fill could never finish
    assert order.status is S.FILLED


def test_amend_cannot_put_a_stop_below_its_limit() -> None:
    # Arrange
    order = working(stop_sell("1"))
    # Act / Assert
    with pytest.raises(OrderError):
        order.apply(Amended(D(1), stop_price=D("0.01")))


# -- trading rules checked at construction ---------------------------------------------------
FORCE_EXIT = OperatorAction(OperatorCommand.FORCE_EXIT, "alice", "exchange outage", 1_700_000_000)


def test_market_order_without_operator_action_is_refused() -> None:
    # Act / Assert
    with pytest.raises(OrderError, match="operator action"):
        market_sell(None)


def test_market_sell_with_an_audited_operator_action_is_allowed() -> None:
    # Act
    order = market_sell(FORCE_EXIT)
    # Assert
    assert order.status is S.INITIALIZED
    assert order.operator_action == FORCE_EXIT


def test_operator_market_buy_is_refused() -> None:
    # Act / Assert
    with pytest.raises(OrderError, match="only sell"):
        market_sell(FORCE_EXIT, side=OrderSide.BUY)


@pytest.mark.parametrize(("actor", "reason"), [("", "why"), ("alice", "  ")])
def test_operator_action_needs_an_actor_and_a_reason(actor: str, reason: str) -> None:
    # Act / Assert
    with pytest.raises(OrderError):
        OperatorAction(OperatorCommand.FORCE_EXIT, actor, reason, 1)


def test_entry_must_be_a_limit_buy() -> None:
    # Act / Assert
    with pytest.raises(OrderError, match="limit buys only"):
        stop_sell(side=OrderSide.BUY)


@pytest.mark.parametrize(
    "changes",
    [
        {"size": D(0)},
        {"limit_price": None},
        {"limit_price": D(0)},
        {"time_in_force": TimeInForce.GTD},
        {"client_order_id": ""},
    ],
)
def test_malformed_limit_buys_are_refused(changes: dict[str, Any]) -> None:
    # Act / Assert
    with pytest.raises(OrderError):
        order_with(**changes)


@pytest.mark.parametrize("changes", [{"limit_price": D("0.051")}, {"stop_price": None}])
def test_stop_limit_needs_a_stop_at_or_above_its_limit(changes: dict[str, Any]) -> None:
    # Act / Assert
    with pytest.raises(OrderError):
        stop_sell(**changes)


@pytest.mark.parametrize("maker", ["fill", "order"])
def test_floats_never_get_into_an_order(maker: str) -> None:
    # Act / Assert
    with pytest.raises(ValueError):  # OrderError or MoneyError
        if maker == "fill":
            Fill("t1", 0.05, 1.0)  # type: ignore[arg-type]
        else:
            order_with(size=1.5, limit_price=0.05)


def test_the_order_vocabulary_hashes_by_identity_and_survives_a_pickle() -> None:
    # Arrange: every Enum of the order vocabulary, as the transition table and the engine use them
    vocabularies = [OrderStatus, Trigger, OrderRole, OrderSide, OrderType, TimeInForce]
    vocabularies += [OperatorCommand, PositionStatus]
    for vocabulary in vocabularies:
        members = list(vocabulary)
        # Act
        table = {member: index for index, member in enumerate(members)}
        back = pickle.loads(pickle.dumps(table))
        # Assert: a member is found as a key, and comes back from a pickle as the same member
        assert [table[member] for member in members] == list(range(len(members)))
        assert all(key is members[value] for key, value in back.items())
        assert all(hash(member) == object.__hash__(member) for member in members)
    assert (S.OPEN, Trigger.FILL) in TRANSITIONS
