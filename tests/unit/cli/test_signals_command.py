"""`ratchet signals` run as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ratchet.domain.signals import SignalEngine
from ratchet.marketdata.csvfile import read_candles

HEADER = "start,close,rsi,macd,macd_signal,macd_hist,vwap,rsi_ok,macd_ok,vwap_ok,signal"


def ratchet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ratchet", *args], capture_output=True, text=True, check=False
    )


def test_csv_output_has_exact_header_and_one_row_per_candle(demo_eth_btc: Path) -> None:
    # Act
    result = ratchet("signals", "--candles", str(demo_eth_btc), "--format", "csv")

    # Assert
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == HEADER
    assert len(lines) - 1 == len(read_candles(demo_eth_btc))


def test_csv_cells_are_empty_while_indicators_warm_up(demo_eth_btc: Path) -> None:
    result = ratchet("signals", "--candles", str(demo_eth_btc), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))

    # RSI(14) needs 15 closes, MACD(12,26,9) needs 34: before that their cells are empty.
    assert all(row["rsi"] == "" for row in rows[:14])
    assert rows[14]["rsi"] != ""
    assert all(row["macd"] == row["macd_signal"] == "" for row in rows[:33])
    assert rows[33]["macd"] != ""
    assert all(row["signal"] == "" for row in rows[:33])
    assert {row["signal"] for row in rows[33:]} <= {"true", "false"}


def test_csv_values_match_the_domain_engine(demo_eth_btc: Path) -> None:
    engine = SignalEngine()
    expected = [engine.on_candle_closed(c) for c in read_candles(demo_eth_btc)]

    result = ratchet("signals", "--candles", str(demo_eth_btc), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))

    for row, decision in zip(rows, expected, strict=True):
        assert int(row["start"]) == decision.candle.start
        assert row["close"] == str(decision.candle.close)
        if decision.values.rsi is not None:
            assert float(row["rsi"]) == decision.values.rsi  # repr round-trips exactly
        assert row["signal"] == ("" if decision.warming_up else str(decision.enter).lower())


def test_json_output_uses_null_during_warm_up_and_counts_signals(demo_eth_btc: Path) -> None:
    engine = SignalEngine()
    entries = sum(engine.on_candle_closed(c).enter for c in read_candles(demo_eth_btc))

    result = ratchet("signals", "--candles", str(demo_eth_btc), "--format", "json")

    rows = json.loads(result.stdout)
    assert rows[0]["rsi"] is None and rows[0]["signal"] is None
    assert sum(1 for row in rows if row["signal"]) == entries > 0
    only = ratchet("signals", "--candles", str(demo_eth_btc), "--format", "json", "--signals-only")
    assert len(json.loads(only.stdout)) == entries


def test_table_output_names_the_pair_and_the_rule(demo_eth_btc: Path) -> None:
    result = ratchet("signals", "--candles", str(demo_eth_btc), "--tail", "5")

    assert result.returncode == 0
    assert "ETH-BTC" in result.stdout
    assert "RSI < 30" in result.stdout
    assert "5 rows" in result.stdout


GOOD = "1516942500,0.09321,0.09324449,0.09276485,0.093,25.2"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("start,open,high,low,close\n" + GOOD, "volume: missing column"),
        (f"start,open,high,low,close,volume\n{GOOD}\n1516942800,1,2,0.5,abc,1", ":3: close:"),
        ("start,open,high,low,close,volume\nyesterday,1,2,0.5,1,1", ":2: start: expected Unix"),
        (
            "start,open,high,low,close,volume\n1516942501,1,2,0.5,1,1",
            ":2: start: 1516942501 is not",
        ),
        ("start,open,high,low,close,volume\n1516942500,1,0.9,0.5,1,1", ":2: high:"),
        ("start,open,high,low,close,volume\n1516942500,1,2,0.5,1,-1", ":2: volume:"),
        ("start,open,high,low,close,volume\n1516942500,1,2,0,1,1", ":2: low:"),
        ("start,open,high,low,close,volume\n1516942500,1,2,0.5,1", ":2: expected 6 fields"),
        (
            "start,open,high,low,close,volume\n1516942500,1,2,0.5,NaN,1",
            ":2: close: expected a finite",
        ),
        (f"start,open,high,low,close,volume\n{GOOD}\n{GOOD}", ":3: start: 1516942500 is not after"),
    ],
)
def test_malformed_file_gives_one_line_error_and_exit_code_2(
    tmp_path: Path, content: str, message: str
) -> None:
    # Arrange
    bad = tmp_path / "bad.csv"
    bad.write_text(content)

    # Act
    result = ratchet("signals", "--candles", str(bad), "--format", "csv")

    # Assert
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert str(bad) in result.stderr


def test_missing_file_is_bad_input_not_a_crash(tmp_path: Path) -> None:
    result = ratchet("signals", "--candles", str(tmp_path / "nope.csv"))

    assert result.returncode == 2
    assert "cannot open" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_format_option_is_a_usage_error(demo_eth_btc: Path) -> None:
    result = ratchet("signals", "--candles", str(demo_eth_btc), "--format", "xml")

    assert result.returncode == 2
