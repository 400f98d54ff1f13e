"""The official Coinbase SDK (coinbase-advanced-py), unchanged, against the simulator.

The SDK only speaks HTTPS/WSS, so the simulator runs with ``tls=True``; the SDK's REST side
(requests) trusts the simulator's certificate through ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from coinbase.rest import RESTClient
from coinbase.websocket import WSClient

from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.sim.server import SimServer, SimSettings


@pytest.fixture
async def tls_sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimServer:
    files = [f for f in demo_candle_files() if pair_of(f) in ("ETH-BTC", "LTC-BTC")]
    candles = {pair_of(f): read_candles(f)[:60] for f in files}
    server = SimServer(candles, SimSettings(speed=0, tls=True, keys_out=tmp_path))
    await server.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
    yield server
    await server.stop()


def sdk_client(sim: SimServer) -> RESTClient:
    assert sim.endpoints is not None and sim.settings.keys_out is not None
    host = sim.endpoints.rest.removeprefix("https://").removesuffix("/api/v3/brokerage")
    return RESTClient(key_file=str(sim.settings.keys_out / "cdp_api_key.json"), base_url=host)


async def test_official_sdk_trades_against_the_simulator_over_https(tls_sim: SimServer) -> None:
    # Arrange
    tls_sim.step_candles(40)
    client = sdk_client(tls_sim)
    last = tls_sim.engine.last_price("ETH-BTC")
    assert last is not None
    limit = format(last - Decimal("0.002"), "f")

    # Act
    def session() -> dict[str, object]:
        accounts = client.get_accounts().to_dict()["accounts"]
        product = client.get_product("ETH-BTC").to_dict()
        created = client.limit_order_gtc_buy(
            client_order_id="sdk-1", product_id="ETH-BTC", base_size="1", limit_price=limit
        ).to_dict()
        again = client.limit_order_gtc_buy(
            client_order_id="sdk-1", product_id="ETH-BTC", base_size="1", limit_price=limit
        ).to_dict()
        order_id = created["success_response"]["order_id"]
        fetched = client.get_order(order_id).to_dict()["order"]
        cancelled = client.cancel_orders(order_ids=[order_id]).to_dict()["results"]
        candles = client.get_candles(
            "ETH-BTC",
            start=str(tls_sim.candles["ETH-BTC"][0].start),
            end=str(tls_sim.candles["ETH-BTC"][30].start),
            granularity="FIVE_MINUTE",
        ).to_dict()["candles"]
        return {
            "accounts": accounts,
            "product": product,
            "created": created,
            "again": again,
            "fetched": fetched,
            "cancelled": cancelled,
            "candles": candles,
        }

    result = await asyncio.to_thread(session)

    # Assert
    balances = {a["currency"]: a["available_balance"]["value"] for a in result["accounts"]}
    assert balances["BTC"] == "10"
    assert result["product"]["product_id"] == "ETH-BTC"
    assert result["created"]["success"] is True
    assert (
        result["again"]["success_response"]["order_id"]
        == (result["created"]["success_response"]["order_id"])
    )
    assert len(tls_sim.engine.orders()) == 1  # the retry with the same id made no second order
    assert result["fetched"]["status"] == "OPEN"
    assert result["cancelled"][0]["success"] is True
    assert len(result["candles"]) == 30


async def test_official_sdk_websocket_receives_tickers(tls_sim: SimServer) -> None:
    # Arrange
    assert tls_sim.endpoints is not None and tls_sim.settings.keys_out is not None
    received: list[dict[str, object]] = []
    got_ticker = threading.Event()

    def on_message(text: str) -> None:
        message = json.loads(text)
        received.append(message)
        if message.get("channel") == "ticker":
            got_ticker.set()

    client = WSClient(
        key_file=str(tls_sim.settings.keys_out / "cdp_api_key.json"),
        base_url=tls_sim.endpoints.ws,
        on_message=on_message,
        retry=False,
    )

    # Act
    await asyncio.to_thread(client.open)
    await asyncio.to_thread(client.subscribe, ["ETH-BTC"], ["ticker", "heartbeats"])
    for _ in range(50):
        tls_sim.step(4)
        if await asyncio.to_thread(got_ticker.wait, 0.1):
            break
    await asyncio.to_thread(client.close)

    # Assert
    tickers = [m for m in received if m.get("channel") == "ticker"]
    assert tickers, f"no ticker among {[m.get('channel') for m in received]}"
    first = tickers[0]["events"][0]["tickers"][0]  # type: ignore[index]
    assert first["product_id"] == "ETH-BTC"
