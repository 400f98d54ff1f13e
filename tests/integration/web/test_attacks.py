"""The attack table: each attempt is refused with the right status, changes nothing in the
engine, and leaves a ``refused`` entry in the audit log of the real SQLite store."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

Client = FakeControl = Any  # fixtures' types (see conftest.py)

ENTRY = {"pair": "ETH-BTC", "price": "0.049", "size": "0.5"}
OLGAS_ORDER = "rt-LTC-BTC-000001-entry"


@dataclass(frozen=True)
class Attack:
    """Who (None: nobody logged in), what they send, what must come back."""

    name: str
    user: str | None
    path: str
    body: Any
    status: int
    csrf: str | bool = True  # True: the session's own token
    cookie: str | None = None  # replace the session cookie: "expired", "tampered", "foreign"
    raw: bytes | None = None  # send these bytes instead of JSON
    content_type: str = "application/json"
    says: str = ""


ATTACKS = [
    Attack("no session", None, "/api/entries", ENTRY, 401, says="log in"),
    Attack(
        "no session liquidates",
        None,
        "/api/liquidate",
        {"confirm": "LIQUIDATE", "reason": "x"},
        401,
    ),
    Attack("expired cookie", "otto", "/api/entries", ENTRY, 401, cookie="expired"),
    Attack("tampered cookie", "otto", "/api/entries", ENTRY, 401, cookie="tampered"),
    Attack(
        "cookie of another secret",
        "ada",
        "/api/liquidate",
        {"confirm": "LIQUIDATE", "reason": "x"},
        401,
        cookie="foreign",
    ),
    Attack("missing CSRF", "otto", "/api/entries", ENTRY, 403, csrf=False, says="X-CSRF-Token"),
    Attack("wrong CSRF", "otto", "/api/entries", ENTRY, 403, csrf="not-the-token"),
    Attack(
        "missing CSRF on cancel",
        "otto",
        "/api/orders/rt-ETH-BTC-000001-entry/cancel",
        None,
        403,
        csrf=False,
    ),
    Attack("viewer places an entry", "vera", "/api/entries", ENTRY, 403, says="viewer"),
    Attack("viewer cancels", "vera", "/api/orders/rt-ETH-BTC-000001-entry/cancel", None, 403),
    Attack(
        "operator force-exits",
        "otto",
        "/api/positions/ETH-BTC/force-exit",
        {"reason": "x"},
        403,
        says="admin",
    ),
    Attack(
        "operator liquidates",
        "otto",
        "/api/liquidate",
        {"confirm": "LIQUIDATE", "reason": "x"},
        403,
    ),
    Attack(
        "operator cancels another's order",
        "otto",
        f"/api/orders/{OLGAS_ORDER}/cancel",
        None,
        403,
        says="placed by olga",
    ),
    Attack(
        "oversized body",
        "otto",
        "/api/entries",
        None,
        413,
        raw=b'{"pair": "' + b"A" * 70_000 + b'"}',
        says="too large",
    ),
    Attack("malformed JSON", "otto", "/api/entries", None, 400, raw=b'{"pair": ', says="JSON"),
    Attack(
        "not JSON",
        "otto",
        "/api/entries",
        None,
        415,
        raw=b"pair=ETH-BTC",
        content_type="application/x-www-form-urlencoded",
    ),
    Attack(
        "price as a number", "otto", "/api/entries", {**ENTRY, "price": 0.049}, 400, says="string"
    ),
    Attack(
        "exponent price",
        "otto",
        "/api/entries",
        {**ENTRY, "price": "1e-3"},
        400,
        says="decimal number",
    ),
    Attack("negative size", "otto", "/api/entries", {**ENTRY, "size": "-1"}, 400),
    Attack("zero size", "otto", "/api/entries", {**ENTRY, "size": "0"}, 400, says="greater"),
    Attack(
        "missing size",
        "otto",
        "/api/entries",
        {"pair": "ETH-BTC", "price": "1"},
        400,
        says="missing field 'size'",
    ),
    Attack(
        "extra field",
        "otto",
        "/api/entries",
        {**ENTRY, "side": "SELL"},
        400,
        says="unknown field 'side'",
    ),
    Attack("not an object", "otto", "/api/entries", ["ETH-BTC"], 400, says="JSON object"),
    Attack("bad pair", "otto", "/api/entries", {**ENTRY, "pair": "../etc"}, 400),
    Attack(
        "liquidation not confirmed",
        "ada",
        "/api/liquidate",
        {"confirm": "yes", "reason": "x"},
        400,
        says="LIQUIDATE",
    ),
    Attack(
        "force-exit without reason",
        "ada",
        "/api/positions/ETH-BTC/force-exit",
        {},
        400,
        says="reason",
    ),
]


def forge(secret_file: Path, session: dict[str, Any], key: bytes | None = None) -> str:
    """A session cookie encrypted the way the server does (with its secret, or ``key``)."""
    fernet = Fernet(key or secret_file.read_bytes().strip())
    data = {"created": int(time.time()), "session": session}
    return fernet.encrypt(json.dumps(data).encode()).decode()


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
async def test_attack_is_refused_changes_nothing_and_is_audited(
    attack: Attack,
    clients: Callable[..., Client],
    control: FakeControl,
    tmp_path: Path,
    clock: Any,
) -> None:
    client = clients()
    if attack.user is not None:
        assert (await client.login(attack.user)).status == 200
    if attack.cookie is not None:
        real = client.cookie()
        secret = tmp_path / "state" / "web-secret"
        forged = {
            "expired": lambda: forge(
                secret,
                {
                    "user": attack.user,
                    "sid": "s1",
                    "csrf": client.csrf,
                    "login_at": clock.now - 13 * 3600,
                },
            ),
            "tampered": lambda: real[:40] + ("A" if real[40] != "A" else "B") + real[41:],
            "foreign": lambda: forge(
                secret,
                {"user": attack.user, "sid": "s1", "csrf": client.csrf, "login_at": clock.now},
                key=base64.urlsafe_b64encode(b"k" * 32),
            ),
        }[attack.cookie]()
        client.http.cookie_jar.clear()
        client.http.cookie_jar.update_cookies({"ratchet_session": forged})
    before = len(control.stored_audit())
    kwargs: dict[str, Any] = {}
    if attack.raw is not None:
        kwargs = {"data": attack.raw, "headers": {"Content-Type": attack.content_type}}
    response = await client.post(attack.path, attack.body, csrf=attack.csrf, **kwargs)

    assert response.status == attack.status, await response.text()
    error = (await response.json())["error"]
    assert attack.says in error
    assert control.changed_nothing()
    refusals = [e for e in control.stored_audit()[before:] if e.action == "refused"]
    assert len(refusals) == 1
    assert refusals[0].subject == attack.path
    assert refusals[0].detail.startswith(str(attack.status))
    expected_actor = attack.user if attack.status not in (401,) else "anonymous@127.0.0.1"
    assert refusals[0].actor == expected_actor


async def test_the_forged_cookie_works_when_fresh_so_the_expiry_test_is_meaningful(
    logged_in: Callable[[str], Awaitable[Client]],
    clients: Callable[..., Client],
    control: FakeControl,
    tmp_path: Path,
    clock: Any,
) -> None:
    client = await logged_in("otto")
    fresh = forge(
        tmp_path / "state" / "web-secret",
        {"user": "otto", "sid": "s2", "csrf": "tok", "login_at": clock.now},
    )
    other = clients()
    other.http.cookie_jar.update_cookies({"ratchet_session": fresh})
    response = await other.post("/api/entries", ENTRY, csrf="tok")
    assert response.status == 200, await response.text()
    assert control.entries == [("ETH-BTC", Decimal("0.049"), Decimal("0.5"), "otto")]
    assert client.csrf != "tok"
