"""Benchmark: durable order transitions per second through the ``Store`` port (``SqlStore``).

What is timed: ``await store.commit(batch)`` once per order transition, one after the other, as
the engine makes them. Each order lives through five transitions — intent (INITIALIZED),
submitted (PENDING), acknowledged (OPEN), a partial fill, the completing fill — and each
transition is one ``StateBatch`` holding that order's full snapshot (plus the new fill, for the
two fill transitions): one transaction, durable when ``commit`` returns. The snapshot is taken
on the event loop; the transaction runs on the store's writer thread.

Backends: SQLite in WAL mode with ``synchronous=NORMAL`` (ratchet's default: a commit survives
a crash of the process) and with ``synchronous=FULL`` (fsync per commit: survives a power cut),
SQLCipher (NORMAL), and PostgreSQL when ``--pg-url`` or ``RATCHET_TEST_PG_URL`` names a server
(a scratch database is created there and dropped afterwards; otherwise the row says skipped).
Not timed: opening the store, creating the schema, building the Order objects' events.

Target: SQLite (default settings) >= 2,000 transitions/s. The last line printed is JSON.

Usage: ``.venv/bin/python bench/store.py [--orders N] [--pg-url URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlalchemy
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ratchet.domain.ids import ClientOrderId, OrderRole, position_id
from ratchet.domain.money import Product
from ratchet.domain.orders import Accepted, Fill, Order, OrderSide, OrderType, Submitted
from ratchet.domain.position import Position, TrailPolicy
from ratchet.ports import OrderRecord, StateBatch
from ratchet.store.database import Synchronous
from ratchet.store.sql_store import SqlStore

TARGET_PER_SECOND = 2_000
KEY = "bench key, not a secret"
PRODUCT = Product("ETH-BTC", Decimal("0.00000001"), Decimal("0.00000001"), Decimal("0.0001"))


@dataclass(frozen=True)
class Result:
    """One backend's figures."""

    name: str
    transitions: int
    seconds: float
    p50_ms: float
    p99_ms: float
    gated: bool

    @property
    def per_second(self) -> float:
        """Durable transitions per second."""
        return self.transitions / self.seconds


async def run(name: str, url: str, orders: int, *, key: str | None, sync: Synchronous) -> Result:
    """Time ``orders`` orders × 5 transitions against the store at ``url``."""
    store = await SqlStore.open(url, key=key, synchronous=sync)
    pid = position_id("ETH-BTC", 1)
    await store.commit(StateBatch(positions=[Position(pid, PRODUCT, TrailPolicy(Decimal(2)))]))
    latencies: list[float] = []
    clock = time.perf_counter
    started = clock()
    for n in range(1, orders + 1):
        order = Order(
            str(ClientOrderId("rt", pid, OrderRole.ENTRY, n)),
            "ETH-BTC",
            OrderSide.BUY,
            OrderType.LIMIT,
            Decimal("1.00000000"),
            Decimal("0.05329000"),
        )
        steps = (
            None,
            Submitted(),
            Accepted(f"ex-{n}"),
            Fill(f"t-{n}-1", Decimal("0.05329"), Decimal("0.4"), Decimal("0.00000053")),
            Fill(f"t-{n}-2", Decimal("0.05328"), Decimal("0.6"), Decimal("0.00000080")),
        )
        for event in steps:
            if event is not None:
                order.apply(event)
            batch = StateBatch(orders=[OrderRecord(order, pid, 1.0, 1.0)])
            if isinstance(event, Fill):
                batch.fills.append((order.client_order_id, event))
            before = clock()
            await store.commit(batch)
            latencies.append(clock() - before)
    seconds = clock() - started
    await store.close()
    cuts = statistics.quantiles(latencies, n=100)
    return Result(
        name, len(latencies), seconds, cuts[49] * 1000, cuts[98] * 1000, gated=name == "sqlite"
    )


async def run_postgresql(server: str, orders: int) -> Result:
    """The same on a scratch database of the PostgreSQL server at ``server``."""
    name = f"ratchet_bench_{secrets.token_hex(4)}"
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server).set(drivername="postgresql+psycopg", database=name)
        return await run(
            "postgresql", url.render_as_string(hide_password=False), orders, key=None, sync="FULL"
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def main() -> None:
    """Run every backend and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders (x5 transitions)")
    parser.add_argument("--pg-url", default=os.environ.get("RATCHET_TEST_PG_URL"))
    args = parser.parse_args()
    print(f"python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}")
    print(f"{args.orders} orders x 5 transitions, one commit each, awaited one after another")
    results: list[Result] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="ratchet-bench-") as folder:
        base = Path(folder)
        cases: list[tuple[str, str | None, Synchronous]] = [
            ("sqlite", None, "NORMAL"),
            ("sqlite-full-sync", None, "FULL"),
            ("sqlcipher", KEY, "NORMAL"),
        ]
        for name, key, sync in cases:
            url = f"sqlite:///{base / name}.db"
            results.append(await run(name, url, args.orders, key=key, sync=sync))
    if args.pg_url:
        results.append(await run_postgresql(args.pg_url, args.orders))
    else:
        skipped["postgresql"] = "no --pg-url and RATCHET_TEST_PG_URL is not set"
    header = (
        f"{'backend':<18} {'transitions':>11} {'seconds':>8} {'per second':>11} "
        f"{'p50 ms':>7} {'p99 ms':>7}  target      verdict"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        target = f">= {TARGET_PER_SECOND:,}/s" if result.gated else "-"
        verdict = (
            ("PASS" if result.per_second >= TARGET_PER_SECOND else "MISS")
            if result.gated
            else "info"
        )
        print(
            f"{result.name:<18} {result.transitions:>11,} {result.seconds:>8.2f} "
            f"{result.per_second:>11,.0f} {result.p50_ms:>7.2f} {result.p99_ms:>7.2f}  "
            f"{target:<11} {verdict}"
        )
    for name, reason in skipped.items():
        print(f"{name:<18} skipped: {reason}")
    gated = [r for r in results if r.gated]
    passed = all(r.per_second >= TARGET_PER_SECOND for r in gated)
    print(
        json.dumps(
            {
                "bench": "store",
                "target_per_second": TARGET_PER_SECOND,
                "pass": passed,
                "results": {
                    r.name: {
                        "transitions": r.transitions,
                        "per_second": round(r.per_second),
                        "p50_ms": round(r.p50_ms, 3),
                        "p99_ms": round(r.p99_ms, 3),
                    }
                    for r in results
                },
                "skipped": skipped,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
