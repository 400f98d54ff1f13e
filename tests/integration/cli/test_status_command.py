"""``ratchet status [PAIR]`` on the database of a real paper run, checked against the file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import Result

CANDLE_SECONDS = 300
CENT_OF_A_SATOSHI = Decimal("1e-10")


def last_price(state: Any, pair: str) -> tuple[Decimal, str]:
    """The newer of the pair's last recorded candle close and its last fill, by plain SQL."""
    candle = state.rows(
        "select close, start from signals where pair = ? order by start desc, id desc limit 1",
        pair,
    )
    fill = state.rows(
        "select f.price, f.time from fills f join orders o using (client_order_id) "
        "where o.product_id = ? order by f.time desc, f.id desc limit 1",
        pair,
    )
    if fill and (not candle or fill[0]["time"] > candle[0]["start"] + CANDLE_SECONDS):
        return Decimal(fill[0]["price"]), "fill"
    return Decimal(candle[0]["close"]), "candle"


def expected_unrealised(row: sqlite3.Row, price: Decimal) -> Decimal:
    quantity = Decimal(row["quantity"])
    cost = (Decimal(row["entry_value"]) + Decimal(row["entry_fees"])) * quantity
    return quantity * price - cost / Decimal(row["entry_size"])


def test_status_lists_each_pairs_current_position_with_pnl_at_the_last_price(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    # Act
    result = ratchet("status", "--db", paper_state.url, "--json")

    # Assert
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)["positions"]
    assert sorted(r["pair"] for r in records) == ["ETH-BTC", "TRX-BTC"]
    for record in records:
        rows = paper_state.rows(
            "select * from positions where pair = ? order by position_id", record["pair"]
        )
        open_rows = [r for r in rows if r["status"] not in ("CLOSED", "CANCELLED")]
        row = open_rows[0] if open_rows else rows[-1]
        assert record["position_id"] == row["position_id"]
        assert record["status"] == row["status"]
        assert Decimal(record["quantity"]) == Decimal(row["quantity"])
        assert Decimal(record["realized_pnl"]) == Decimal(row["realized_pnl"])
        price, source = last_price(paper_state, record["pair"])
        assert (Decimal(record["last_price"]), record["last_price_source"]) == (price, source)
        if Decimal(row["quantity"]) > 0:
            assert record["stop_desired"] == row["stop"]
            unrealised = Decimal(record["unrealized_pnl"])
            assert abs(unrealised - expected_unrealised(row, price)) < CENT_OF_A_SATOSHI
        else:
            assert record["unrealized_pnl"] is None


def test_status_all_lists_every_position_and_the_table_names_them(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    # Act
    as_json = ratchet("status", "--all", "--json", "--db", paper_state.url)
    as_table = ratchet("status", "--all", "--db", paper_state.url)

    # Assert
    ids = [r["position_id"] for r in paper_state.rows("select * from positions")]
    assert sorted(r["position_id"] for r in json.loads(as_json.stdout)["positions"]) == sorted(ids)
    assert as_table.exit_code == 0, as_table.stderr
    assert all(position_id in as_table.stdout for position_id in ids)
    assert "last from" in as_table.stdout


def test_status_of_a_pair_shows_its_position_orders_fills_and_stop_history(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    # Act: the pair in lower case is accepted
    result = ratchet("status", "eth-btc", "--json", "--db", paper_state.url)

    # Assert
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    position_id = shown["position"]["position_id"]
    assert shown["pair"] == "ETH-BTC"
    assert position_id.startswith("ETH-BTC#")
    orders = paper_state.rows("select * from orders where position_id = ?", position_id)
    fills = paper_state.rows(
        "select f.* from fills f join orders o using (client_order_id) where o.position_id = ?",
        position_id,
    )
    stops = paper_state.rows("select * from stop_history where position_id = ?", position_id)
    assert sorted(o["client_order_id"] for o in shown["orders"]) == sorted(
        o["client_order_id"] for o in orders
    )
    assert sorted(f["trade_id"] for f in shown["fills"]) == sorted(f["trade_id"] for f in fills)
    assert len(shown["stops"]) == len(stops) > 0
    bought = sum(Decimal(f["size"]) for f in shown["fills"] if f["side"] == "BUY")
    assert bought == Decimal(shown["position"]["entry_size"])
    levels = [Decimal(s["confirmed"]) for s in shown["stops"] if s["confirmed"] is not None]
    assert levels == sorted(levels), "a confirmed stop went down"


def test_status_of_a_pair_as_a_table_has_every_section(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("status", "TRX-BTC", "--db", paper_state.url)

    assert result.exit_code == 0, result.stderr
    for section in ("TRX-BTC position TRX-BTC#", "orders", "fills", "stop history"):
        assert section in result.stdout
    assert "unrealised P&L" in result.stdout


def test_an_unknown_pair_is_bad_input_naming_the_known_ones(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("status", "DOGE-BTC", "--db", paper_state.url)

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: unknown pair 'DOGE-BTC': the database knows ETH-BTC, TRX-BTC"
    )


def test_a_missing_database_is_an_error_and_reading_creates_nothing(
    tmp_path: Path, ratchet: Callable[..., Result]
) -> None:
    missing = tmp_path / "state" / "nothing.db"

    result = ratchet("status", "--db", f"sqlite:///{missing}")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: no database at {missing}: name one with --db URL")
    assert not missing.parent.exists()


def test_status_runs_as_the_installed_command(
    paper_state: Any, ratchet_process: Callable[..., Any]
) -> None:
    result = ratchet_process("status", "--json", "--db", paper_state.url)

    assert result.returncode == 0, result.stderr
    pairs = {r["pair"] for r in json.loads(result.stdout)["positions"]}
    assert pairs == {r["pair"] for r in paper_state.rows("select distinct pair from positions")}
