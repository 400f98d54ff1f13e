"""Small read-only queries for the command line (synchronous: a command has no event loop).

Each function is one read transaction and returns domain objects or the port's records, never
rows. Money is summed in Python (the columns are exact text in SQL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, and_, func, select
from sqlalchemy.engine import Connection

from ratchet.domain.money import Product
from ratchet.domain.orders import Fill, OrderStatus
from ratchet.domain.position import Position, PositionStatus
from ratchet.ports import AuditEntry, OrderRecord, SignalRecord, StopChange
from ratchet.store import codec
from ratchet.store.database import Database
from ratchet.store.tables import (
    audit_log,
    fills,
    orders,
    positions,
    products,
    signals,
    stop_history,
)


@dataclass(frozen=True, slots=True)
class FillView:
    """A fill with the order and position it belongs to."""

    client_order_id: str
    position_id: str
    pair: str
    side: str
    fill: Fill


def list_positions(
    database: Database, *, statuses: Iterable[PositionStatus] = (), pair: str | None = None
) -> list[Position]:
    """Positions (all, or only those in ``statuses`` / of ``pair``), oldest id first."""
    query = select(positions).order_by(positions.c.position_id)
    if wanted := [status.value for status in statuses]:
        query = query.where(positions.c.status.in_(wanted))
    if pair:
        query = query.where(positions.c.pair == pair)
    with database.read() as connection:
        stored = _products(connection)
        rows = connection.execute(query).mappings().all()
    return [codec.position_from_row(row, stored[row["pair"]]) for row in rows]


def list_orders(
    database: Database,
    *,
    statuses: Iterable[OrderStatus] = (),
    open_only: bool = False,
    pair: str | None = None,
    position_id: str | None = None,
    limit: int | None = None,
) -> list[OrderRecord]:
    """Orders with their fills, newest first, filtered by status, openness, pair, position."""
    query = select(orders).order_by(orders.c.created_at.desc(), orders.c.client_order_id.desc())
    if wanted := [status.value for status in statuses]:
        query = query.where(orders.c.status.in_(wanted))
    if open_only:
        query = query.where(orders.c.status.not_in([s.value for s in OrderStatus if s.is_terminal]))
    if pair:
        query = query.where(orders.c.product_id == pair)
    if position_id:
        query = query.where(orders.c.position_id == position_id)
    if limit is not None:
        query = query.limit(limit)
    with database.read() as connection:
        rows = connection.execute(query).mappings().all()
        ids = [row["client_order_id"] for row in rows]
        fill_rows = connection.execute(
            select(fills).where(fills.c.client_order_id.in_(ids)).order_by(fills.c.id)
        ).mappings()
        by_order: dict[str, list[Fill]] = {}
        for fill_row in fill_rows:
            by_order.setdefault(fill_row["client_order_id"], []).append(
                codec.fill_from_row(fill_row)
            )
    return [codec.order_from_row(row, by_order.get(row["client_order_id"], ())) for row in rows]


def list_fills(
    database: Database, *, pair: str | None = None, position_id: str | None = None
) -> list[FillView]:
    """Every fill (of ``pair`` / ``position_id``), in the order they were stored."""
    query: Select[tuple[object, ...]] = (
        select(fills, orders.c.position_id, orders.c.product_id, orders.c.side)
        .join(orders, fills.c.client_order_id == orders.c.client_order_id)
        .order_by(fills.c.id)
    )
    if pair:
        query = query.where(orders.c.product_id == pair)
    if position_id:
        query = query.where(orders.c.position_id == position_id)
    with database.read() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        FillView(
            row["client_order_id"],
            row["position_id"],
            row["product_id"],
            row["side"],
            codec.fill_from_row(row),
        )
        for row in rows
    ]


def closed_positions(database: Database, *, pair: str | None = None) -> list[Position]:
    """The positions that are over (closed, or cancelled with nothing filled)."""
    final = [s for s in PositionStatus if s.is_final]
    return list_positions(database, statuses=final, pair=pair)


def realized_pnl(closed: Iterable[Position]) -> dict[str, Decimal]:
    """Realized profit and loss, summed per quote currency (exact)."""
    totals: dict[str, Decimal] = {}
    for position in closed:
        currency = position.product.quote_currency
        totals[currency] = totals.get(currency, Decimal(0)) + position.realized_pnl
    return totals


def stop_changes(database: Database, position_id: str) -> list[StopChange]:
    """Every recorded move of one position's stop, oldest first."""
    query = (
        select(stop_history)
        .where(stop_history.c.position_id == position_id)
        .order_by(stop_history.c.time, stop_history.c.id)
    )
    with database.read() as connection:
        return [codec.stop_from_row(row) for row in connection.execute(query).mappings()]


def audit_entries(
    database: Database, *, since: float | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The latest ``limit`` audit entries (after ``since``), oldest first."""
    query = select(audit_log).order_by(audit_log.c.time.desc(), audit_log.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(audit_log.c.time >= since)
    with database.read() as connection:
        rows = connection.execute(query).mappings().all()
    return [codec.audit_from_row(row) for row in reversed(rows)]


def signal_records(database: Database, pair: str, *, since: int = 0) -> list[SignalRecord]:
    """The recorded verdicts of ``pair``'s closed candles from ``since`` on, oldest first."""
    query = (
        select(signals)
        .where(signals.c.pair == pair, signals.c.start >= since)
        .order_by(signals.c.start, signals.c.id)
    )
    with database.read() as connection:
        return [codec.signal_from_row(row) for row in connection.execute(query).mappings()]


def _products(connection: Connection) -> dict[str, Product]:
    rows = connection.execute(select(products)).mappings()
    return {row["product_id"]: codec.product_from_row(row) for row in rows}


def known_pairs(database: Database) -> list[str]:
    """Every pair the database has seen (a product, an order or a signal), sorted."""
    with database.read() as connection:
        found = set(connection.execute(select(products.c.product_id)).scalars())
        found.update(connection.execute(select(orders.c.product_id).distinct()).scalars())
        found.update(connection.execute(select(signals.c.pair).distinct()).scalars())
    return sorted(found)


def latest_signals(database: Database) -> dict[str, SignalRecord]:
    """The newest recorded verdict of each pair (the last closed candle the engine saw)."""
    newest = (
        select(signals.c.pair, func.max(signals.c.start).label("start"))
        .group_by(signals.c.pair)
        .subquery()
    )
    query = (
        select(signals)
        .join(newest, and_(signals.c.pair == newest.c.pair, signals.c.start == newest.c.start))
        .order_by(signals.c.id)
    )
    with database.read() as connection:
        rows = connection.execute(query).mappings().all()
    return {row["pair"]: codec.signal_from_row(row) for row in rows}


def confirmed_stops(database: Database) -> dict[str, Decimal]:
    """Each position's latest stop level confirmed by the exchange (positions without one are
    left out)."""
    query = (
        select(stop_history.c.position_id, stop_history.c.confirmed)
        .where(stop_history.c.confirmed.is_not(None))
        .order_by(stop_history.c.time, stop_history.c.id)
    )
    with database.read() as connection:
        return {row.position_id: row.confirmed for row in connection.execute(query)}
