"""Fixtures of the read-only command tests: a state database filled by a REAL paper run.

The session runs the simulator + adapter + engine once over loopback (ETH-BTC and TRX-BTC, 400
candles each, about 15 s) into a SQLite file; every test reads that file (never writes it) and
computes what it expects straight from the file with ``sqlite3`` and Decimal arithmetic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ratchet.cli.main import app
from ratchet.cli.run import paper_trade
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles

PAIRS = ("ETH-BTC", "TRX-BTC")
CANDLES = 400
FINAL = ("CLOSED", "CANCELLED")


@dataclass(frozen=True)
class PaperState:
    """The database of one paper run and plain-SQL answers about it."""

    path: Path

    @property
    def url(self) -> str:
        """The ``--db`` URL of the file."""
        return f"sqlite:///{self.path}"

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Rows of a read-only query on the file."""
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            return db.execute(sql, params).fetchall()

    def trades(self) -> list[sqlite3.Row]:
        """Positions that are over and bought something (round trips), by id."""
        return [
            row
            for row in self.rows("select * from positions order by position_id")
            if row["status"] in FINAL and Decimal(row["entry_size"]) > 0
        ]


@pytest.fixture(scope="session")
def paper_state(tmp_path_factory: pytest.TempPathFactory) -> PaperState:
    """A state database written by a real paper-trading run (simulator over loopback)."""
    files = [f for f in demo_candle_files() if pair_of(f) in PAIRS]
    series = {pair_of(f): read_candles(f)[:CANDLES] for f in files}
    path = tmp_path_factory.mktemp("paper") / "paper.db"
    asyncio.run(
        paper_trade(series, speed=8_000, cash=Decimal(10), show_dashboard=False, state=path)
    )
    state = PaperState(path)
    assert state.trades(), "the paper run closed no position: nothing to check the commands on"
    return state


@pytest.fixture(autouse=True)
def _no_database_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The developer's own RATCHET_DB_URL / RATCHET_DB_KEY must not leak into a test."""
    monkeypatch.delenv("RATCHET_DB_URL", raising=False)
    monkeypatch.delenv("RATCHET_DB_KEY", raising=False)
    yield


@pytest.fixture
def ratchet() -> Callable[..., Result]:
    """Run ``ratchet ARGS`` in-process (typer's CliRunner); stdout and stderr apart."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def ratchet_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``ratchet`` console script as a real process."""
    script = Path(sys.executable).with_name("ratchet")

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RATCHET_DB_")}
        return subprocess.run(
            [str(script), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run
