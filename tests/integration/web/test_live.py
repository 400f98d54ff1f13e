"""``/ws`` snapshots (authenticated, pushed on change, slow clients dropped) and ``/metrics``."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from yarl import URL

from ratchet.web import WebServer

Client = FakeControl = Any  # fixtures' types (see conftest.py)
Login = Callable[[str], Awaitable[Client]]


async def _next_snapshot(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.receive(), timeout=5)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    data: dict[str, Any] = message.json()
    return data


async def test_a_logged_in_client_gets_snapshots_and_each_change(
    logged_in: Login, server: WebServer, control: FakeControl
) -> None:
    client = await logged_in("vera")
    async with client.http.ws_connect(f"{server.url}/ws") as ws:
        first = await _next_snapshot(ws)
        assert first["type"] == "snapshot"
        assert {p["pair"]: p["price"] for p in first["prices"]} == {
            "ETH-BTC": "0.05",
            "LTC-BTC": "0.05",
        }
        assert first["portfolio"]["total_capital"] == "10"
        assert first["positions"][0]["pair"] == "ETH-BTC"
        assert len(first["orders"]) == 2
        control.price = Decimal("0.0512")
        changed = await _next_snapshot(ws)
        assert changed["prices"][0]["price"] == "0.0512"
        assert changed["positions"][0]["unrealized_pnl"] == "0.0044"


async def test_nothing_is_pushed_while_nothing_changes(logged_in: Login, server: WebServer) -> None:
    client = await logged_in("vera")
    async with client.http.ws_connect(f"{server.url}/ws") as ws:
        await _next_snapshot(ws)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.receive(), timeout=0.3)  # six push intervals
        assert server.hub.stats.snapshots >= 5  # it looked, found nothing new


async def test_the_websocket_needs_a_session_and_the_same_origin(
    logged_in: Login, server: WebServer, clients: Callable[..., Client]
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await clients().http.ws_connect(f"{server.url}/ws")
    assert refused.value.status == 401
    client = await logged_in("vera")
    with pytest.raises(aiohttp.WSServerHandshakeError) as cross:
        await client.http.ws_connect(f"{server.url}/ws", origin="http://evil.example")
    assert cross.value.status == 403


async def _raw_websocket_that_never_reads(url: str, cookie: str) -> socket.socket:
    """A real TCP client that completes the handshake, then reads nothing more."""
    target = URL(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (target.host, target.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {target.host}:{target.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Cookie: ratchet_session={cookie}\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = await asyncio.wait_for(loop.sock_recv(sock, 256), timeout=5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_a_slow_client_is_dropped_and_the_others_keep_getting_snapshots(
    start_server: Callable[..., Awaitable[WebServer]],
    clients: Callable[..., Client],
    control: FakeControl,
) -> None:
    control.padding = 200_000  # each snapshot ~200 kB: a client that never reads falls behind
    server = await start_server(push_interval=0.02, client_queue=2)
    slow_client = clients(server)
    assert (await slow_client.login("vera")).status == 200
    slow = await _raw_websocket_that_never_reads(server.url, slow_client.cookie())
    fast_client = clients(server)
    assert (await fast_client.login("otto")).status == 200
    received = 0
    try:
        async with fast_client.http.ws_connect(f"{server.url}/ws", max_msg_size=0) as ws:
            for step in range(150):
                control.price = Decimal("0.05") + Decimal(step) / 10_000
                await _next_snapshot(ws)
                received += 1
                if server.hub.stats.dropped and received > 20:
                    break
            assert len(server.hub.clients) == 1  # the fast one, still connected
    finally:
        slow.close()
    assert server.hub.stats.dropped == 1
    assert received > 20  # the fast client was never held up by the slow one


async def test_metrics_export_the_portfolio_and_the_engine_counters(
    clients: Callable[..., Client],
) -> None:
    response = await clients().get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    expected = [
        'ratchet_capital_total{quote="BTC"} 10.0',
        'ratchet_capital_deployed{quote="BTC"} 2.5',
        'ratchet_capital_available{quote="BTC"} 7.5',
        'ratchet_pnl_realized{quote="BTC"} 0.125',
        'ratchet_pnl_unrealized{quote="BTC"} -0.01',
        "ratchet_win_rate 0.75",
        "ratchet_open_positions 1.0",
        'ratchet_pair_concentration_pct{pair="ETH-BTC"} 100.0',
        'ratchet_group_exposure{group="majors"} 2.5',
        "ratchet_engine_events_total 42.0",
        "ratchet_engine_commits_total 7.0",
        "ratchet_web_ws_dropped_total 0.0",
    ]
    for line in expected:
        assert line in text.splitlines(), line


async def test_metrics_need_the_bearer_token_when_one_is_set(
    start_server: Callable[..., Awaitable[WebServer]], clients: Callable[..., Client]
) -> None:
    server = await start_server(metrics_token="scrape-token-123")
    client = clients(server)
    assert (await client.get("/metrics")).status == 401
    allowed = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    assert allowed.status == 200
    assert "ratchet_capital_total" in await allowed.text()
