"""The pure parts of the read-only commands: last prices, P&L summaries, time windows, SQL text."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import typer

from ratchet.cli.export_formats import ExportFormat, render
from ratchet.cli.figures import entry_cost, last_prices, summarize
from ratchet.cli.history import parse_when, window
from ratchet.domain.money import Product
from ratchet.domain.orders import Fill
from ratchet.domain.position import Position, PositionStatus, TrailPolicy
from ratchet.ports import SignalRecord
from ratchet.store.queries import FillView

PRODUCT = Product("ETH-BTC", Decimal("0.01"), Decimal("0.00001"), Decimal("0.01"))
MIDNIGHT = int(datetime(2018, 1, 27, tzinfo=UTC).timestamp())


def position(number: int, status: PositionStatus, pnl: str, quantity: str = "0") -> Position:
    return Position(
        f"ETH-BTC#{number:06d}",
        PRODUCT,
        TrailPolicy(Decimal(2)),
        status=status,
        quantity=Decimal(quantity),
        entry_size=Decimal(2),
        entry_value=Decimal("0.2"),
        entry_fees=Decimal("0.002"),
        realized_pnl=Decimal(pnl),
    )


def signal(start: int, close: str) -> SignalRecord:
    return SignalRecord(
        "ETH-BTC", start, Decimal(close), None, None, None, None, None, None, None, enter=False
    )


def fill_at(time: int, price: str) -> FillView:
    return FillView(
        "c1",
        "ETH-BTC#000001",
        "ETH-BTC",
        "BUY",
        Fill(f"t{time}", Decimal(price), Decimal(1), time=time),
    )


def test_the_last_price_is_the_newer_of_the_candle_close_and_the_fill() -> None:
    candle = {"ETH-BTC": signal(MIDNIGHT, "0.09")}  # closes at MIDNIGHT + 300

    older_fill = last_prices(candle, [fill_at(MIDNIGHT + 100, "0.08")])["ETH-BTC"]
    newer_fill = last_prices(candle, [fill_at(MIDNIGHT + 301, "0.07")])["ETH-BTC"]
    only_fill = last_prices({}, [fill_at(MIDNIGHT, "0.06")])["ETH-BTC"]

    assert (older_fill.price, older_fill.source) == (Decimal("0.09"), "candle")
    assert (newer_fill.price, newer_fill.source) == (Decimal("0.07"), "fill")
    assert (only_fill.price, only_fill.time) == (Decimal("0.06"), MIDNIGHT)


def test_summary_counts_round_trips_wins_and_deployed_capital() -> None:
    positions = [
        position(1, PositionStatus.CLOSED, "0.01"),
        position(2, PositionStatus.CLOSED, "-0.004"),
        position(3, PositionStatus.CLOSED, "0.002"),
        position(4, PositionStatus.OPEN, "0", quantity="1"),
    ]

    (summary,) = summarize(positions)

    assert (summary.trades, summary.wins, summary.losses) == (3, 2, 1)
    assert summary.win_rate_pct == Decimal("66.67")
    assert summary.realized_pnl == Decimal("0.008")
    assert summary.open_positions == 1
    assert summary.deployed == entry_cost(positions[3]) == Decimal("0.101")


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2018-01-27", False, MIDNIGHT),
        ("2018-01-27", True, MIDNIGHT + 86_400),
        ("2018-01-27T01:00", False, MIDNIGHT + 3_600),
        ("2018-01-27T01:00:00Z", True, MIDNIGHT + 3_601),
        ("2018-01-27T03:00+02:00", False, MIDNIGHT + 3_600),
    ],
)
def test_dates_and_datetimes_are_utc_and_the_end_is_inclusive(
    text: str, end: bool, expected: int
) -> None:
    assert parse_when("--to" if end else "--from", text, end=end) == expected


def test_a_window_holds_its_inclusive_ends_only() -> None:
    span = window("2018-01-27", "2018-01-27")

    assert span.holds(MIDNIGHT) and span.holds(MIDNIGHT + 86_399)
    assert not span.holds(MIDNIGHT - 1) and not span.holds(MIDNIGHT + 86_400)


def test_a_bad_date_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as raised:
        parse_when("--from", "27/01/2018", end=False)

    assert raised.value.exit_code == 2
    assert "--from: expected an ISO date" in capsys.readouterr().err


def test_sql_text_with_quotes_and_nulls_loads_back_exactly() -> None:
    example = {"name": "x", "amount": "1", "count": 0}
    records = [
        {"name": 'it\'s "quoted"; DROP TABLE t;--', "amount": "0.00000001", "count": 3},
        {"name": None, "amount": "-123456789.123456789", "count": None},
    ]

    script = render(ExportFormat.SQL, "t", example, records)

    with contextlib.closing(sqlite3.connect(":memory:")) as database:
        database.executescript(script)
        loaded = database.execute("select name, amount, count from t order by rowid").fetchall()
    assert loaded == [(r["name"], r["amount"], r["count"]) for r in records]
