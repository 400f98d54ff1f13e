"""``ratchet orders`` and ``ratchet history`` on the database of a real paper run."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import Result

TERMINAL = ("FILLED", "CANCELLED", "EXPIRED", "REJECTED")


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_orders_shows_the_working_orders_by_default(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("orders", "--json", "--db", paper_state.url)

    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)["orders"]
    working = paper_state.rows("select * from orders where status not in (?, ?, ?, ?)", *TERMINAL)
    assert sorted(o["client_order_id"] for o in shown) == sorted(
        o["client_order_id"] for o in working
    )
    assert all(o["status"] not in TERMINAL for o in shown)


def test_orders_all_of_a_pair_newest_first_up_to_the_limit(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet(
        "orders", "--all", "--pair", "TRX-BTC", "--limit", "5", "--json", "--db", paper_state.url
    )

    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)["orders"]
    newest = paper_state.rows(
        "select * from orders where product_id = 'TRX-BTC' "
        "order by created_at desc, client_order_id desc limit 5"
    )
    assert [o["client_order_id"] for o in shown] == [o["client_order_id"] for o in newest]
    for order, row in zip(shown, newest, strict=True):
        assert Decimal(order["filled_size"]) == Decimal(row["filled_size"])
        assert Decimal(order["fees"]) == Decimal(row["fees"])


def test_orders_table_says_when_the_limit_cut_the_list(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("orders", "--all", "--limit", "2", "--db", paper_state.url)

    assert result.exit_code == 0, result.stderr
    assert "the newest 2 shown; --limit N shows more" in result.stdout
    assert result.stdout.count("rt-") == 2


def test_orders_limit_must_be_positive(paper_state: Any, ratchet: Callable[..., Result]) -> None:
    result = ratchet("orders", "--limit", "0", "--db", paper_state.url)

    assert result.exit_code == 2
    assert "--limit" in result.stderr


def test_history_totals_equal_the_closed_positions_in_the_store(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("history", "--json", "--db", paper_state.url)

    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    trades = paper_state.trades()
    (summary,) = shown["summary"]
    assert summary["quote_currency"] == "BTC"
    assert summary["trades"] == len(trades) == len(shown["trades"])
    assert Decimal(summary["realized_pnl"]) == sum(Decimal(t["realized_pnl"]) for t in trades)
    wins = sum(1 for t in trades if Decimal(t["realized_pnl"]) > 0)
    assert summary["wins"] == wins
    expected_rate = (Decimal(100) * wins / len(trades)).quantize(Decimal("0.01"))
    assert Decimal(summary["win_rate_pct"]) == expected_rate
    fees = sum(Decimal(t["entry_fees"]) + Decimal(t["exit_fees"]) for t in trades)
    assert Decimal(summary["fees"]) == fees
    assert len(shown["fills"]) == paper_state.rows("select count(*) n from fills")[0]["n"]


def test_history_from_to_keeps_the_fills_and_trades_inside_the_window(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    # Arrange: a window from the first day's noon to the median fill time (both inclusive)
    times = sorted(r["time"] for r in paper_state.rows("select time from fills"))
    start = "2018-01-26T12:00"
    begin = int(datetime(2018, 1, 26, 12, tzinfo=UTC).timestamp())
    end = times[len(times) // 2]

    # Act
    result = ratchet(
        "history", "--from", start, "--to", iso(end), "--json", "--db", paper_state.url
    )

    # Assert
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert 0 < len(shown["fills"]) == sum(1 for t in times if begin <= t <= end) < len(times)
    closes = {
        r["position_id"]: r["closed"]
        for r in paper_state.rows(
            "select o.position_id, max(f.time) closed from fills f "
            "join orders o using (client_order_id) where o.side = 'SELL' group by o.position_id"
        )
    }
    inside = [t for t in paper_state.trades() if begin <= closes[t["position_id"]] <= end]
    assert [t["position_id"] for t in shown["trades"]] == [t["position_id"] for t in inside]
    total = sum((Decimal(t["realized_pnl"]) for t in inside), Decimal(0))
    assert sum(Decimal(s["realized_pnl"]) for s in shown["summary"]) == total


def test_history_of_a_pair_from_a_date_covers_that_whole_day_on(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet(
        "history", "--pair", "trx-btc", "--from", "2018-01-27", "--json", "--db", paper_state.url
    )

    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    midnight = int(datetime(2018, 1, 27, tzinfo=UTC).timestamp())
    expected = paper_state.rows(
        "select f.trade_id from fills f join orders o using (client_order_id) "
        "where o.product_id = 'TRX-BTC' and f.time >= ?",
        midnight,
    )
    assert sorted(f["trade_id"] for f in shown["fills"]) == sorted(r[0] for r in expected)
    assert {f["pair"] for f in shown["fills"]} == {"TRX-BTC"}


def test_history_table_shows_fills_and_the_summary(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("history", "--db", paper_state.url)

    assert result.exit_code == 0, result.stderr
    assert "P&L by quote currency" in result.stdout
    assert "win rate" in result.stdout
    assert result.stdout.count("rt-") == paper_state.rows("select count(*) n from fills")[0]["n"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "error: --from: expected an ISO date (2018-01-26) or datetime"),
        (["--to", "2018-13-01"], "error: --to: expected an ISO date"),
        (["--from", "2018-01-27", "--to", "2018-01-26"], "is after --to"),
        (["--pair", "BTC-USD"], "error: unknown pair 'BTC-USD'"),
    ],
)
def test_history_bad_input_is_exit_2_with_its_message(
    args: list[str], message: str, paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("history", *args, "--db", paper_state.url)

    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
