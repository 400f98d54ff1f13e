"""InvariantChecker and CheckingStore: each rule of DESIGN.md §2, broken once and kept once."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from ratchet.domain.money import Product
from ratchet.domain.order_types import (
    OperatorAction,
    OperatorCommand,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ratchet.domain.orders import Accepted, Amended, Cancelled, Fill, Order, Submitted
from ratchet.domain.position import Position, PositionStatus, TrailPolicy
from ratchet.engine.invariants import (
    CheckingStore,
    InvariantChecker,
    InvariantViolation,
    Violation,
)
from ratchet.engine.pair_trader import PairTrader
from ratchet.memory_store import MemoryStore
from ratchet.ports import OrderRecord, StateBatch, StopChange

D = Decimal
PAIR = "ETH-BTC"
PRODUCT = Product(PAIR, D("0.001"), D("0.00001"), D("0.01"), quote_increment=D("0.00000001"))
PID = "ETH-BTC#000001"
ENTRY = "rt-ETH-BTC-000001-entry-1"
STOP = "rt-ETH-BTC-000001-stop-1"


def checker() -> InvariantChecker:
    return InvariantChecker({PAIR: PRODUCT})


def rules(found: list[Violation]) -> set[str]:
    return {v.rule for v in found}


def only(found: list[Violation], rule: str) -> list[Violation]:
    """The violations of one rule (a broken step often breaks another rule too)."""
    return [v for v in found if v.rule == rule]


def entry(size: str = "1.000", price: str = "0.05000") -> Order:
    return Order(ENTRY, PAIR, OrderSide.BUY, OrderType.LIMIT, D(size), limit_price=D(price))


def stop(cid: str = STOP, size: str = "1.000", level: str = "0.04900") -> Order:
    return Order(
        cid,
        PAIR,
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        D(size),
        limit_price=D(level) - D("0.00010"),
        stop_price=D(level),
    )


def record(order: Order, pid: str = PID) -> OrderRecord:
    return OrderRecord(copy.deepcopy(order), pid, 0.0, 0.0)


def position(pid: str = PID) -> Position:
    return Position(pid, PRODUCT, TrailPolicy(D(2)))


def fill(trade_id: str, price: str, size: str, fee: str = "0.00002") -> Fill:
    return Fill(trade_id, D(price), D(size), D(fee))


def filled_entry(c: InvariantChecker) -> tuple[Position, Order]:
    """Commit an entry intent, then its fill and the open position (a valid history)."""
    order, held = entry(), position()
    assert not c.check(StateBatch(orders=[record(order)], positions=[copy.deepcopy(held)]))
    order.apply(Submitted())
    order.apply(Accepted("x-entry"))
    done = fill("t1", "0.05000", "1.000")
    order.apply(done)
    held.on_entry_fill(done)
    held.on_entry_done()
    found = c.check(
        StateBatch(orders=[record(order)], positions=[copy.deepcopy(held)], fills=[(ENTRY, done)])
    )
    assert not found
    return held, order


# -- stop-never-down -------------------------------------------------------------------------------
def test_a_desired_stop_that_rises_is_kept_and_one_that_falls_is_a_violation() -> None:
    c = checker()
    filled_entry(c)
    rise = StopChange(PID, 1.0, D("0.04950"), None, None, "trail rose")
    assert not c.check(StateBatch(stops=[rise]))
    fall = StopChange(PID, 2.0, D("0.04940"), None, None, "trail rose")
    [found] = c.check(StateBatch(stops=[fall]))
    assert found.rule == "stop-never-down" and found.subject == PID
    assert "0.04940" in found.detail and "0.04950" in found.detail


def test_a_confirmed_stop_below_an_earlier_confirmed_one_is_a_violation() -> None:
    c = checker()
    filled_entry(c)
    first = StopChange(PID, 1.0, D("0.04950"), D("0.04950"), STOP, "confirmed")
    same = StopChange(PID, 2.0, D("0.04960"), D("0.04950"), None, "trail rose")
    assert not c.check(StateBatch(stops=[first, same]))
    lower = StopChange(PID, 3.0, D("0.04960"), D("0.04900"), "rt-x", "confirmed")
    assert rules(c.check(StateBatch(stops=[lower]))) == {"stop-never-down"}


def test_a_position_stop_that_loosens_is_a_violation() -> None:
    c = checker()
    held, _ = filled_entry(c)
    held.on_price(D("0.05200"))  # the stop ratchets up
    assert not c.check(StateBatch(positions=[copy.deepcopy(held)]))
    loosened = copy.deepcopy(held)
    loosened.stop = D("0.04000")
    assert rules(c.check(StateBatch(positions=[loosened]))) == {"stop-never-down"}


def test_a_new_stop_order_below_the_confirmed_stop_is_a_violation() -> None:
    c = checker()
    filled_entry(c)
    c.check(StateBatch(stops=[StopChange(PID, 1.0, D("0.04950"), D("0.04950"), STOP, "ok")]))
    assert not c.check(
        StateBatch(orders=[record(stop("rt-ETH-BTC-000001-stop-2", level="0.04950"))])
    )
    lower = stop("rt-ETH-BTC-000001-stop-3", level="0.04900")
    [found] = only(c.check(StateBatch(orders=[record(lower)])), "stop-never-down")
    assert lower.client_order_id in found.detail


def test_the_traders_stops_are_checked_against_what_was_committed() -> None:
    # Arrange: a trader holding the committed position, its desired stop then lowered
    c = checker()
    held, order = filled_entry(c)
    trader = PairTrader(PRODUCT)
    trader.position, trader.entry = held, order
    trader.stops.desired = held.stop
    assert not c.check_traders([trader])
    # Act
    assert held.stop is not None
    trader.stops.desired = held.stop - D("0.00100")
    # Assert
    [found] = c.check_traders([trader])
    assert found.rule == "stop-never-down" and "desired stop" in found.detail


# -- no-exit-before-entry --------------------------------------------------------------------------
def test_a_stop_before_the_entry_has_a_fill_is_a_violation() -> None:
    c = checker()
    c.check(StateBatch(orders=[record(entry())], positions=[position()]))
    found = c.check(StateBatch(orders=[record(stop())]))
    # nothing is held yet, so it also sells more than is held
    assert rules(found) == {"no-exit-before-entry", "spot-only"}
    assert STOP in only(found, "no-exit-before-entry")[0].detail


def test_a_stop_after_the_entry_filled_is_kept() -> None:
    c = checker()
    filled_entry(c)
    assert not c.check(StateBatch(orders=[record(stop())]))


def test_a_stop_in_the_same_step_as_the_entry_fill_is_kept() -> None:
    c = checker()
    order, held = entry(), position()
    c.check(StateBatch(orders=[record(order)], positions=[copy.deepcopy(held)]))
    order.apply(Submitted())
    done = fill("t1", "0.05000", "1.000")
    order.apply(done)
    held.on_entry_fill(done)
    held.on_entry_done()
    batch = StateBatch(
        orders=[record(stop()), record(order)], positions=[held], fills=[(ENTRY, done)]
    )
    assert not c.check(batch)


def test_a_working_sell_held_by_a_trader_without_an_entry_fill_is_a_violation() -> None:
    c = checker()
    c.check(StateBatch(orders=[record(entry())], positions=[position()]))
    trader = PairTrader(PRODUCT)
    trader.position = position()
    sell = stop()
    sell.apply(Submitted())
    trader.stops.order = sell
    assert rules(c.check_traders([trader])) == {"no-exit-before-entry"}
    trader.stops.order = None
    assert not c.check_traders([trader])


# -- market-needs-operator, limit-buy-entries ------------------------------------------------------
def test_a_market_order_needs_an_operator_action() -> None:
    c = checker()
    filled_entry(c)
    action = OperatorAction(OperatorCommand.FORCE_EXIT, "alice", "test", 0)
    forced = Order(
        "rt-ETH-BTC-000001-exit-1",
        PAIR,
        OrderSide.SELL,
        OrderType.MARKET,
        D("1.000"),
        operator_action=action,
        time_in_force=TimeInForce.IOC,
    )
    assert not c.check(StateBatch(orders=[record(forced)]))
    bare = copy.deepcopy(forced)
    bare.client_order_id = "rt-ETH-BTC-000001-exit-2"
    bare.operator_action = None  # what Order itself refuses: the checker must see it too
    [found] = only(c.check(StateBatch(orders=[record(bare)])), "market-needs-operator")
    assert found.subject == bare.client_order_id


def test_a_buy_that_is_not_a_limit_order_is_a_violation() -> None:
    c = checker()
    assert not c.check(StateBatch(orders=[record(entry())], positions=[position()]))
    other = entry()
    other.client_order_id = "rt-ETH-BTC-000001-entry-2"
    other.order_type = OrderType.STOP_LIMIT
    other.stop_price = D("0.05100")
    assert "limit-buy-entries" in rules(c.check(StateBatch(orders=[record(other)])))


# -- one-position-per-pair -------------------------------------------------------------------------
def test_two_open_positions_in_one_pair_are_a_violation() -> None:
    c = checker()
    assert not c.check(StateBatch(positions=[position()]))
    [found] = c.check(StateBatch(positions=[position("ETH-BTC#000002")]))
    assert found.rule == "one-position-per-pair"
    assert "ETH-BTC#000001" in found.detail and "ETH-BTC#000002" in found.detail


def test_a_new_position_after_the_last_one_ended_is_kept() -> None:
    c = checker()
    first = position()
    c.check(StateBatch(positions=[copy.deepcopy(first)]))
    first.on_entry_done()  # nothing filled: cancelled
    assert first.status is PositionStatus.CANCELLED
    assert not c.check(StateBatch(positions=[first]))
    assert not c.check(StateBatch(positions=[position("ETH-BTC#000002")]))


# -- decimal-only, increments ----------------------------------------------------------------------
def test_a_float_in_an_order_is_a_violation() -> None:
    c = checker()
    order = entry()
    order.limit_price = 0.05  # type: ignore[assignment]
    [found] = c.check(StateBatch(orders=[record(order)]))
    assert found.rule == "decimal-only" and "limit_price=0.05" in found.detail


def test_a_float_in_a_position_or_a_stop_change_is_a_violation() -> None:
    c = checker()
    held = position()
    held.entry_value = 0.1  # type: ignore[assignment]
    assert rules(c.check(StateBatch(positions=[held]))) == {"decimal-only"}
    change = StopChange("ETH-BTC#000009", 1.0, 0.049, None, None)  # type: ignore[arg-type]
    assert rules(c.check(StateBatch(stops=[change]))) == {"decimal-only"}


def test_prices_and_sizes_off_the_product_grid_are_violations() -> None:
    c = checker()
    assert not c.check(StateBatch(orders=[record(entry())], positions=[position()]))
    c2 = checker()
    found = c2.check(
        StateBatch(orders=[record(entry(size="1.0005", price="0.050005"))], positions=[position()])
    )
    assert rules(found) == {"increments"}
    assert {v.detail.split()[0] for v in found} == {"limit_price", "size"}
    tiny = checker().check(StateBatch(orders=[record(entry(size="0.001"))]))
    assert [v.detail for v in tiny] == ["size 0.001 < minimum 0.01"]


# -- client-order-id-unique, write-ahead -----------------------------------------------------------
def test_a_client_order_id_reused_for_a_different_order_is_a_violation() -> None:
    c = checker()
    filled_entry(c)
    assert not c.check(StateBatch(orders=[record(stop())]))
    again = Order(STOP, PAIR, OrderSide.BUY, OrderType.LIMIT, D(1), limit_price=D("0.049"))
    found = c.check(StateBatch(orders=[record(again)]))
    assert ("client-order-id-unique", STOP) in [(v.rule, v.subject) for v in found]


def test_new_terms_for_an_order_not_working_on_the_exchange_are_a_violation() -> None:
    c = checker()
    filled_entry(c)
    assert not c.check(StateBatch(orders=[record(stop())]))
    again = stop(level="0.04950")  # same id, another price, never sent: not an edit
    [found] = c.check(StateBatch(orders=[record(again)]))
    assert found.rule == "edit-only-when-working" and found.subject == STOP


def test_an_edit_of_a_working_stop_may_raise_it_but_never_lower_it() -> None:
    c = checker()
    filled_entry(c)
    order = stop()
    assert not c.check(StateBatch(orders=[record(order)]))
    order.apply(Submitted())
    order.apply(Accepted("x-1"))
    assert not c.check(StateBatch(orders=[record(order)]))
    assert order.stop_price is not None and order.limit_price is not None
    higher = order.stop_price + D("0.0005")
    order.apply(Amended(order.size, order.limit_price + D("0.0005"), higher))
    assert not c.check(StateBatch(orders=[record(order)]))  # an edit up: fine
    order.apply(Amended(order.size, order.limit_price - D("0.001"), higher - D("0.001")))
    [found] = c.check(StateBatch(orders=[record(order)]))
    assert found.rule == "stop-never-down" and "edited from" in found.detail


def test_one_client_order_id_for_two_exchange_orders_is_a_violation() -> None:
    c = checker()
    filled_entry(c)
    order = stop()
    c.check(StateBatch(orders=[record(order)]))
    order.apply(Submitted())
    order.apply(Accepted("x-1"))
    assert not c.check(StateBatch(orders=[record(order)]))
    other = record(order)
    other.order.exchange_order_id = "x-2"
    [found] = c.check(StateBatch(orders=[other]))
    assert found.rule == "client-order-id-unique" and "x-1" in found.detail


def test_an_order_first_committed_after_it_was_sent_breaks_write_ahead() -> None:
    c = checker()
    order = entry()
    order.apply(Submitted())
    [found] = c.check(StateBatch(orders=[record(order)], positions=[position()]))
    assert found.rule == "write-ahead" and "PENDING" in found.detail


# -- realized-pnl, position-matches-fills, spot-only -----------------------------------------------
def closed_round_trip(c: InvariantChecker) -> tuple[Position, StateBatch]:
    held, _ = filled_entry(c)
    order = stop()
    c.check(StateBatch(orders=[record(order)]))
    order.apply(Submitted())
    sold = fill("t2", "0.05100", "1.000")
    order.apply(sold)
    held.on_exit_fill(sold)
    assert held.status is PositionStatus.CLOSED
    return held, StateBatch(orders=[record(order)], positions=[held], fills=[(STOP, sold)])


def test_a_closed_position_with_the_exact_pnl_is_kept() -> None:
    c = checker()
    _, batch = closed_round_trip(c)
    assert not c.check(batch)


def test_a_closed_position_with_a_wrong_pnl_is_a_violation() -> None:
    c = checker()
    held, batch = closed_round_trip(c)
    held.realized_pnl += D("0.00000001")
    [found] = c.check(batch)
    assert found.rule == "realized-pnl" and found.subject == PID


def test_a_position_whose_sums_differ_from_its_fills_is_a_violation() -> None:
    c = checker()
    held, _ = filled_entry(c)
    wrong = copy.deepcopy(held)
    wrong.entry_fees = D(0)
    [found] = c.check(StateBatch(positions=[wrong]))
    assert found.rule == "position-matches-fills" and "BUY" in found.detail


def test_a_fill_counted_for_two_orders_is_a_violation() -> None:
    c = checker()
    filled_entry(c)
    c.check(StateBatch(orders=[record(stop())]))
    [found] = c.check(StateBatch(fills=[(STOP, fill("t1", "0.05000", "1.000"))]))
    assert found.rule == "position-matches-fills" and ENTRY in found.detail


def test_sells_for_more_than_is_held_are_a_violation() -> None:
    c = checker()
    filled_entry(c)
    assert not c.check(StateBatch(orders=[record(stop())]))
    second = stop("rt-ETH-BTC-000001-stop-2")
    [found] = c.check(StateBatch(orders=[record(second)]))
    assert found.rule == "spot-only" and "2.000" in found.detail


# -- terminal-is-final -----------------------------------------------------------------------------
def test_an_order_back_from_a_terminal_status_is_a_violation() -> None:
    c = checker()
    filled_entry(c)  # the entry is FILLED
    back = entry()
    back.apply(Submitted())
    back.apply(Accepted("x-entry"))
    back.apply(fill("t1", "0.05000", "1.000"))
    back.status = OrderStatus.OPEN
    [found] = c.check(StateBatch(orders=[record(back)]))
    assert found.rule == "terminal-is-final" and "FILLED to OPEN" in found.detail


def test_a_cancelled_order_completed_by_late_fills_is_kept() -> None:
    c = checker()
    filled_entry(c)
    order = stop()
    c.check(StateBatch(orders=[record(order)]))
    order.apply(Submitted())
    order.apply(Cancelled("replaced"))
    assert not c.check(StateBatch(orders=[record(order)]))
    late = fill("t2", "0.04900", "1.000")
    order.apply(late)
    assert order.status is OrderStatus.FILLED
    held = position()
    held.on_entry_fill(fill("t1", "0.05000", "1.000", fee="0.00002"))
    held.on_entry_done()
    held.on_exit_fill(late)
    assert not c.check(StateBatch(orders=[record(order)], positions=[held], fills=[(STOP, late)]))


def test_a_closed_position_that_reopens_is_a_violation() -> None:
    c = checker()
    held, batch = closed_round_trip(c)
    c.check(batch)
    reopened = copy.deepcopy(held)
    reopened.status = PositionStatus.OPEN
    assert "terminal-is-final" in rules(c.check(StateBatch(positions=[reopened])))


# -- strict mode and the store wrapper -------------------------------------------------------------
def test_a_strict_checker_raises_with_the_ids_involved() -> None:
    c = InvariantChecker({PAIR: PRODUCT}, strict=True)
    c.check(StateBatch(orders=[record(entry())], positions=[position()]))
    with pytest.raises(InvariantViolation) as raised:
        c.check(StateBatch(orders=[record(stop())]))
    assert raised.value.violations[0].rule == "no-exit-before-entry"
    assert PID in str(raised.value) and STOP in str(raised.value)


async def test_the_checking_store_writes_every_batch_and_collects_what_broke() -> None:
    # Arrange
    inner = MemoryStore()
    trader = PairTrader(PRODUCT)
    store = CheckingStore(inner, {PAIR: trader})
    # Act: a valid intent, then a stop before any fill
    await store.commit(StateBatch(orders=[record(entry())], positions=[position()]))
    await store.commit(StateBatch(orders=[record(stop())]))
    # Assert: both written (the campaign reports at the end), one violation kept
    assert set(inner.orders) == {ENTRY, STOP}
    assert [v.rule for v in store.violations] == ["no-exit-before-entry", "spot-only"]
    assert store.checker.batches == 2


async def test_the_checking_store_takes_a_restart_as_checked_and_goes_on_checking() -> None:
    # Arrange: an earlier run left an open position with a confirmed stop
    inner = MemoryStore()
    first = CheckingStore(inner, products={PAIR: PRODUCT})
    c = first.checker
    held, order = filled_entry(c)
    await inner.commit(StateBatch(orders=[record(order)], positions=[held]))
    # Act: a new process loads it through a fresh checking store
    store = CheckingStore(inner, {PAIR: PairTrader(PRODUCT)})
    state = await store.load({PAIR: PRODUCT})
    # Assert: nothing flagged for what was loaded, and a later step is checked against it
    assert len(state.positions) == 1 and not store.violations
    assert held.stop is not None
    await store.commit(StateBatch(orders=[record(stop(level=str(held.stop)))]))
    assert not store.violations
    lower = copy.deepcopy(held)
    lower.stop = held.stop - D("0.00010")
    await store.commit(StateBatch(positions=[lower]))
    assert [v.rule for v in store.violations] == ["stop-never-down"]


async def test_the_checking_store_checks_a_submitted_batch_as_the_decision_left_it() -> None:
    # Arrange
    inner = MemoryStore()
    store = CheckingStore(inner, {PAIR: PairTrader(PRODUCT)})
    order = entry()
    batch = StateBatch(orders=[OrderRecord(order, PID, 0.0, 0.0)], positions=[position()])
    # Act: submitted as an intent, then (as a later decision would) sent before the write is done
    written = store.submit(batch)
    order.apply(Submitted())
    await written
    # Assert: the intent was checked at submit time (write-ahead kept), and it was written
    assert not store.violations
    assert ENTRY in inner.orders
