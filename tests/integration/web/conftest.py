"""Fixtures of the web API tests: a real server on 127.0.0.1, real SQLite users, a fake engine.

The engine behind the API is :class:`FakeControl`: the real view types of
``ratchet.engine.control``, a few orders and positions in memory, every request it accepted
recorded, and the audit log written to the real SQLite database (``audit_log`` table), so tests
read refusals back from the store. The end-to-end tests use the real engine instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import insert

from ratchet.domain.metrics import PortfolioMetrics
from ratchet.engine.control import (
    NotAllowed,
    NotFound,
    OperatorRefused,
    OrderView,
    PairView,
    PositionDetail,
    PositionView,
    PriceView,
)
from ratchet.ports import AuditEntry, StopChange
from ratchet.store import schema
from ratchet.store.database import Database
from ratchet.store.queries import audit_entries
from ratchet.store.tables import audit_log
from ratchet.web import WebServer, WebSettings, start_web
from ratchet.web.throttle import ThrottleSettings
from ratchet.web.users import Role, add_user

PASSWORD = {
    "vera": "viewer-pass-7431",
    "otto": "operator-pass-9902",
    "olga": "operator-pass-5517",
    "ada": "admin-pass-2208x",
}
ROLES = {"vera": Role.VIEWER, "otto": Role.OPERATOR, "olga": Role.OPERATOR, "ada": Role.ADMIN}


def cheap_hasher() -> PasswordHasher:
    """argon2id still, with small costs so that tests log in quickly."""
    return PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def _order(cid: str, owner: str, pair: str = "ETH-BTC", **extra: Any) -> OrderView:
    values: dict[str, Any] = {
        "client_order_id": cid,
        "exchange_order_id": f"x-{cid}",
        "pair": pair,
        "position_id": f"{pair}#1",
        "role": "entry",
        "side": "BUY",
        "order_type": "LIMIT",
        "status": "OPEN",
        "size": Decimal("0.5"),
        "filled_size": Decimal(0),
        "limit_price": Decimal("0.0501"),
        "stop_price": None,
        "owner": owner,
        "cancellable": True,
    }
    values.update(extra)
    return OrderView(**values)


@dataclass
class FakeControl:
    """The engine control surface with in-memory state; records what it was asked to do."""

    database: Database | None
    pairs_known: tuple[str, ...] = ("ETH-BTC", "LTC-BTC")
    price: Decimal = Decimal("0.05")
    entries: list[tuple[str, Decimal, Decimal, str]] = field(default_factory=list)
    cancels: list[tuple[str, str, bool]] = field(default_factory=list)
    exits: list[tuple[str, str, str]] = field(default_factory=list)
    liquidations: list[tuple[str, str]] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)
    working: dict[str, OrderView] = field(default_factory=dict)
    running: bool = True
    padding: int = 0  # extra bytes in every position view (to make snapshots large)

    def __post_init__(self) -> None:
        self.working = {
            "rt-ETH-BTC-000001-entry": _order("rt-ETH-BTC-000001-entry", "otto"),
            "rt-LTC-BTC-000001-entry": _order("rt-LTC-BTC-000001-entry", "olga", "LTC-BTC"),
        }

    # reads
    def portfolio(self) -> PortfolioMetrics:
        return PortfolioMetrics(
            quote_currency="BTC",
            total_capital=Decimal(10),
            deployed=Decimal("2.5"),
            available=Decimal("7.5"),
            realized_pnl=Decimal("0.125"),
            unrealized_pnl=Decimal("-0.01"),
            closed_trades=4,
            wins=3,
            open_positions=1,
            concentration={"ETH-BTC": Decimal(100)},
            exposure_by_group={"majors": Decimal("2.5")},
        )

    def counters(self) -> dict[str, int]:
        return {"events": 42, "commits": 7, "commands": 5, "ignored": 0}

    def prices(self) -> list[PriceView]:
        return [PriceView(pair, self.price) for pair in self.pairs_known]

    def pairs(self) -> list[PairView]:
        return [
            PairView(
                pair, "idle", self.price, None, Decimal("0.001"), Decimal("0.00001"),
                Decimal("0.01"), Decimal("0.0001"),
            )
            for pair in self.pairs_known
        ]  # fmt: skip

    def positions(self) -> list[PositionView]:
        return [
            PositionView(
                position_id="ETH-BTC#1",
                pair="ETH-BTC",
                status="OPEN" + " " * self.padding,
                entry_price=Decimal("0.049"),
                quantity=Decimal("2"),
                desired_stop=Decimal("0.047"),
                confirmed_stop=Decimal("0.0465"),
                last_price=self.price,
                unrealized_pnl=(self.price - Decimal("0.049")) * 2,
                entry_cost=Decimal("0.098"),
                share_pct=Decimal(100),
                opened_by="engine",
            )
        ]

    def orders(self) -> list[OrderView]:
        return list(self.working.values())

    async def position_detail(self, pair: str) -> PositionDetail:
        if pair not in self.pairs_known:
            raise NotFound(f"{pair!r} is not traded by this engine")
        position = next((p for p in self.positions() if p.pair == pair), None)
        stops = [StopChange("ETH-BTC#1", 1.0, Decimal("0.047"), Decimal("0.0465"), None, "trail")]
        orders = [o for o in self.orders() if o.pair == pair]
        return PositionDetail(pair, position, orders, stops if position else [])

    # requests
    async def place_entry(self, pair: str, price: Decimal, size: Decimal, actor: str) -> str | None:
        if pair not in self.pairs_known:
            raise NotFound(f"{pair!r} is not traded by this engine")
        if size < Decimal("0.01"):
            raise OperatorRefused(f"{pair}: size {size} is below the minimum 0.01")
        self.entries.append((pair, price, size, actor))
        cid = f"rt-{pair}-{len(self.entries) + 1:06d}-entry"
        self.working[cid] = _order(cid, actor, pair, limit_price=price, size=size)
        return cid

    async def cancel_order(self, client_order_id: str, actor: str, *, any_owner: bool) -> None:
        order = self.working.get(client_order_id)
        if order is None:
            raise NotFound(f"no working order {client_order_id} in this engine")
        if order.owner != actor and not any_owner:
            raise NotAllowed(f"{client_order_id} was placed by {order.owner}, not by {actor}")
        self.cancels.append((client_order_id, actor, any_owner))
        self.working[client_order_id] = replace(order, status="CANCELLED", cancellable=False)

    async def force_exit(self, pair: str, actor: str, reason: str) -> None:
        if pair != "ETH-BTC":
            raise OperatorRefused(f"{pair} has no position to exit")
        self.exits.append((pair, actor, reason))

    async def liquidate(self, actor: str, reason: str) -> None:
        self.liquidations.append((actor, reason))

    async def audit(self, actor: str, action: str, subject: str, detail: str) -> None:
        entry = AuditEntry(time.time(), actor, action, subject, detail)
        self.audits.append(entry)
        if self.database is not None:
            database = self.database

            def write() -> None:
                with database.write() as connection:
                    connection.execute(
                        insert(audit_log).values(
                            time=entry.time,
                            actor=actor,
                            action=action,
                            subject=subject,
                            detail=detail,
                        )
                    )

            await asyncio.to_thread(write)

    def stored_audit(self) -> list[AuditEntry]:
        """The audit log as the SQLite file holds it."""
        assert self.database is not None
        return audit_entries(self.database, limit=1000)

    def changed_nothing(self) -> bool:
        """No entry, cancel, exit or liquidation was carried out."""
        cancelled = [o for o in self.working.values() if o.status != "OPEN"]
        return not (self.entries or self.cancels or self.exits or self.liquidations or cancelled)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """aiohttp-session keys requests by strings, which aiohttp warns about: not our concern."""
    ignore = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")
    for item in items:
        if "web" in item.path.parts:
            item.add_marker(ignore)


@pytest.fixture
def passwords() -> dict[str, str]:
    """The password of each test user (vera viewer, otto and olga operators, ada admin)."""
    return dict(PASSWORD)


@pytest.fixture
def fake_control() -> Callable[[Database | None], FakeControl]:
    """Make another fake engine (e.g. one without a user database)."""
    return FakeControl


class Clock:
    """A settable clock for session expiry and login throttling."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    """The server's clock (starts at the wall clock; tests move it)."""
    return Clock()


@pytest.fixture
def database(tmp_path: Path) -> Any:
    """A real SQLite state database (migrated) with one user of each role (two operators)."""
    db = Database.open(f"sqlite:///{tmp_path / 'state' / 'ratchet.db'}")
    schema.migrate(db)
    for name, password in PASSWORD.items():
        add_user(db, name, password, ROLES[name], password_hasher=cheap_hasher())
    yield db
    db.close()


@pytest.fixture
def control(database: Database) -> FakeControl:
    """The fake engine over the real database."""
    return FakeControl(database)


def web_settings(clock: Clock, **overrides: Any) -> WebSettings:
    """Test settings: cheap argon2id, the settable clock, fast pushes."""
    values: dict[str, Any] = {
        "password_hasher": cheap_hasher,
        "clock": clock,
        "push_interval": 0.05,
        "throttle": ThrottleSettings(free_failures=5, base_lockout=30.0),
    }
    values.update(overrides)
    return WebSettings(**values)


StartServer = Callable[..., Awaitable[WebServer]]


@pytest.fixture
async def start_server(
    control: FakeControl, clock: Clock, tmp_path: Path
) -> AsyncIterator[StartServer]:
    """Start web servers on 127.0.0.1 (free ports); all stopped at the end."""
    started: list[WebServer] = []

    async def start(
        engine: Any = None, *, dev_basic_auth: bool = False, **settings: Any
    ) -> WebServer:
        server = await start_web(
            engine or control,
            host="127.0.0.1",
            port=0,
            state_dir=tmp_path / "state",
            dev_basic_auth=dev_basic_auth,
            settings=web_settings(clock, **settings),
        )
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def server(start_server: StartServer) -> WebServer:
    """One server over the fake engine."""
    return await start_server()


class Client:
    """A browser-like HTTP client: its own cookie jar, the CSRF token of its last login."""

    def __init__(self, server: WebServer) -> None:
        self.url = server.url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf: str | None = None

    async def login(self, username: str, password: str | None = None) -> aiohttp.ClientResponse:
        """``POST /api/login``; keeps the CSRF token of a success."""
        given = {"username": username, "password": password or PASSWORD[username]}
        response = await self.http.post(f"{self.url}/api/login", json=given)
        await response.read()
        if response.status == 200:
            self.csrf = (await response.json())["csrf_token"]
        return response

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        """A GET whose body is read."""
        response = await self.http.get(f"{self.url}{path}", **kwargs)
        await response.read()
        return response

    async def post(
        self, path: str, body: Any = None, *, csrf: str | bool | None = True, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """A POST with a JSON body and (by default) the session's CSRF token."""
        headers = dict(kwargs.pop("headers", {}))
        token = self.csrf if csrf is True else csrf
        if isinstance(token, str):
            headers["X-CSRF-Token"] = token
        if body is not None and "data" not in kwargs:
            kwargs["json"] = body
        response = await self.http.post(f"{self.url}{path}", headers=headers, **kwargs)
        await response.read()
        return response

    def cookie(self) -> str | None:
        """The session cookie's value, if any."""
        for cookie in self.http.cookie_jar:
            if cookie.key == "ratchet_session":
                return cookie.value
        return None

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.http.close()


@pytest.fixture
async def clients(server: WebServer) -> AsyncIterator[Callable[..., Client]]:
    """Make clients of ``server`` (or another server); all closed at the end."""
    made: list[Client] = []

    def make(target: WebServer | None = None) -> Client:
        client = Client(target or server)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def logged_in(clients: Callable[..., Client]) -> Callable[[str], Awaitable[Client]]:
    """A client logged in as one of the users (vera, otto, olga, ada)."""

    async def login(username: str) -> Client:
        client = clients()
        response = await client.login(username)
        assert response.status == 200, await response.text()
        return client

    return login
