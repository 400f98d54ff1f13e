"""`ratchet backtest` as a user runs it: real process, real candles, deterministic output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


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
    assert report["pairs"]["ETH-BTC"]["stats"]["trades"] == len(trades)
    assert report["total"]["trades"] == len(trades)
    assert "ETH-BTC" in one.stdout and "candles/s" in one.stdout
    for column in ("win rate", "max DD", "exposure", "Sharpe", "Sortino", "profit f."):
        assert column in one.stdout


def test_the_html_report_is_written_with_the_trades(tmp_path: Path, demo_eth_btc: Path) -> None:
    html, out = tmp_path / "report.html", tmp_path / "out.json"
    run = ratchet(
        "backtest", "--candles", str(demo_eth_btc), "--html", str(html), "--json", str(out)
    )
    assert run.returncode == 0, run.stderr
    text = html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    for trade in json.loads(out.read_text())["pairs"]["ETH-BTC"]["trades"]:
        assert f"<td>{trade['position_id']}</td>" in text


def test_fees_and_slippage_are_taken_from_the_flags(tmp_path: Path, demo_eth_btc: Path) -> None:
    base, costly = tmp_path / "base.json", tmp_path / "costly.json"
    data = str(demo_eth_btc)
    assert ratchet("backtest", "--candles", data, "--json", str(base)).returncode == 0
    run = ratchet(
        "backtest",
        "--candles",
        data,
        "--maker-fee-pct",
        "0.8",
        "--taker-fee-pct",
        "1.2",
        "--slippage-pct",
        "0.1",
        "--json",
        str(costly),
    )
    assert run.returncode == 0, run.stderr
    cheap, dear = (json.loads(p.read_text()) for p in (base, costly))
    assert dear["settings"]["maker_fee_rate"] == "0.008"
    assert dear["settings"]["slippage"] == "0.001"
    first_cheap = cheap["pairs"]["ETH-BTC"]["trades"][0]
    first_dear = dear["pairs"]["ETH-BTC"]["trades"][0]
    # the same first entry (nothing differs before it) pays twice the fee rate
    assert first_dear["entry_size"] == first_cheap["entry_size"]
    assert float(first_dear["entry_fees"]) > 1.9 * float(first_cheap["entry_fees"])


def test_pairs_run_on_several_workers_give_the_same_json_as_on_one(tmp_path: Path) -> None:
    # Arrange: all six bundled pairs
    alone, shared = tmp_path / "one.json", tmp_path / "three.json"
    # Act
    one = ratchet("backtest", "--jobs", "1", "--json", str(alone))
    three = ratchet("backtest", "--jobs", "3", "--json", str(shared))
    # Assert
    assert one.returncode == three.returncode == 0, three.stderr
    assert alone.read_bytes() == shared.read_bytes()
    assert len(json.loads(alone.read_text())["pairs"]) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "yesterday"), "--from expects a date"),
        (("--from", "2099-01-01"), "no candles in the chosen period"),
        (("--from", "2018-01-20", "--to", "2018-01-19"), "must be before --to"),
        (("--cash", "-5"), "--cash must be"),
        (("--cash", "lots"), "--cash must be"),
        (("--maker-fee-pct", "abc"), "--maker-fee-pct must be a number"),
        (("--taker-fee-pct", "100"), "--taker-fee-pct must be a number in [0, 100)"),
        (("--slippage-pct", "-1"), "--slippage-pct must be"),
        (("--participation-pct", "0"), "--participation-pct must be > 0"),
        (("--json", "/no/such/folder/out.json"), "no folder /no/such/folder"),
        (("--jobs", "-1"), "--jobs must be >= 0"),
    ],
)
def test_bad_arguments_are_usage_errors_with_one_clear_line(
    args: tuple[str, ...], message: str
) -> None:
    run = ratchet("backtest", *args)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_missing_candles_and_a_bad_config_are_usage_errors(tmp_path: Path) -> None:
    missing = ratchet("backtest", "--candles", str(tmp_path / "none.csv"))
    assert missing.returncode == 2 and "cannot open" in missing.stderr
    config = tmp_path / "bad.yaml"
    config.write_text("strategy:\n  trail_pct: 120\n")
    bad = ratchet("backtest", "--config", str(config))
    assert bad.returncode == 2 and "strategy.trail_pct" in bad.stderr


def test_a_config_file_sets_the_strategy(tmp_path: Path, demo_eth_btc: Path) -> None:
    config, out = tmp_path / "wide.yaml", tmp_path / "out.json"
    config.write_text("strategy:\n  trail_pct: 5\n")
    plain = tmp_path / "plain.json"
    data = str(demo_eth_btc)
    assert ratchet("backtest", "--candles", data, "--json", str(plain)).returncode == 0
    run = ratchet("backtest", "--candles", data, "--config", str(config), "--json", str(out))
    assert run.returncode == 0, run.stderr
    wide, narrow = (json.loads(p.read_text())["pairs"]["ETH-BTC"] for p in (out, plain))
    # a 5 % trail holds positions longer than a 2 % one: fewer trades in the same days
    assert wide["stats"]["trades"] < narrow["stats"]["trades"]
    assert json.loads(out.read_text())["settings"]["config"] == "wide.yaml"
