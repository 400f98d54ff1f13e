"""The synchronous unit of work: every method is one transaction on one :class:`Database`.

:class:`SqlStore` runs these methods on its writer thread; a backtest or a command can call
them directly. Upserts use ``INSERT ... ON CONFLICT`` (SQLite and PostgreSQL spell it alike).

=====================  =============================================================
batch part             how it is written
=====================  =============================================================
products               upserted by product_id (only when changed since last written)
positions              upserted by position_id (``created_at`` kept from the first)
orders                 upserted by client_order_id (``created_at`` kept from the first)
fills                  inserted; a trade_id already stored is ignored, never doubled
stops, signals, audit  appended
=====================  =============================================================

Parents go first, so an order may arrive in the same batch as its position; an order whose
position was never committed, or a fill of an unknown order, fails the whole batch. The writes
are :class:`~ratchet.store.prepared.PreparedInsert` statements: compiled once, sent on the
driver's cursor, values converted by the columns' own types (the writer thread's hot path).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert

from ratchet.domain.money import Product
from ratchet.domain.orders import Fill, OrderStatus
from ratchet.domain.position import PositionStatus
from ratchet.ports import OrderRecord, StateBatch, StoredState
from ratchet.store import codec
from ratchet.store.codec import EncodedBatch, Row, Stored
from ratchet.store.database import Database
from ratchet.store.errors import StoreError, one_line
from ratchet.store.prepared import PreparedInsert
from ratchet.store.tables import (
    audit_log,
    fills,
    orders,
    position_sequences,
    positions,
    products,
    signals,
    stop_history,
)

FINAL_POSITIONS = [s.value for s in PositionStatus if s.is_final]
TERMINAL_ORDERS = [s.value for s in OrderStatus if s.is_terminal]


class Repository:
    """Commit batches and load the state of one database (thread-confined: one writer)."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
        keep_connection: bool = False,
    ) -> None:
        self.database = database
        self._clock = clock
        self._keep_connection = keep_connection
        dialect = postgresql if database.backend == "postgresql" else sqlite
        self._insert: Callable[[Table], Any] = dialect.insert
        raise_to = self._insert(position_sequences)
        newer = raise_to.excluded.last_sequence > position_sequences.c.last_sequence
        raise_sequence = raise_to.on_conflict_do_update(
            index_elements=["pair"],
            set_={
                "last_sequence": case(
                    (newer, raise_to.excluded.last_sequence),
                    else_=position_sequences.c.last_sequence,
                )
            },
        )

        def prepared(statement: Insert) -> PreparedInsert:
            return PreparedInsert(statement, database.engine.dialect)

        # the writer's hot statements, compiled once (see ratchet.store.prepared)
        self._upsert_product = prepared(self._upsert(products, "product_id"))
        self._upsert_position = prepared(
            self._upsert(positions, "position_id", keep=("created_at",))
        )
        self._raise_sequence = prepared(raise_sequence)
        self._children: tuple[tuple[str, PreparedInsert], ...] = (
            ("orders", prepared(self._upsert(orders, "client_order_id", keep=("created_at",)))),
            (
                "fills",
                prepared(self._insert(fills).on_conflict_do_nothing(index_elements=["trade_id"])),
            ),
            ("stops", prepared(stop_history.insert())),
            ("signals", prepared(signals.insert())),
            ("audit", prepared(audit_log.insert())),
        )
        self._written_products: dict[str, Row] = {}
        self._connection: Connection | None = None

    def __repr__(self) -> str:
        return f"Repository({self.database!r})"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One write transaction. With ``keep_connection`` (the store's writer thread) it runs
        on a connection kept open between commits, which saves a pool round trip per commit;
        after any error that connection is dropped and the next one is fresh."""
        if not self._keep_connection:
            with self.database.write() as connection:
                yield connection
            return
        if self._connection is None:
            self._connection = self.database.write_connection()
        try:
            with self._connection.begin():
                yield self._connection
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Give back the connection kept open, if any (the next write takes a new one)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _upsert(self, table: Table, key: str, keep: tuple[str, ...] = ()) -> Insert:
        statement = self._insert(table)
        changes = {
            column.name: statement.excluded[column.name]
            for column in table.columns
            if column.name != key and column.name not in keep
        }
        upsert: Insert = statement.on_conflict_do_update(index_elements=[key], set_=changes)
        return upsert

    # -- writing --------------------------------------------------------------------------------
    def commit(self, batch: StateBatch) -> None:
        """Write ``batch`` in one transaction (see :meth:`write`)."""
        if batch:
            self.write(codec.encode_batch(batch, self._clock()))

    def write(self, rows: EncodedBatch) -> None:
        """Write an encoded batch in one transaction: all of it, or (on error) none of it.

        Raises:
            StoreError: a constraint failed or the database refused; nothing was written.
        """
        self.write_many([rows])

    def write_many(self, batches: Sequence[EncodedBatch]) -> None:
        """Write several encoded batches, in order, in ONE transaction: all or none of them.

        The same as writing them one after the other (a later snapshot of a row wins, a fill
        is stored once), at the cost of one transaction: the writer groups the batches that
        queued up while it was busy.

        Raises:
            StoreError: a constraint failed or the database refused; nothing was written.
        """
        products = {row["product_id"]: row for rows in batches for row in rows.products}
        fresh = [row for row in products.values() if self._changed(row)]
        positions = [row for rows in batches for row in rows.positions]
        try:
            with self._transaction() as connection:
                self._upsert_product.execute(connection, fresh)
                self._upsert_position.execute(connection, positions)
                self._raise_sequence.execute(connection, _sequences_of(positions))
                for part, statement in self._children:
                    every = [row for rows in batches for row in getattr(rows, part)]
                    statement.execute(connection, every)
        except SQLAlchemyError as exc:
            raise StoreError(f"commit failed, nothing was written: {one_line(exc)}") from exc
        for row in fresh:
            self._written_products[row["product_id"]] = row

    def _changed(self, row: Row) -> bool:
        known = self._written_products.get(row["product_id"])
        return known is None or any(known[k] != v for k, v in row.items() if k != "updated_at")

    def next_position_sequence(self, pair: str) -> int:
        """The next position number of ``pair`` (1, 2, 3, ...), durable before it is returned."""
        statement = (
            self._insert(position_sequences)
            .values(pair=pair, last_sequence=1)
            .on_conflict_do_update(
                index_elements=["pair"],
                set_={"last_sequence": position_sequences.c.last_sequence + 1},
            )
            .returning(position_sequences.c.last_sequence)
        )
        try:
            with self._transaction() as connection:
                return int(connection.execute(statement).scalar_one())
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot take a position number for {pair}: {one_line(exc)}") from exc

    # -- reading ------------------------------------------------------------------------------
    def load(self, known_products: Mapping[str, Product]) -> StoredState:
        """Positions not final with their orders, every order not terminal, and the counters.

        A position's product is the one in ``known_products`` (the exchange's current truth),
        else the one stored with it.
        """
        live = positions.c.status.not_in(FINAL_POSITIONS)
        wanted = orders.c.position_id.in_(
            select(positions.c.position_id).where(live)
        ) | orders.c.status.not_in(TERMINAL_ORDERS)
        wanted_ids = select(orders.c.client_order_id).where(wanted)
        try:
            with self.database.read() as connection:
                product_rows = connection.execute(select(products)).mappings().all()
                position_rows = (
                    connection.execute(
                        select(positions).where(live).order_by(positions.c.position_id)
                    )
                    .mappings()
                    .all()
                )
                order_rows = (
                    connection.execute(
                        select(orders)
                        .where(wanted)
                        .order_by(orders.c.created_at, orders.c.client_order_id)
                    )
                    .mappings()
                    .all()
                )
                fill_rows = (
                    connection.execute(
                        select(fills)
                        .where(fills.c.client_order_id.in_(wanted_ids))
                        .order_by(fills.c.id)
                    )
                    .mappings()
                    .all()
                )
                counter_rows = connection.execute(select(position_sequences)).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot load the state: {one_line(exc)}") from exc
        stored = {row["product_id"]: codec.product_from_row(row) for row in product_rows}
        loaded = [
            codec.position_from_row(row, _product(row, known_products, stored))
            for row in position_rows
        ]
        by_order: dict[str, list[Fill]] = {}
        for row in fill_rows:
            by_order.setdefault(row["client_order_id"], []).append(codec.fill_from_row(row))
        counters = {row.pair: row.last_sequence for row in counter_rows}
        records: list[OrderRecord] = [
            codec.order_from_row(row, by_order.get(row["client_order_id"], ()))
            for row in order_rows
        ]
        return StoredState(tuple(loaded), tuple(records), counters)


def _sequences_of(position_rows: tuple[Row, ...] | list[Row]) -> list[Row]:
    """The highest position number of each pair among stored positions (``PAIR#000042``)."""
    highest: dict[str, int] = {}
    for row in position_rows:
        pair, _, number = str(row["position_id"]).partition("#")
        if number.isdigit():
            highest[pair] = max(highest.get(pair, 0), int(number))
    return [{"pair": pair, "last_sequence": number} for pair, number in highest.items()]


def _product(row: Stored, known: Mapping[str, Product], stored: dict[str, Product]) -> Product:
    pair = row["pair"]
    product = known.get(pair) or stored.get(pair)
    if product is None:
        raise StoreError(f"position {row['position_id']}: product {pair} is unknown")
    return product
