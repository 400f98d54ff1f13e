"""The real stack for the browser tests: simulator + adapter + runtime + EngineControl + web,
all on 127.0.0.1, with users in a real SQLite state database; and a headless Chromium (Debian's
``chromium``, driven by Playwright through ``executable_path``: no browser is downloaded)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from ratchet.app import Endpoints, Engine, open_engine, store_database
from ratchet.coinbase.limits import RateLimiter
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.sim.server import SimServer, SimSettings
from ratchet.store.sql_store import SqlStore
from ratchet.web import WebServer, start_web
from ratchet.web.users import Role, add_user

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
PAIRS = ("ETH-BTC", "LTC-BTC", "XLM-BTC")
USERS = {"otto": ("operator-pass-9902", Role.OPERATOR), "ada": ("admin-pass-2208x", Role.ADMIN)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """aiohttp-session keys requests by strings, which aiohttp warns about: not our concern."""
    ignore = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")
    for item in items:
        if "web" in item.path.parts:
            item.add_marker(ignore)


def chromium_path() -> str | None:
    """Debian's chromium (``.ci/run`` installs it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """``test-artifacts/<test name>/`` for screenshots (the folder ignores itself in git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    folder = ARTIFACTS / request.node.name
    folder.mkdir(exist_ok=True)
    return folder


async def wait_until(page: Any, script: str, arg: Any = None, timeout: float = 15.0) -> Any:
    """Poll ``script`` (a JS function) in the page until it returns something truthy.

    Playwright's own ``wait_for_function`` evaluates strings, which the page's CSP forbids
    (no ``unsafe-eval``), so the polling happens from here through ``page.evaluate``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await page.evaluate(script, arg)
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {script}")
        await asyncio.sleep(0.1)


@pytest.fixture
def until() -> Any:
    """:func:`wait_until`, for the tests (they cannot import this file)."""
    return wait_until


@dataclass
class Stack:
    """The running stack."""

    sim: SimServer
    engine: Engine
    web: WebServer


async def _subscribed(sim: SimServer) -> None:
    for _ in range(500):
        if sim.hub.subscribers("candles") and sim.hub.subscribers("user"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the feed never subscribed")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """Paper trading three real pairs at 300 × real time, with the web GUI on a free port."""
    files = {pair_of(f): f for f in demo_candle_files()}
    series = {pair: read_candles(files[pair])[:600] for pair in PAIRS}
    sim = SimServer(
        series, SimSettings(speed=300, balances={"BTC": Decimal(10)}, heartbeat_interval=0.5)
    )
    found = await sim.start(pace=False)
    store = await SqlStore.open(f"sqlite:///{tmp_path / 'state' / 'ratchet.db'}")
    engine = await open_engine(
        Endpoints(found.rest, found.ws, found.ws_user),
        sim.credentials,
        list(PAIRS),
        store,
        config=None,
        cash=Decimal(10),
        limiter=RateLimiter(100.0),
    )
    database = store_database(store)
    assert database is not None
    for name, (password, role) in USERS.items():
        await asyncio.to_thread(add_user, database, name, password, role)
    await engine.runtime.restore()
    await engine.feed.start()
    stop = asyncio.Event()
    running = asyncio.create_task(engine.runtime.run(stop))
    await _subscribed(sim)
    sim.begin_pacing()
    web = await start_web(engine.control, port=0, state_dir=tmp_path / "state")
    try:
        yield Stack(sim, engine, web)
    finally:
        await web.stop()
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, timeout=10)
        await engine.close()
        await sim.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium page (a laptop-sized window)."""
    executable = chromium_path()
    if executable is None:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            await chromium.close()
