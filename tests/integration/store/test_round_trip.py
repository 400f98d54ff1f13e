"""What is committed loads back field by field and digit for digit, on every backend."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from ratchet.domain.money import Product
from ratchet.domain.orders import Accepted, OrderStatus, Submitted
from ratchet.domain.position import Position, PositionStatus, TrailPolicy
from ratchet.ports import AuditEntry, StateBatch, StopChange
from ratchet.store import queries
from ratchet.store.errors import StoreError
from ratchet.store.sql_store import SqlStore
from ratchet.store.tables import audit_log, fills, orders, positions


async def _open(target: Any) -> SqlStore:
    return await SqlStore.open(target.url, key=target.key)


async def test_orders_in_every_status_load_back_equal_field_by_field(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange: a live position owns one order in each status (+ an operator market sell)
    position = build.position_in(PositionStatus.OPEN, 1)
    made = build.orders_in_every_status(position.position_id)
    records = [build.record(order, position.position_id) for order in made]
    store = await _open(store_target)

    # Act
    await store.commit(StateBatch(orders=records, positions=[position]))
    await store.close()
    reopened = await _open(store_target)
    state = await reopened.load(build.PRODUCTS)
    await reopened.close()

    # Assert
    assert {r.order.status for r in records} == set(OrderStatus)
    loaded = {r.order.client_order_id: r for r in state.orders}
    assert loaded.keys() == {r.order.client_order_id for r in records}
    for sent in records:
        back = loaded[sent.order.client_order_id]
        assert build.exact_fields(back) == build.exact_fields(sent)
    market = loaded[made[-1].client_order_id].order
    assert market.operator_action == made[-1].operator_action
    assert market.exchange_order_id == "ex-market"
    assert [f.trade_id for f in loaded[made[5].client_order_id].order.fills] == [
        f.trade_id for f in made[5].fills
    ]


async def test_positions_in_every_status_load_back_equal_field_by_field(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange
    made = {status: build.position_in(status, n) for n, status in enumerate(PositionStatus, 1)}
    store = await _open(store_target)

    # Act
    await store.commit(StateBatch(positions=list(made.values())))
    state = await store.load(build.PRODUCTS)
    await store.close()
    database = store_target.open()
    every = queries.list_positions(database)
    database.close()

    # Assert: load gives the live ones, the query gives all; both exactly as committed
    live = {p.position_id for p in made.values() if not p.status.is_final}
    assert {p.position_id for p in state.positions} == live
    for position in [*state.positions, *every]:
        sent = next(p for p in made.values() if p.position_id == position.position_id)
        assert build.exact_fields(position) == build.exact_fields(sent)
    opened = made[PositionStatus.OPEN]
    assert opened.stop is not None and opened.high_water == Decimal("0.0612345")
    assert made[PositionStatus.CLOSED].realized_pnl != 0


async def test_money_comes_back_digit_for_digit(store_target: Any, build: SimpleNamespace) -> None:
    # Arrange: tiny and huge values, and trailing zeros that must survive
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1, product=build.BIG_USD)
    order = build.entry_order(
        position.position_id,
        product=build.BIG_USD,
        size=Decimal("123456789.123456789"),
        limit_price=Decimal("0.000053290"),
    )
    order.apply(Submitted())
    order.apply(Accepted("ex-big"))
    order.apply(build.fill("t-big", "0.00005329", price="0.000053290", fee="0E-9"))
    store = await _open(store_target)

    # Act
    await store.commit(
        StateBatch(orders=[build.record(order, position.position_id)], positions=[position])
    )
    state = await store.load({})  # the product comes from the store itself
    await store.close()

    # Assert
    back = state.orders[0].order
    assert str(back.size) == "123456789.123456789"
    assert str(back.limit_price) == "0.000053290"
    assert str(back.filled_size) == "0.00005329"
    assert str(back.fills[0].fee) == "0E-9"
    assert str(back.filled_value) == str(order.filled_value)
    assert build.exact_fields(state.positions[0].product) == build.exact_fields(build.BIG_USD)


async def test_a_fill_reported_again_in_a_later_batch_is_stored_once(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    order = build.entry_order(position.position_id)
    order.apply(Submitted())
    first = build.fill("t-once", "0.5")
    order.apply(first)
    store = await _open(store_target)
    await store.commit(
        StateBatch(
            orders=[build.record(order, position.position_id)],
            positions=[position],
            fills=[(order.client_order_id, first)],
        )
    )

    # Act: the same trade again (WebSocket, then REST after a reconnect)
    await store.commit(StateBatch(fills=[(order.client_order_id, first)]))
    await store.commit(
        StateBatch(
            orders=[build.record(order, position.position_id)],
            fills=[(order.client_order_id, first)],
        )
    )
    state = await store.load(build.PRODUCTS)
    await store.close()

    # Assert
    database = store_target.open()
    with database.read() as connection:
        stored = connection.execute(select(func.count()).select_from(fills)).scalar_one()
    database.close()
    assert stored == 1
    assert [f.trade_id for f in state.orders[0].order.fills] == ["t-once"]


async def test_a_batch_that_fails_midway_writes_nothing(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange: position, order and audit are fine; the fill names an order nobody stored
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    order = build.entry_order(position.position_id)
    batch = StateBatch(
        orders=[build.record(order, position.position_id)],
        positions=[position],
        fills=[("rt-ETH-BTC-000099-entry-1", build.fill("t-orphan", "1"))],
        audit=[AuditEntry(1.0, "engine", "entry", position.position_id)],
    )
    store = await _open(store_target)

    # Act
    with pytest.raises(StoreError, match="commit failed, nothing was written"):
        await store.commit(batch)
    state = await store.load(build.PRODUCTS)
    await store.close()

    # Assert
    database = store_target.open()
    with database.read() as connection:
        counts = [
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (positions, orders, fills, audit_log)
        ]
    database.close()
    assert counts == [0, 0, 0, 0]
    assert state.positions == () and state.orders == ()


async def test_position_numbers_keep_rising_across_a_reopen(store_target: Any) -> None:
    # Arrange
    store = await _open(store_target)
    first = [await store.next_position_sequence("ETH-BTC") for _ in range(3)]
    other = await store.next_position_sequence("LTC-BTC")
    await store.close()

    # Act
    reopened = await _open(store_target)
    after = await reopened.next_position_sequence("ETH-BTC")
    state = await reopened.load({})
    await reopened.close()

    # Assert
    assert first == [1, 2, 3]
    assert other == 1
    assert after == 4
    assert state.position_sequences == {"ETH-BTC": 4, "LTC-BTC": 1}


async def test_load_keeps_live_orders_of_final_positions_and_drops_their_finished_ones(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange: a closed position whose stop is still being cancelled, and a filled entry
    closed = build.position_in(PositionStatus.CLOSED, 1)
    pid = closed.position_id
    done, leftover = build.orders_in_every_status(pid)[5], build.entry_order(pid, 50)
    for event in (Submitted(), Accepted("ex-left")):
        leftover.apply(event)
    store = await _open(store_target)
    await store.commit(
        StateBatch(
            orders=[build.record(done, pid), build.record(leftover, pid)], positions=[closed]
        )
    )

    # Act
    state = await store.load(build.PRODUCTS)
    await store.close()

    # Assert
    assert state.positions == ()
    assert [r.order.client_order_id for r in state.orders] == [leftover.client_order_id]


async def test_a_later_snapshot_replaces_the_order_but_keeps_when_it_was_created(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    order = build.entry_order(position.position_id)
    store = await _open(store_target)
    await store.commit(
        StateBatch(orders=[build.record(order, position.position_id, 100.0)], positions=[position])
    )

    # Act
    order.apply(Submitted())
    order.apply(Accepted("ex-1"))
    await store.commit(StateBatch(orders=[build.record(order, position.position_id, 200.0)]))
    state = await store.load(build.PRODUCTS)
    await store.close()

    # Assert
    (back,) = state.orders
    assert back.order.status is OrderStatus.OPEN
    assert back.order.exchange_order_id == "ex-1"
    assert back.created_at == 100.0
    assert back.updated_at == 201.5


async def test_the_commit_writes_the_batch_as_it_was_when_commit_was_called(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    order = build.entry_order(position.position_id)
    store = await _open(store_target)

    # Act: the engine moves on before the writer thread has run
    pending = store.commit(
        StateBatch(orders=[build.record(order, position.position_id)], positions=[position])
    )
    task = asyncio.ensure_future(pending)
    await asyncio.sleep(0)
    order.apply(Submitted())
    await task
    state = await store.load(build.PRODUCTS)
    await store.close()

    # Assert
    assert state.orders[0].order.status is OrderStatus.INITIALIZED


async def test_the_command_line_queries_read_orders_fills_history_stops_and_audit(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange
    open_position = build.position_in(PositionStatus.OPEN, 1)
    closed = build.position_in(PositionStatus.CLOSED, 2)
    pid = open_position.position_id
    made = build.orders_in_every_status(pid)
    stop = StopChange(pid, 50.0, Decimal("0.05970363"), Decimal("0.05970363"), None, "trail")
    store = await _open(store_target)
    await store.commit(
        StateBatch(
            orders=[build.record(o, pid, 1000.0 + n) for n, o in enumerate(made)],
            positions=[open_position, closed],
            stops=[stop],
            audit=[AuditEntry(60.0, "alice", "force-exit", pid, "maintenance")],
        )
    )
    await store.close()
    database = store_target.open()

    # Act
    working = queries.list_orders(database, open_only=True)
    filled = queries.list_orders(database, statuses=[OrderStatus.FILLED], limit=1)
    trades = queries.list_fills(database, position_id=pid)
    history = queries.closed_positions(database)
    stops = queries.stop_changes(database, pid)
    audit = queries.audit_entries(database)
    database.close()

    # Assert
    assert {r.order.status for r in working} == {
        OrderStatus.INITIALIZED,
        OrderStatus.PENDING,
        OrderStatus.OPEN,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.CANCEL_REQUESTED,
        OrderStatus.UNKNOWN,
    }
    assert [r.order.client_order_id for r in filled] == [made[-1].client_order_id]
    assert len(filled[0].order.fills) == 1
    assert sorted(t.fill.trade_id for t in trades) == sorted(
        f.trade_id for o in made for f in o.fills
    )
    assert [p.position_id for p in history] == [closed.position_id]
    assert queries.realized_pnl(history) == {"BTC": closed.realized_pnl}
    assert stops == [stop]
    assert audit == [AuditEntry(60.0, "alice", "force-exit", pid, "maintenance")]


async def test_position_numbers_in_committed_positions_are_never_handed_out_again(
    tmp_path: Path,
) -> None:
    # Arrange: the engine numbers its own positions and commits them
    product = Product("ETH-BTC", Decimal("0.01"), Decimal("0.00001"), Decimal("0.01"))
    store = await SqlStore.open(f"sqlite:///{tmp_path / 'seq.db'}")
    position = Position("ETH-BTC#000007", product, TrailPolicy(Decimal(2)))
    await store.commit(StateBatch(positions=[position]))
    # Act
    state = await store.load({"ETH-BTC": product})
    following = await store.next_position_sequence("ETH-BTC")
    await store.close()
    # Assert: a restart continues after 7, never reusing an id (ids make client_order_ids)
    assert state.position_sequences["ETH-BTC"] == 7
    assert following == 8


async def test_a_batch_holding_a_row_twice_keeps_its_last_snapshot(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange: one decision recorded the same position and order twice, changed in between
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    order = build.entry_order(position.position_id)
    first_order = build.record(order, position.position_id)
    first_position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    order.apply(Submitted())
    order.apply(Accepted("ex-twice"))
    later_position = build.position_in(PositionStatus.OPEN, 1)
    store = await _open(store_target)

    # Act
    await store.commit(
        StateBatch(
            orders=[first_order, build.record(order, position.position_id)],
            positions=[first_position, later_position],
        )
    )
    state = await store.load(build.PRODUCTS)
    await store.close()

    # Assert
    [back_order] = state.orders
    assert back_order.order.status is OrderStatus.OPEN
    assert back_order.order.exchange_order_id == "ex-twice"
    [back_position] = state.positions
    assert back_position.status is PositionStatus.OPEN


def audit_actions(target: Any) -> list[str]:
    """The audit log's actions, oldest first, read straight from the database."""
    database = target.open()
    with database.read() as connection:
        found = connection.execute(select(audit_log.c.action).order_by(audit_log.c.id))
        actions = list(found.scalars())
    database.close()
    return actions


async def test_batches_queued_behind_a_busy_writer_go_in_one_transaction_in_order(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange: the writer thread is held busy while 30 batches queue, one of them bad
    store = await _open(store_target)
    release = threading.Event()
    busy = store._executor.submit(release.wait)  # hold the writer thread
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)
    orphan = ("rt-ETH-BTC-000099-entry-1", build.fill("t-orphan", "1"))
    futures = []
    for n in range(30):
        audit = [AuditEntry(float(n), "engine", f"step {n}", position.position_id)]
        bad = n == 17
        futures.append(
            store.submit(
                StateBatch(positions=[position], audit=audit, fills=[orphan] if bad else [])
            )
        )
    groups_before = store.groups

    # Act
    release.set()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    busy.result()
    actions = audit_actions(store_target)
    await store.close()

    # Assert: one group (tried whole, then batch by batch because of the bad one)
    assert store.groups - groups_before == 1
    assert [type(o).__name__ for o in outcomes].count("StoreError") == 1
    assert isinstance(outcomes[17], StoreError)
    assert actions == [f"step {n}" for n in range(30) if n != 17]


async def test_writes_nothing_waits_for_share_a_transaction_and_an_urgent_one_takes_them_along(
    store_target: Any, build: SimpleNamespace
) -> None:
    # Arrange
    store = await _open(store_target)
    position = build.position_in(PositionStatus.PENDING_ENTRY, 1)

    def batch(n: int) -> StateBatch:
        return StateBatch(
            positions=[position], audit=[AuditEntry(float(n), "engine", f"step {n}", "x")]
        )

    # Act: ten that may wait, then (later) three that may wait and one that may not
    groups = store.groups
    relaxed = [store.submit(batch(n), urgent=False) for n in range(10)]
    await asyncio.gather(*relaxed)
    first = store.groups - groups
    later = [store.submit(batch(n), urgent=False) for n in range(10, 13)]
    urgent = store.submit(batch(13))
    await urgent
    taken_along = all(f.done() for f in later)
    await asyncio.gather(*later)
    actions = audit_actions(store_target)
    await store.close()

    # Assert
    assert first == 1
    assert taken_along
    assert actions == [f"step {n}" for n in range(14)]
