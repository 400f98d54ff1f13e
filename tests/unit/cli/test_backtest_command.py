"""`ratchet backtest` as a user runs it: real process, real candles, deterministic output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def ratchet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ratchet", *args], capture_output=True, text=True, check=False
    )


def test_the_same_candles_give_byte_identical_json(tmp_path: Path, demo_eth_btc: Path) -> None:
    # Arrange
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    data = str(demo_eth_btc)
    # Act
    one = ratchet("backtest", "--candles", data, "--json", str(first))
    two = ratchet("backtest", "--candles", data, "--json", str(second))
    # Assert
    assert one.returncode == two.returncode == 0, one.stderr
    assert first.read_bytes() == second.read_bytes()
    report = json.loads(first.read_text())
    trades = report["pairs"]["ETH-BTC"]["trades"]
    assert trades, "the bundled ETH-BTC days produce trades"
    closed = [t for t in trades if t["status"] == "CLOSED"]
    assert all(t["exit_size"] == t["entry_size"] for t in closed)
    assert "ETH-BTC" in one.stdout and "candles/s" in one.stdout


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    assert ratchet("backtest", "--from", "yesterday").returncode == 2
    assert ratchet("backtest", "--from", "2099-01-01").returncode == 2
    assert ratchet("backtest", "--cash", "-5").returncode == 2
    missing = ratchet("backtest", "--candles", str(tmp_path / "none.csv"))
    assert missing.returncode == 2 and "cannot open" in missing.stderr
