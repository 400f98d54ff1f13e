#!/usr/bin/env python3
"""Loopback benchmark of the Coinbase adapter against the simulator.

1. Round trip of create + cancel: ``CoinbaseExchange.place_order`` + ``cancel_orders`` (JWT,
   rate limiter, reply validation, domain values) against the same two HTTP calls made with a
   bare aiohttp session (same JWT signing, no validation). The simulator runs in its own
   process (``ratchet sim serve --speed 0``). Target: adapter overhead <= 20 % over raw.
2. WebSocket messages per second the adapter's feed consumes (JSON decode, sequence checks,
   ticker parsing to Decimal domain events), against a bare aiohttp receive + ``json.loads``
   loop. A separate process serves a burst of pre-built ticker messages. Target: >= 50,000/s.

Usage: .venv/bin/python bench/exchange_loopback.py [--orders 300] [--messages 100000]
The last line printed is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
from aiohttp import web

from ratchet.coinbase.auth import load_key_file, rest_jwt
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.limits import RateLimiter
from ratchet.coinbase.rest import RestTransport
from ratchet.coinbase.ws import CoinbaseFeed
from ratchet.domain.orders import Order, OrderSide, OrderType

ROOT = Path(__file__).resolve().parents[1]
PAIR = "ETH-BTC"
PRICE = Decimal("0.05")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def start_simulator(folder: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    command = [
        sys.executable,
        "-m",
        "ratchet",
        "sim",
        "serve",
        "--speed",
        "0",
        "--keys-out",
        str(folder),
        "--balance",
        "BTC=1000000",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoints = folder / "endpoints.json"
    deadline = time.monotonic() + 20
    while not endpoints.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    time.sleep(0.1)
    return process, json.loads(endpoints.read_text())


async def round_trips(rest: str, folder: Path, orders: int) -> dict[str, dict[str, float]]:
    creds = load_key_file(folder / "cdp_api_key.json")
    fast = RateLimiter(1_000_000)
    transport = RestTransport(rest, creds, private_limiter=fast, public_limiter=fast)
    adapter = CoinbaseExchange(transport)
    host = rest.split("//", 1)[1].split("/", 1)[0]
    base_path = "/" + rest.split("//", 1)[1].split("/", 1)[1]
    session = aiohttp.ClientSession()
    async with session.post(rest.replace("/api/v3/brokerage", "/sim/step?legs=8")):
        pass

    async def adapter_once(i: int) -> float:
        order = Order(
            f"bench-a-{i}", PAIR, OrderSide.BUY, OrderType.LIMIT, Decimal(1), limit_price=PRICE
        )
        t0 = time.perf_counter()
        report = await adapter.place_order(order)
        await adapter.cancel_orders([report.exchange_order_id])
        return time.perf_counter() - t0

    async def raw_once(i: int) -> float:
        body = {
            "client_order_id": f"bench-r-{i}",
            "product_id": PAIR,
            "side": "BUY",
            "order_configuration": {
                "limit_limit_gtc": {"base_size": "1", "limit_price": str(PRICE), "post_only": False}
            },
        }
        t0 = time.perf_counter()
        path = f"{base_path}/orders"
        headers = {"Authorization": f"Bearer {rest_jwt(creds, 'POST', host, path, time.time())}"}
        async with session.post(f"http://{host}{path}", json=body, headers=headers) as r:
            order_id = (await r.json())["success_response"]["order_id"]
        path = f"{base_path}/orders/batch_cancel"
        headers = {"Authorization": f"Bearer {rest_jwt(creds, 'POST', host, path, time.time())}"}
        async with session.post(
            f"http://{host}{path}", json={"order_ids": [order_id]}, headers=headers
        ) as r:
            await r.json()
        return time.perf_counter() - t0

    for warm in range(20):
        await adapter_once(-warm - 1)
        await raw_once(-warm - 1)
    samples: dict[str, list[float]] = {"adapter": [], "raw aiohttp": []}
    for i in range(orders):  # interleaved, so both see the same machine load
        samples["raw aiohttp"].append(await raw_once(i))
        samples["adapter"].append(await adapter_once(i))
    await adapter.close()
    await session.close()
    return {
        name: {
            "p50_ms": percentile(v, 50) * 1e3,
            "p99_ms": percentile(v, 99) * 1e3,
            "mean_ms": statistics.fmean(v) * 1e3,
        }
        for name, v in samples.items()
    }


def blast_server(port_queue: multiprocessing.Queue[int], messages: int) -> None:
    """A WebSocket server that answers a ticker subscription with a burst of tickers."""
    template = {
        "channel": "ticker",
        "client_id": "",
        "timestamp": "2026-11-26T00:00:00.000000Z",
        "events": [
            {
                "type": "update",
                "tickers": [
                    {
                        "type": "ticker",
                        "product_id": PAIR,
                        "price": "0.05123456",
                        "best_bid": "0.05123455",
                        "best_ask": "0.05123457",
                    }
                ],
            }
        ],
    }
    burst = []
    for seq in range(messages):
        template["sequence_num"] = seq
        burst.append(json.dumps(template))

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if json.loads(msg.data).get("channel") == "ticker":
                for text in burst:
                    await ws.send_str(text)
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/ws", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.sleep(3600)

    asyncio.run(main())


async def feed_throughput(url: str, messages: int) -> float:
    feed = CoinbaseFeed(
        url,
        None,
        [PAIR],
        None,
        None,  # type: ignore[arg-type]
        market_channels=("ticker",),
        idle_timeout=30,
    )
    await feed.start()
    events = feed.events()
    first = await anext(events)
    t0 = time.perf_counter()
    for _ in range(messages - 1):
        await anext(events)
    elapsed = time.perf_counter() - t0
    assert first is not None and feed.stats.gaps == 0
    await feed.close()
    return (messages - 1) / elapsed


async def raw_throughput(url: str, messages: int) -> float:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(
            json.dumps({"type": "subscribe", "channel": "ticker", "product_ids": [PAIR]})
        )
        json.loads((await ws.receive()).data)
        t0 = time.perf_counter()
        for _ in range(messages - 1):
            json.loads((await ws.receive()).data)
        return (messages - 1) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        process, endpoints = start_simulator(Path(tmp))
        try:
            latency = asyncio.run(round_trips(endpoints["rest"], Path(tmp), args.orders))
        finally:
            process.terminate()
            process.wait(10)
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=blast_server, args=(ports, args.messages), daemon=True)
    server.start()
    url = f"ws://127.0.0.1:{ports.get(timeout=20)}/ws"
    try:
        adapter_rate = asyncio.run(feed_throughput(url, args.messages))
        raw_rate = asyncio.run(raw_throughput(url, args.messages))
    finally:
        server.terminate()

    adapter, raw = latency["adapter"], latency["raw aiohttp"]
    overhead = adapter["p50_ms"] / raw["p50_ms"] - 1
    print(f"create + cancel round trip on loopback ({args.orders} each, interleaved)")
    print(f"{'client':<14}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, row in latency.items():
        print(f"{name:<14}{row['p50_ms']:>10.3f}{row['p99_ms']:>10.3f}{row['mean_ms']:>10.3f}")
    verdict = "PASS" if overhead <= 0.20 else "MISS"
    print(f"adapter overhead at p50: {overhead:+.1%} (target <= +20%): {verdict}")
    print()
    print(f"WebSocket ticker messages consumed ({args.messages})")
    print(f"{'client':<28}{'messages/s':>12}")
    print(f"{'adapter feed (events)':<28}{adapter_rate:>12,.0f}")
    print(f"{'raw aiohttp + json.loads':<28}{raw_rate:>12,.0f}")
    ws_verdict = "PASS" if adapter_rate >= 50_000 else "MISS"
    print(f"target >= 50,000 messages/s: {ws_verdict}")
    print(
        json.dumps(
            {
                "latency": latency,
                "adapter_overhead_p50": round(overhead, 4),
                "latency_verdict": verdict,
                "ws_adapter_per_s": round(adapter_rate),
                "ws_raw_per_s": round(raw_rate),
                "ws_verdict": ws_verdict,
            }
        )
    )


if __name__ == "__main__":
    main()
