"""Every endpoint for every role, over real sockets: what each may read and do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from ratchet.web.serialize import plain

Client = FakeControl = Any  # fixtures' types (see conftest.py)
Login = Callable[[str], Awaitable[Client]]

READS = [
    "/api/session",
    "/api/portfolio",
    "/api/positions",
    "/api/positions/ETH-BTC",
    "/api/orders",
    "/api/pairs",
    "/api/prices",
]


@pytest.mark.parametrize("path", READS)
async def test_reads_need_a_session(clients: Callable[..., Client], path: str) -> None:
    response = await clients().get(path)
    assert response.status == 401
    assert await response.json() == {"error": "log in first"}


@pytest.mark.parametrize("username", ["vera", "otto", "ada"])
async def test_every_role_reads_everything(logged_in: Login, username: str) -> None:
    client = await logged_in(username)
    for path in READS:
        response = await client.get(path)
        assert response.status == 200, (path, await response.text())
        assert response.content_type == "application/json"


async def test_portfolio_money_is_decimal_strings_with_the_derived_figures(
    logged_in: Login,
) -> None:
    folio = await (await (await logged_in("vera")).get("/api/portfolio")).json()
    assert folio["total_capital"] == "10"
    assert folio["realized_pnl"] == "0.125"
    assert folio["unrealized_pnl"] == "-0.01"
    assert folio["win_rate"] == "0.75"
    assert folio["concentration"] == {"ETH-BTC": "100"}
    assert folio["exposure_by_group"] == {"majors": "2.5"}
    assert Decimal(folio["deployed_pct"]) == 25
    assert Decimal(folio["pnl_pct"]) == Decimal("1.15")


async def test_positions_orders_pairs_and_detail(logged_in: Login) -> None:
    client = await logged_in("vera")
    positions = (await (await client.get("/api/positions")).json())["positions"]
    assert positions[0]["pair"] == "ETH-BTC"
    assert positions[0]["confirmed_stop"] == "0.0465"
    orders = (await (await client.get("/api/orders")).json())["orders"]
    assert {o["owner"] for o in orders} == {"otto", "olga"}
    pairs = (await (await client.get("/api/pairs")).json())["pairs"]
    assert [p["pair"] for p in pairs] == ["ETH-BTC", "LTC-BTC"]
    assert pairs[0]["price_increment"] == "0.00001"
    detail = await (await client.get("/api/positions/ETH-BTC")).json()
    assert detail["position"]["position_id"] == "ETH-BTC#1"
    assert detail["stops"][0]["confirmed"] == "0.0465"
    assert [o["pair"] for o in detail["orders"]] == ["ETH-BTC"]
    missing = await client.get("/api/positions/XRP-BTC")
    assert missing.status == 404
    assert "not traded" in (await missing.json())["error"]


@pytest.mark.parametrize("username", ["otto", "ada"])
async def test_operators_and_admins_place_entries(
    logged_in: Login, control: FakeControl, username: str
) -> None:
    client = await logged_in(username)
    body = {"pair": "LTC-BTC", "price": "0.00123", "size": "1.50"}
    response = await client.post("/api/entries", body)
    assert response.status == 200
    placed = f"rt-LTC-BTC-{len(control.entries) + 1:06d}-entry"
    assert await response.json() == {**body, "status": "placed", "order": placed}
    assert control.entries == [("LTC-BTC", Decimal("0.00123"), Decimal("1.50"), username)]
    audit = control.stored_audit()[-1]
    assert (audit.actor, audit.action, audit.subject) == (username, "entry", "LTC-BTC")


async def test_engine_refusals_of_an_entry_are_clear_4xx(
    logged_in: Login, control: FakeControl
) -> None:
    client = await logged_in("otto")
    small = await client.post("/api/entries", {"pair": "ETH-BTC", "price": "1", "size": "0.001"})
    assert small.status == 422
    assert "below the minimum" in (await small.json())["error"]
    unknown = await client.post("/api/entries", {"pair": "XRP-BTC", "price": "1", "size": "1"})
    assert unknown.status == 404
    assert control.entries == []
    refused = [e for e in control.stored_audit() if e.action == "refused"]
    assert [e.detail[:3] for e in refused] == ["422", "404"]


async def test_an_operator_cancels_its_own_order(logged_in: Login, control: FakeControl) -> None:
    client = await logged_in("otto")
    response = await client.post("/api/orders/rt-ETH-BTC-000001-entry/cancel")
    assert response.status == 200
    assert control.cancels == [("rt-ETH-BTC-000001-entry", "otto", False)]
    assert control.stored_audit()[-1].action == "cancel"


async def test_the_cli_client_body_with_a_reason_is_accepted(
    logged_in: Login, control: FakeControl
) -> None:
    client = await logged_in("otto")
    response = await client.post("/api/orders/rt-ETH-BTC-000001-entry/cancel", {"reason": "why"})
    assert response.status == 200
    assert control.stored_audit()[-1].detail == "why"


async def test_an_admin_cancels_anyones_order(logged_in: Login, control: FakeControl) -> None:
    client = await logged_in("ada")
    response = await client.post("/api/orders/rt-LTC-BTC-000001-entry/cancel")
    assert response.status == 200
    assert control.cancels == [("rt-LTC-BTC-000001-entry", "ada", True)]
    again = await client.post("/api/orders/no-such-order/cancel")
    assert again.status == 404


async def test_an_admin_force_exits_and_liquidates(logged_in: Login, control: FakeControl) -> None:
    client = await logged_in("ada")
    out = await client.post("/api/positions/ETH-BTC/force-exit", {"reason": "news"})
    assert out.status == 200
    assert control.exits == [("ETH-BTC", "ada", "news")]
    flat = await client.post("/api/positions/LTC-BTC/force-exit", {"reason": "news"})
    assert flat.status == 409
    assert "no position" in (await flat.json())["error"]
    gone = await client.post("/api/liquidate", {"confirm": "LIQUIDATE", "reason": "exchange down"})
    assert gone.status == 200
    assert control.liquidations == [("ada", "exchange down")]
    actions = [e.action for e in control.stored_audit() if e.actor == "ada"]
    assert actions == ["login", "force_exit", "refused", "liquidate"]


async def test_healthz_needs_no_login_and_says_whether_the_engine_runs(
    clients: Callable[..., Client], control: FakeControl
) -> None:
    client = clients()
    assert await (await client.get("/healthz")).json() == {"status": "ok", "engine_running": True}
    control.running = False
    assert (await (await client.get("/healthz")).json())["engine_running"] is False


async def test_unknown_api_path_is_a_json_404(clients: Callable[..., Client]) -> None:
    response = await clients().get("/api/nothing-here")
    assert response.status == 404
    assert response.content_type == "application/json"


def test_money_is_never_sent_in_exponent_notation() -> None:
    assert plain({"step": Decimal("1E-8"), "big": Decimal("1E+3")}) == {
        "step": "0.00000001",
        "big": "1000",
    }
