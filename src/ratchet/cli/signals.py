"""``ratchet signals``: the indicators and the 2-of-3 verdict for every closed candle of a file."""

from __future__ import annotations

import csv
import json
import sys
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ratchet.domain.signals import SignalDecision, SignalEngine
from ratchet.marketdata.csvfile import CandleFileError, iter_candles, pair_of

COLUMNS = (
    "start",
    "close",
    "rsi",
    "macd",
    "macd_signal",
    "macd_hist",
    "vwap",
    "rsi_ok",
    "macd_ok",
    "vwap_ok",
    "signal",
)

EXIT_BAD_INPUT = 2


class OutputFormat(StrEnum):
    """How ``ratchet signals`` prints its rows."""

    table = "table"
    csv = "csv"
    json = "json"


def row_of(decision: SignalDecision) -> dict[str, object]:
    """One output row: numbers as numbers, None while an indicator warms up."""
    values = decision.values
    macd = values.macd
    return {
        "start": decision.candle.start,
        "close": str(decision.candle.close),
        "rsi": values.rsi,
        "macd": None if macd is None else macd.line,
        "macd_signal": None if macd is None else macd.signal,
        "macd_hist": None if macd is None else macd.histogram,
        "vwap": values.vwap,
        "rsi_ok": decision.rsi_ok,
        "macd_ok": decision.macd_ok,
        "vwap_ok": decision.vwap_ok,
        "signal": None if decision.warming_up else decision.enter,
    }


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def signals_command(
    candles: Annotated[
        Path,
        typer.Option(
            "--candles", help="Candle CSV (start,open,high,low,close,volume), oldest first."
        ),
    ],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or json.")
    ] = OutputFormat.table,
    signals_only: Annotated[
        bool, typer.Option("--signals-only", help="Print entry signals only.")
    ] = False,
    tail: Annotated[
        int | None, typer.Option("--tail", min=1, help="Print only the last N rows.")
    ] = None,
) -> None:
    """Print, for each closed candle, RSI, MACD, VWAP, which confirmations held, and the signal.

    Cells are empty while an indicator warms up (RSI needs 15 candles, MACD 34).

    Example: ratchet signals --candles ETH-BTC-5m.csv --format csv > eth.csv
    """
    engine = SignalEngine()
    decisions: Iterable[SignalDecision] = (
        engine.on_candle_closed(candle) for candle in iter_candles(candles)
    )
    if signals_only:
        decisions = (d for d in decisions if d.enter)
    try:
        rows = [row_of(d) for d in (deque(decisions, maxlen=tail) if tail else decisions)]
    except CandleFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows([_cell(row[c]) for c in COLUMNS] for row in rows)
    elif output is OutputFormat.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _print_table(pair_of(candles), rows, engine)


def _print_table(pair: str, rows: list[dict[str, object]], engine: SignalEngine) -> None:
    table = Table(title=f"{pair}: signals on closed 5-minute candles", header_style="bold")
    table.add_column("time (UTC)", no_wrap=True)
    for column in ("close", "RSI", "MACD", "signal line", "histogram", "VWAP"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("held", no_wrap=True)
    table.add_column("entry", no_wrap=True)
    for row in rows:
        start = row["start"]
        assert isinstance(start, int)
        when = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M")
        cells = [when, str(row["close"])]
        cells += [_short(row[c]) for c in COLUMNS[2:7]]
        held = [name for name in ("rsi", "macd", "vwap") if row[f"{name}_ok"]]
        cells.append(" ".join(held))
        signal = row["signal"]
        cells.append("warm-up" if signal is None else "[bold green]BUY[/]" if signal else "-")
        table.add_row(*cells)
    console = Console(width=max(Console().width, 132))
    console.print(table)
    rules = engine.rules
    console.print(
        f"{len(rows)} rows; entry when ≥ {rules.min_confirmations} of: RSI < {rules.rsi_below:g}, "
        "MACD line > signal line, close > session VWAP."
    )


def _short(value: object) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
