"""Fixtures of the store tests: a fresh database per test on SQLite, SQLCipher and PostgreSQL,
and builders of orders and positions in every status.

PostgreSQL runs when ``RATCHET_TEST_PG_URL`` names a server (``.ci/run`` starts one); each test
gets its own database there, dropped afterwards. Without it those cases skip, saying why.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ratchet.domain.ids import ClientOrderId, OrderRole, position_id
from ratchet.domain.money import Product
from ratchet.domain.orders import (
    Accepted,
    Cancelled,
    CancelRequested,
    Expired,
    Fill,
    MarkedUnknown,
    OperatorAction,
    OperatorCommand,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Rejected,
    Submitted,
    TimeInForce,
)
from ratchet.domain.position import Position, PositionStatus, TrailPolicy
from ratchet.ports import OrderRecord
from ratchet.store.database import Database

PG_VARIABLE = "RATCHET_TEST_PG_URL"
NO_PG = f"{PG_VARIABLE} is not set: no PostgreSQL server to test on (.ci/run starts one)"
TEST_KEY = "correct horse battery staple"

ETH_BTC = Product(
    "ETH-BTC",
    base_increment=Decimal("0.00000001"),
    price_increment=Decimal("0.00000001"),
    base_min_size=Decimal("0.0001"),
    quote_min_size=Decimal("0.00001"),
)
BIG_USD = Product(
    "BIG-USD",
    base_increment=Decimal("0.000000001"),
    price_increment=Decimal("0.000000001"),
    base_min_size=Decimal("0.000000001"),
    base_max_size=Decimal("1000000000"),
    quote_increment=Decimal("0.000000001"),
)
PRODUCTS = {product.product_id: product for product in (ETH_BTC, BIG_USD)}


@dataclass(frozen=True)
class Target:
    """Where a test's database lives: a URL, and a key for SQLCipher."""

    kind: str
    url: str
    key: str | None = None

    def open(self, **options: Any) -> Database:
        """Open the database (same URL and key every time)."""
        return Database.open(self.url, key=self.key, **options)


def pg_server_url() -> str | None:
    """The URL of the test PostgreSQL server, or None."""
    return os.environ.get(PG_VARIABLE) or None


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (dropped afterwards)."""
    server = pg_server_url()
    if server is None:
        pytest.skip(NO_PG)
    name = f"ratchet_test_{secrets.token_hex(6)}"
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "sqlcipher", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A fresh database on each backend: plain SQLite, SQLCipher, PostgreSQL."""
    kind = request.param
    if kind == "postgresql":
        return Target(kind, request.getfixturevalue("pg_database"))
    url = f"sqlite:///{tmp_path / 'state' / 'ratchet.db'}"
    return Target(kind, url, TEST_KEY if kind == "sqlcipher" else None)


@pytest.fixture
def sqlite_target(tmp_path: Path) -> Target:
    """A fresh plain SQLite file."""
    return Target("sqlite", f"sqlite:///{tmp_path / 'ratchet.db'}")


# -- builders -------------------------------------------------------------------------------------
def client_id(pid: str, role: OrderRole, sequence: int) -> str:
    """A real client_order_id of one of our orders."""
    return str(ClientOrderId("rt", pid, role, sequence))


def entry_order(pid: str, sequence: int = 1, product: Product = ETH_BTC, **kw: Any) -> Order:
    """A limit buy entry of 2 units at 0.05329 (overridable)."""
    values: dict[str, Any] = {
        "size": Decimal("2.00000000"),
        "limit_price": Decimal("0.05329000"),
        "post_only": True,
    }
    values.update(kw)
    return Order(
        client_id(pid, OrderRole.ENTRY, sequence),
        product.product_id,
        OrderSide.BUY,
        OrderType.LIMIT,
        **values,
    )


def fill(trade: str, size: str, price: str = "0.05329", fee: str = "0.00000266") -> Fill:
    """A fill with exact decimal values."""
    return Fill(trade, Decimal(price), Decimal(size), Decimal(fee), "MAKER", 1_767_225_600)


def orders_in_every_status(pid: str) -> list[Order]:
    """One order per status (plus a market sell of an operator), events applied for real."""
    made: dict[OrderStatus, Order] = {}
    seq = iter(range(1, 100))

    def new(**kw: Any) -> Order:
        return entry_order(pid, next(seq), **kw)

    made[OrderStatus.INITIALIZED] = new()
    pending = new()
    pending.apply(Submitted())
    made[OrderStatus.PENDING] = pending
    opened = new()
    for event in (Submitted(), Accepted(f"ex-{secrets.token_hex(4)}")):
        opened.apply(event)
    made[OrderStatus.OPEN] = opened
    partial = new()
    for event in (Submitted(), Accepted("ex-partial"), fill(f"t-{pid}-p1", "0.5")):
        partial.apply(event)
    made[OrderStatus.PARTIALLY_FILLED] = partial
    cancelling = new()
    for event in (Submitted(), Accepted("ex-cancelling"), CancelRequested()):
        cancelling.apply(event)
    made[OrderStatus.CANCEL_REQUESTED] = cancelling
    filled = new()
    for event in (
        Submitted(),
        Accepted("ex-filled"),
        fill(f"t-{pid}-f1", "0.75"),
        fill(f"t-{pid}-f2", "1.25", price="0.05328999", fee="0"),
    ):
        filled.apply(event)
    made[OrderStatus.FILLED] = filled
    cancelled = new()
    for event in (Submitted(), Accepted("ex-cancelled"), Cancelled("USER_CANCELLED")):
        cancelled.apply(event)
    made[OrderStatus.CANCELLED] = cancelled
    expired = new(time_in_force=TimeInForce.GTD, end_time=1_767_229_200)
    for event in (Submitted(), Accepted("ex-expired"), Expired("end time reached")):
        expired.apply(event)
    made[OrderStatus.EXPIRED] = expired
    rejected = new()
    rejected.apply(Rejected("INSUFFICIENT_FUND"))
    made[OrderStatus.REJECTED] = rejected
    unknown = new()
    for event in (Submitted(), MarkedUnknown("timeout after send")):
        unknown.apply(event)
    made[OrderStatus.UNKNOWN] = unknown
    market = Order(
        client_id(pid, OrderRole.EXIT, 1),
        ETH_BTC.product_id,
        OrderSide.SELL,
        OrderType.MARKET,
        Decimal("1.5"),
        time_in_force=TimeInForce.IOC,
        operator_action=OperatorAction(
            OperatorCommand.FORCE_EXIT, "alice", "exchange maintenance", 1_767_225_900
        ),
    )
    for event in (Submitted(), Accepted("ex-market"), fill(f"t-{pid}-m1", "1.5", fee="0.0001")):
        market.apply(event)
    return [*made.values(), market]


def position_in(status: PositionStatus, sequence: int, product: Product = ETH_BTC) -> Position:
    """A position driven into ``status`` through its own methods."""
    pid = position_id(product.product_id, sequence)
    position = Position(pid, product, TrailPolicy(Decimal("2.5"), Decimal("0.2")))
    if status is PositionStatus.PENDING_ENTRY:
        return position
    if status is PositionStatus.CANCELLED:
        position.on_entry_done()
        return position
    position.on_entry_fill(fill(f"e-{pid}", "2", price="0.05"))
    position.on_entry_done()
    position.on_price(Decimal("0.0612345"))
    if status is PositionStatus.OPEN:
        return position
    position.begin_exit()
    position.on_exit_fill(fill(f"x1-{pid}", "0.5", price="0.06", fee="0.00000003"))
    if status is PositionStatus.EXITING:
        return position
    position.on_exit_fill(fill(f"x2-{pid}", "1.5", price="0.0601", fee="0.00000009"))
    assert position.status is PositionStatus.CLOSED
    return position


def record(order: Order, pid: str, created: float = 1_767_225_600.25) -> OrderRecord:
    """An order as the engine hands it to the store."""
    return OrderRecord(order, pid, created, created + 1.5)


def exact_fields(value: Any) -> Any:
    """A value's fields for comparison, with Decimals as text (digit for digit, not by value)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [exact_fields(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: exact_fields(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    return value


@pytest.fixture
def build() -> SimpleNamespace:
    """The builders above, for test modules (which cannot import a conftest)."""
    return SimpleNamespace(
        ETH_BTC=ETH_BTC,
        BIG_USD=BIG_USD,
        PRODUCTS=PRODUCTS,
        TEST_KEY=TEST_KEY,
        client_id=client_id,
        entry_order=entry_order,
        fill=fill,
        orders_in_every_status=orders_in_every_status,
        position_in=position_in,
        record=record,
        exact_fields=exact_fields,
    )
