"""``ratchet export`` on the database of a real paper run; every export is read back and checked:
CSV with the csv module, JSON with json, SQL loaded into a fresh sqlite3 database."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

TRADE_FIELDS = {
    "position_id",
    "pair",
    "opened_at",
    "closed_at",
    "entry_price",
    "entry_size",
    "exit_price",
    "exit_size",
    "fees",
    "realized_pnl",
}


def export(ratchet: Callable[..., Result], url: str, fmt: str, what: str) -> str:
    result = ratchet("export", "--format", fmt, "--what", what, "--db", url)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def load_sql(script: str) -> sqlite3.Connection:
    database = sqlite3.connect(":memory:")
    database.executescript(script)
    return database


def test_trades_as_csv_are_the_round_trips_of_the_store(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    rows = list(csv.DictReader(io.StringIO(export(ratchet, paper_state.url, "csv", "trades"))))

    trades = paper_state.trades()
    assert [r["position_id"] for r in rows] == [t["position_id"] for t in trades]
    assert set(rows[0]) >= TRADE_FIELDS
    for row, trade in zip(rows, trades, strict=True):
        assert Decimal(row["realized_pnl"]) == Decimal(trade["realized_pnl"])
        assert Decimal(row["entry_size"]) == Decimal(trade["entry_size"])
        assert Decimal(row["exit_size"]) == Decimal(trade["exit_size"])
        fees = Decimal(trade["entry_fees"]) + Decimal(trade["exit_fees"])
        assert Decimal(row["fees"]) == fees
        entry = Decimal(row["entry_price"]) * Decimal(row["entry_size"])
        assert abs(entry - Decimal(trade["entry_value"])) < Decimal("1e-8")
        assert row["opened_at"] <= row["closed_at"]


def test_trades_as_json_have_every_field_and_the_same_total(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    records = json.loads(export(ratchet, paper_state.url, "json", "trades"))

    assert isinstance(records, list)
    assert all(set(r) >= TRADE_FIELDS for r in records)
    assert all(isinstance(r["realized_pnl"], str) for r in records)
    total = sum(Decimal(t["realized_pnl"]) for t in paper_state.trades())
    assert sum(Decimal(r["realized_pnl"]) for r in records) == total


def test_trades_as_sql_load_into_a_fresh_sqlite_with_the_same_totals(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    database = load_sql(export(ratchet, paper_state.url, "sql", "trades"))

    with contextlib.closing(database):
        loaded = database.execute(
            "select realized_pnl, typeof(realized_pnl) from trades"
        ).fetchall()
        wins = database.execute("select sum(win) from trades").fetchone()[0]
    trades = paper_state.trades()
    assert len(loaded) == len(trades)
    assert {kind for _, kind in loaded} == {"text"}
    assert sum(Decimal(pnl) for pnl, _ in loaded) == sum(Decimal(t["realized_pnl"]) for t in trades)
    assert wins == sum(1 for t in trades if Decimal(t["realized_pnl"]) > 0)


@pytest.mark.parametrize("fmt", ["csv", "json", "sql"])
def test_positions_export_every_position_in_each_format(
    fmt: str, paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    text = export(ratchet, paper_state.url, fmt, "positions")

    if fmt == "csv":
        ids = [r["position_id"] for r in csv.DictReader(io.StringIO(text))]
    elif fmt == "json":
        ids = [r["position_id"] for r in json.loads(text)]
    else:
        with contextlib.closing(load_sql(text)) as database:
            ids = [r[0] for r in database.execute("select position_id from positions")]
    expected = [r["position_id"] for r in paper_state.rows("select * from positions")]
    assert sorted(ids) == sorted(expected)


def test_metrics_agree_with_history_and_load_as_sql(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    metrics = json.loads(export(ratchet, paper_state.url, "json", "metrics"))
    history = json.loads(ratchet("history", "--json", "--db", paper_state.url).stdout)
    database = load_sql(export(ratchet, paper_state.url, "sql", "metrics"))

    with contextlib.closing(database):
        (trades, pnl) = database.execute(
            "select trades, realized_pnl from metrics where quote_currency = 'BTC'"
        ).fetchone()
    (summary,) = history["summary"]
    (btc,) = metrics
    for field in ("trades", "wins", "losses", "win_rate_pct", "realized_pnl", "fees"):
        assert btc[field] == summary[field]
    assert trades == summary["trades"]
    assert Decimal(pnl) == Decimal(summary["realized_pnl"])


def test_out_writes_the_file_and_says_so(
    paper_state: Any, tmp_path: Path, ratchet: Callable[..., Result]
) -> None:
    out = tmp_path / "trades.csv"

    result = ratchet(
        "export", "--format", "csv", "--what", "trades", "--out", str(out), "--db", paper_state.url
    )

    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == len(paper_state.trades())
    assert result.stdout.strip() == f"wrote {len(rows)} trades rows to {out} (csv)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx", "--what", "trades"], "Invalid value for '--format'"),
        (["--format", "csv", "--what", "orders"], "Invalid value for '--what'"),
        (
            ["--format", "csv", "--what", "trades", "--out", "/no/such/folder/x.csv"],
            "error: --out: no folder /no/such/folder",
        ),
    ],
)
def test_bad_export_requests_are_exit_2_with_their_message(
    args: list[str], message: str, paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("export", *args, "--db", paper_state.url)

    assert result.exit_code == 2
    assert message in result.stderr
