"""The simulator's own HTTP surface: admin routes, request checks, error bodies, TLS, key files."""

from __future__ import annotations

import json
import stat
import time
from decimal import Decimal

import aiohttp
import pytest

from ratchet.coinbase.auth import load_key_file, rest_jwt
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.rest import HttpError
from ratchet.coinbase.wire import ErrorBody
from ratchet.domain.candles import CANDLE_SECONDS
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.ports import ExchangeUnavailable, TickerEvent
from ratchet.sim.server import ssl_client_context

D = Decimal


def base_of(sim) -> str:
    """``http://127.0.0.1:PORT`` of the simulator."""
    return sim.endpoints.rest.split("/api/")[0]


async def request(sim, method: str, path: str, **kwargs) -> tuple[int, object]:
    """One raw HTTP request to the simulator; the status and the parsed JSON body."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, base_of(sim) + path, **kwargs) as response,
    ):
        return response.status, await response.json(content_type=None)


def signed(sim, method: str, path: str) -> dict[str, str]:
    """The Authorization header of a valid JWT for ``method path``."""
    host = base_of(sim).split("://")[1]
    return {"Authorization": f"Bearer {rest_jwt(sim.credentials, method, host, path, time.time())}"}


# -- admin routes ------------------------------------------------------------------------
async def test_sim_state_reports_the_replay_and_the_book(sim, exchange, limit_buy):
    # Arrange
    await exchange.place_order(limit_buy())

    # Act
    status, state = await request(sim, "GET", "/sim/state")

    # Assert
    assert status == 200
    assert state == {
        "sim_time": sim.sim_now,
        "legs_done": sim.legs_done,
        "legs_total": sim.legs_total,
        "finished": False,
        "connections": 0,
        "orders": 1,
        "fills": 0,
        "dropped_slow_clients": 0,
    }


async def test_sim_faults_are_read_and_set_over_http(sim):
    # Act
    status, changed = await request(
        sim, "POST", "/sim/faults", json={"http_5xx": 2, "latency_ms": "5"}
    )
    _, read = await request(sim, "GET", "/sim/faults")
    _, cleared = await request(sim, "POST", "/sim/faults", json={"clear": True})

    # Assert
    assert status == 200
    assert (changed["http_5xx"], changed["latency_ms"]) == (2, 5.0)
    assert read == changed
    assert set(read["hits"]) >= {"http_5xx", "http_429", "ws_drop"}
    assert (cleared["http_5xx"], cleared["latency_ms"]) == (0, 0.0)
    assert sim.faults.http_5xx == 0


@pytest.mark.parametrize(
    "body",
    [
        {"no_such_fault": 1},
        {"http_5xx": -1},
        {"http_5xx": "many"},
        {"http_5xx": 2, "no_such_fault": 1},
        {"http_5xx": 2, "latency_ms": -5},
        [1, 2],
        "not json",
    ],
)
async def test_a_bad_fault_request_is_a_400_and_changes_nothing(sim, body):
    # Arrange
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}

    # Act
    status, reply = await request(sim, "POST", "/sim/faults", **kwargs)

    # Assert
    assert status == 400
    assert reply["error"]
    assert sim.faults.http_5xx == 0


async def test_sim_step_applies_legs_until_the_replay_ends(start_sim):
    # Arrange
    short = {pair_of(f): read_candles(f)[:6] for f in demo_candle_files()[:2]}
    server = await start_sim(short)
    before, remaining = server.sim_now, server.legs_total - server.legs_done

    # Act
    status, stepped = await request(server, "POST", "/sim/step?legs=3")
    bad_status, _ = await request(server, "POST", "/sim/step?legs=three")
    _, rest = await request(server, "POST", "/sim/step?legs=1000")
    _, state = await request(server, "GET", "/sim/state")

    # Assert
    assert (status, stepped["applied"]) == (200, 3)
    assert before < stepped["sim_time"] <= server.sim_now
    assert bad_status == 400
    assert rest == {"applied": remaining - 3, "sim_time": server.sim_now}
    assert state["finished"] is True
    assert state["legs_done"] == state["legs_total"] == 6 * 4 * len(short)


# -- request checks of the REST API --------------------------------------------------------
async def test_more_than_350_candles_in_one_request_is_a_400(sim, transport):
    # Arrange
    start = sim.candles["ETH-BTC"][0].start
    path = "/products/ETH-BTC/candles"

    # Act
    allowed = await transport.call(
        "GET", path, params={"start": start, "end": start + 350 * CANDLE_SECONDS}
    )
    with pytest.raises(HttpError) as refused:
        await transport.call(
            "GET", path, params={"start": start, "end": start + 351 * CANDLE_SECONDS}
        )

    # Assert
    assert len(allowed["candles"]) == 3  # only the closed ones of the warm-up
    assert refused.value.status == 400
    assert "less than 350" in str(refused.value)
    assert ErrorBody.model_validate_json(refused.value.body).error == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"product_id": "ETH-BTC", "side": "BUY", "order_configuration": {}}',
        b'{"client_order_id": "rt-1", "product_id": "ETH-BTC", "side": "HOLD"}',
    ],
)
async def test_a_malformed_create_body_is_a_400_with_the_generic_error_body(sim, body):
    # Arrange
    path = "/api/v3/brokerage/orders"
    headers = {**signed(sim, "POST", path), "Content-Type": "application/json"}

    # Act
    status, reply = await request(sim, "POST", path, data=body, headers=headers)

    # Assert
    assert status == 400
    assert set(reply) == {"error", "code", "message", "details"}
    assert (reply["error"], reply["code"], reply["details"]) == ("INVALID_ARGUMENT", 3, [])
    assert sim.engine.orders() == []


async def test_an_unsupported_order_configuration_is_refused_in_a_200(sim, transport):
    # Act
    reply = await transport.call(
        "POST",
        "/orders",
        body={
            "client_order_id": "rt-twap",
            "product_id": "ETH-BTC",
            "side": "BUY",
            "order_configuration": {"twap_limit_gtd": {"base_size": "1"}},
        },
    )

    # Assert
    assert reply["success"] is False
    assert reply["error_response"]["new_order_failure_reason"] == "UNSUPPORTED_ORDER_CONFIGURATION"
    assert sim.engine.orders() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/orders/batch_cancel", {"order_ids": "all"}),
        ("/orders/batch_cancel", {"order_ids": [f"id-{i}" for i in range(101)]}),
        ("/orders/edit", {"order_id": "x", "price": "abc", "size": "1"}),
        ("/orders/edit", {"order_id": "x"}),
    ],
)
async def test_malformed_cancel_and_edit_bodies_are_400s(sim, transport, path, body):
    # Act / Assert
    with pytest.raises(HttpError) as refused:
        await transport.call("POST", path, body=body)
    assert refused.value.status == 400


async def test_a_private_route_without_a_token_is_a_401_with_the_generic_error_body(sim):
    # Act
    status, reply = await request(sim, "GET", "/api/v3/brokerage/accounts")
    public_status, _ = await request(sim, "GET", "/api/v3/brokerage/market/products")

    # Assert
    assert status == 401
    assert (reply["error"], reply["code"]) == ("UNAUTHENTICATED", 16)
    assert public_status == 200


# -- TLS and key files ---------------------------------------------------------------------
async def test_tls_mode_serves_https_to_the_adapter(start_sim, connect, tmp_path, limit_buy):
    # Arrange
    server = await start_sim(tls=True, keys_out=tmp_path)
    context = ssl_client_context(tmp_path / "cert.pem")
    exchange = CoinbaseExchange(connect(server, ssl_context=context))

    # Act
    products = await exchange.products()
    report = await exchange.place_order(limit_buy(server=server))

    # Assert
    assert server.endpoints.rest.startswith("https://127.0.0.1:")
    assert server.endpoints.ws.startswith("wss://")
    assert len(products) == len(server.candles)
    assert server.engine.order(report.exchange_order_id) is not None


async def test_the_feed_works_over_wss(start_sim, connect, open_feed, tmp_path):
    # Arrange
    server = await start_sim(tls=True, keys_out=tmp_path)
    context = ssl_client_context(tmp_path / "cert.pem")
    exchange = CoinbaseExchange(connect(server, ssl_context=context))
    feed = await open_feed(["ETH-BTC"], server=server, via=exchange, ssl_context=context)

    # Act
    server.step_candles(1)
    await feed.wait_for(lambda: len(feed.of(TickerEvent)) >= 4, "tickers over wss")

    # Assert
    assert {e.ticker.product_id for e in feed.of(TickerEvent)} == {"ETH-BTC"}
    assert feed.feed.stats.bad_messages == 0


async def test_a_client_that_does_not_trust_the_certificate_cannot_connect(
    start_sim, connect, tmp_path
):
    # Arrange
    server = await start_sim(tls=True, keys_out=tmp_path)
    exchange = CoinbaseExchange(connect(server))

    # Act / Assert
    with pytest.raises(ExchangeUnavailable, match="Certificate"):
        await exchange.products()
    assert server.requests == []


async def test_keys_out_writes_a_loadable_key_file_and_the_endpoints(start_sim, connect, tmp_path):
    # Arrange
    server = await start_sim(keys_out=tmp_path)

    # Act
    credentials = load_key_file(tmp_path / "cdp_api_key.json")
    endpoints = json.loads((tmp_path / "endpoints.json").read_text())
    balances = await CoinbaseExchange(connect(server, credentials=credentials)).balances()

    # Assert
    assert credentials.key_name == server.credentials.key_name
    assert stat.S_IMODE((tmp_path / "cdp_api_key.json").stat().st_mode) == 0o600
    assert endpoints == server.endpoints.as_json()
    assert balances["BTC"].available == D(10)
