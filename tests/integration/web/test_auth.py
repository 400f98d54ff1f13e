"""Login, sessions, logout, expiry, throttling and dev mode, over real sockets."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from ratchet.web import WebConfigError, WebServer, start_web
from ratchet.web.server import DEV_PASSWORD_VARIABLE

Client = Clock = FakeControl = Any  # fixtures' types (see conftest.py)


@pytest.mark.parametrize("username", ["vera", "otto", "ada"])
async def test_login_returns_role_and_csrf_and_a_strict_httponly_cookie(
    clients: Callable[..., Client], username: str
) -> None:
    client = clients()
    response = await client.login(username)
    assert response.status == 200
    body = await response.json()
    assert body["username"] == username
    assert body["role"] == {"vera": "viewer", "otto": "operator", "ada": "admin"}[username]
    assert len(body["csrf_token"]) >= 32
    cookie = response.cookies["ratchet_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # plain http on loopback
    assert int(cookie["max-age"]) == 12 * 3600
    session = await client.get("/api/session")
    assert session.status == 200
    assert await session.json() == body


async def test_wrong_password_and_unknown_user_get_the_same_401(
    clients: Callable[..., Client], control: FakeControl
) -> None:
    client = clients()
    wrong = await client.login("otto", "not-the-password-1")
    unknown = await client.login("mallory", "whatever-password-1")
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json() == {"error": "wrong username or password"}
    assert client.cookie() is None
    failed = [e for e in control.stored_audit() if e.action == "login_failed"]
    assert [e.actor for e in failed] == ["otto", "mallory"]
    assert (await client.get("/api/session")).status == 401


async def test_logout_ends_the_session_and_a_replayed_cookie_is_refused(
    logged_in: Callable[[str], Awaitable[Client]],
    clients: Callable[..., Client],
    control: FakeControl,
) -> None:
    client = await logged_in("otto")
    stolen = client.cookie()
    assert stolen is not None
    out = await client.post("/api/logout")
    assert out.status == 200
    assert (await client.get("/api/session")).status == 401
    replay = clients()
    replay.http.cookie_jar.update_cookies({"ratchet_session": stolen})
    assert (await replay.get("/api/portfolio")).status == 401
    actions = [(e.actor, e.action) for e in control.stored_audit()]
    assert ("otto", "login") in actions
    assert ("otto", "logout") in actions


async def test_a_session_expires_after_twelve_hours_whatever_the_cookie_says(
    logged_in: Callable[[str], Awaitable[Client]], clock: Clock
) -> None:
    client = await logged_in("vera")
    clock.advance(11.9 * 3600)
    assert (await client.get("/api/portfolio")).status == 200
    clock.advance(0.2 * 3600)
    expired = await client.get("/api/portfolio")
    assert expired.status == 401
    assert client.cookie() in (None, "")  # the dead cookie is deleted


async def test_a_removed_user_loses_access_at_once(
    logged_in: Callable[[str], Awaitable[Client]], control: FakeControl
) -> None:
    client = await logged_in("vera")
    assert control.database is not None
    with control.database.write() as connection:
        connection.exec_driver_sql("DELETE FROM users WHERE username = 'vera'")
    assert (await client.get("/api/portfolio")).status == 401


async def test_brute_force_locks_the_user_out_with_growing_back_off(
    clients: Callable[..., Client], clock: Clock, control: FakeControl
) -> None:
    client = clients()
    statuses = [(await client.login("ada", f"guess-{i}-abcdefgh")).status for i in range(5)]
    assert statuses == [401] * 5
    locked = await client.login("ada")  # even the right password now waits
    assert locked.status == 429
    assert locked.headers["Retry-After"] == "30"
    assert client.cookie() is None
    clock.advance(31)
    assert (await client.login("ada", "guess-again-abcdefgh")).status == 401
    again = await client.login("ada")
    assert again.status == 429
    assert again.headers["Retry-After"] == "60"  # doubled
    clock.advance(61)
    assert (await client.login("ada")).status == 200
    actions = [e.action for e in control.stored_audit() if e.actor == "ada"]
    assert actions.count("login_failed") == 6
    assert actions.count("login_locked") == 2
    assert actions[-1] == "login"


async def test_one_address_guessing_many_users_is_throttled_too(
    clients: Callable[..., Client],
) -> None:
    client = clients()
    for i in range(5):
        assert (await client.login(f"user{i}", "guess-abcdefgh-1")).status == 401
    assert (await client.login("vera")).status == 429  # another user, same address


async def test_dev_mode_basic_auth_on_loopback_says_so_loudly(
    start_server: Callable[..., Awaitable[WebServer]],
    clients: Callable[..., Client],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    control: FakeControl,
) -> None:
    monkeypatch.setenv(DEV_PASSWORD_VARIABLE, "dev-password-123")
    server = await start_server(dev_basic_auth=True)
    assert "DEV MODE" in capsys.readouterr().err
    client = clients(server)
    challenge = await client.get("/api/session")
    assert challenge.status == 401
    assert challenge.headers["WWW-Authenticate"].startswith("Basic")
    token = base64.b64encode(b"dev:dev-password-123").decode()
    basic = await client.get("/api/session", headers={"Authorization": f"Basic {token}"})
    assert basic.status == 200
    assert (await basic.json())["role"] == "admin"
    # the session it started still needs the CSRF token to act
    client.csrf = (await basic.json())["csrf_token"]
    assert (await client.post("/api/liquidate", {"confirm": "LIQUIDATE", "reason": "t"})).ok
    assert control.liquidations == [("dev", "t")]
    wrong = base64.b64encode(b"dev:nope").decode()
    other = clients(server)
    refused = await other.get("/api/session", headers={"Authorization": f"Basic {wrong}"})
    assert refused.status == 401


async def test_basic_auth_is_ignored_without_dev_mode(
    clients: Callable[..., Client], passwords: dict[str, str]
) -> None:
    token = base64.b64encode(f"ada:{passwords['ada']}".encode()).decode()
    response = await clients().get("/api/session", headers={"Authorization": f"Basic {token}"})
    assert response.status == 401
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.org"])
async def test_dev_mode_refuses_to_start_off_loopback(
    control: FakeControl, tmp_path: Any, host: str
) -> None:
    with pytest.raises(WebConfigError, match="loopback"):
        await start_web(control, host=host, port=0, state_dir=tmp_path, dev_basic_auth=True)


async def test_without_a_user_database_only_dev_mode_can_log_in(
    start_server: Callable[..., Awaitable[WebServer]],
    capsys: pytest.CaptureFixture[str],
    fake_control: Callable[[Any], FakeControl],
    passwords: dict[str, str],
) -> None:
    memory = fake_control(None)
    server = await start_server(memory)
    assert "no user database" in capsys.readouterr().err
    async with aiohttp.ClientSession() as http:
        given = {"username": "ada", "password": passwords["ada"]}
        async with http.post(f"{server.url}/api/login", json=given) as response:
            assert response.status == 401


async def test_a_login_that_came_over_tls_gets_a_secure_cookie(
    clients: Callable[..., Client], passwords: dict[str, str]
) -> None:
    client = clients()
    given = {"username": "vera", "password": passwords["vera"]}
    response = await client.http.post(
        f"{client.url}/api/login", json=given, headers={"X-Forwarded-Proto": "https"}
    )
    assert response.status == 200
    assert response.cookies["ratchet_session"]["secure"] is True
