"""``ratchet run --live``: what it refuses, the first-start confirmation, and a clean stop.

The "exchange" is the simulator on 127.0.0.1 (never Coinbase): the config's exchange URLs
point at it and the keys in the environment are the ones it accepts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ratchet.cli.main import app
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.sim.server import SimServer, SimSettings
from ratchet.store import queries
from ratchet.store.confirmations import LIVE_CONFIRMED, live_confirmation
from ratchet.store.database import Database

FLAG = "--i-understand-this-trades-real-money"
RATCHET = str(Path(sys.executable).with_name("ratchet"))


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    files = {pair_of(f): f for f in demo_candle_files()}
    server = SimServer(
        {"ETH-BTC": read_candles(files["ETH-BTC"])[:300]},
        SimSettings(speed=0, heartbeat_interval=0.2, balances={"BTC": Decimal(1)}),
    )
    await server.start()
    yield server
    await server.stop()


def write_config(folder: Path, sim: SimServer | None, pairs: dict[str, object]) -> Path:
    endpoints = sim.endpoints if sim is not None else None
    config: dict[str, object] = {
        "pairs": pairs,
        "store": {"url": f"sqlite:///{folder / 'state' / 'live.db'}"},
    }
    if endpoints is not None:
        config["exchange"] = {
            "rest_url": endpoints.rest,
            "ws_url": endpoints.ws,
            "ws_user_url": endpoints.ws_user,
        }
    path = folder / "live.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def keys(sim: SimServer) -> dict[str, str]:
    return {"CB_API_KEY": sim.credentials.key_name, "CB_API_SECRET": sim.private_key_pem}


def invoke(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.output


async def test_live_needs_a_config_with_pairs_and_keys(tmp_path: Path, sim: SimServer) -> None:
    no_keys: dict[str, str | None] = {"CB_API_KEY": None, "CB_API_SECRET": None}
    no_pairs = write_config(tmp_path, sim, {})

    cases = [
        (["run", "--live"], no_keys, "needs --config"),
        (["run", "--live", "--paper"], no_keys, "choose one of --paper"),
        (["run", "--live", "--config", str(no_pairs)], keys(sim), "pairs"),
    ]
    for args, env, message in cases:
        code, output = await asyncio.to_thread(invoke, args, env)
        assert code == 2, output
        assert message in output

    with_pairs = write_config(tmp_path, sim, {"ETH-BTC": {}})
    code, output = await asyncio.to_thread(
        invoke, ["run", "--live", "--config", str(with_pairs)], no_keys
    )
    assert code == 2 and "CB_API_KEY" in output


async def test_the_first_live_start_needs_the_confirmation_flag_and_records_it(
    tmp_path: Path, sim: SimServer
) -> None:
    config = write_config(tmp_path, sim, {"ETH-BTC": {}})
    env = {**os.environ, **keys(sim), "RATCHET_DB_KEY": ""}
    args = [RATCHET, "run", "--live", "--config", str(config), "--no-dashboard", "--web-port", "0"]

    # Act 1: without the flag, the first start is refused before anything is traded
    refused = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(refused.communicate(), 60)
    assert refused.returncode == 2, out.decode()
    assert FLAG in out.decode()
    database = Database.open(f"sqlite:///{tmp_path / 'state' / 'live.db'}", create=False)
    try:
        assert live_confirmation(database) is None
        assert not queries.list_orders(database)
    finally:
        database.close()

    # Act 2: with the flag it trades, and stops cleanly on SIGINT
    await run_until_live_then_interrupt([*args, FLAG], env)
    # Act 3: the next start needs no flag any more
    await run_until_live_then_interrupt(args, env)

    database = Database.open(f"sqlite:///{tmp_path / 'state' / 'live.db'}", create=False)
    try:
        confirmed = live_confirmation(database)
        audit = queries.audit_entries(database, limit=1000)
    finally:
        database.close()
    assert confirmed is not None and confirmed.actor.startswith("cli:")
    assert sum(1 for a in audit if a.action == LIVE_CONFIRMED) == 1


async def run_until_live_then_interrupt(args: list[str], env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
            assert line, "ratchet ended early:\n" + "".join(seen)
            seen.append(line)
            if "LIVE trading" in line:
                break
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = "".join(seen) + rest.decode()
    assert process.returncode == 0, output
    assert "web GUI and API: http://127.0.0.1:" in output
    assert "trading summary" in output
