"""``ratchet backtest``: the live engine code (PairTrader) over recorded candles."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ratchet.backtest.runner import PairResult, run_pair
from ratchet.cli.sim import load_candle_source
from ratchet.domain.candles import Candle
from ratchet.engine.pair_trader import TraderSettings
from ratchet.marketdata.csvfile import CandleFileError

EXIT_BAD_INPUT = 2


def _epoch(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} expects a date like 2018-01-20, got {text!r}") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def backtest_command(
    candles: Annotated[
        Path | None, typer.Option("--candles", help="Candle CSV or folder (default: bundled).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (UTC), e.g. 2018-01-20.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Day after the last (UTC).")] = None,
    cash: Annotated[
        str, typer.Option("--cash", help="Quote currency each pair starts with.")
    ] = "10000",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every trade and stat.")
    ] = None,
) -> None:
    """Backtest every pair of the data with the live engine code, each pair alone.

    Example: ratchet backtest --candles ../shared/data/candles --json trades.json
    """
    try:
        series = load_candle_source(candles)
        budget = Decimal(cash)
        if not budget.is_finite() or budget <= 0:
            raise ValueError(f"--cash must be > 0, got {cash}")
    except (CandleFileError, ArithmeticError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    low, high = _epoch(start, "--from"), _epoch(end, "--to")
    chosen = {
        pair: [
            c for c in data if (low is None or c.start >= low) and (high is None or c.start < high)
        ]
        for pair, data in series.items()
    }
    chosen = {pair: data for pair, data in chosen.items() if data}
    if not chosen:
        typer.echo("error: no candles in the chosen period", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    results, seconds = _run(chosen, budget)
    console = Console(width=max(Console().width, 120))
    console.print(_table(results))
    total = sum(len(data) for data in chosen.values())
    console.print(f"{total} candles in {seconds:.2f} s ({total / seconds:,.0f} candles/s)")
    if json_out is not None:
        json_out.write_text(json.dumps(_report(results), indent=1, sort_keys=True) + "\n")
        console.print(f"trades and stats written to {json_out}")


def _run(series: dict[str, list[Candle]], cash: Decimal) -> tuple[dict[str, PairResult], float]:
    results: dict[str, PairResult] = {}
    started = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task("backtesting", total=len(series))
        for pair, data in sorted(series.items()):
            results[pair] = run_pair(pair, data, TraderSettings(), cash=cash)
            progress.advance(task)
    return results, time.perf_counter() - started


def _table(results: dict[str, PairResult]) -> Table:
    table = Table(title="backtest", header_style="bold")
    for column in ("pair", "entries", "closed", "win rate", "realised P&L", "fees", "equity"):
        table.add_column(column, justify="left" if column == "pair" else "right")
    for pair, result in results.items():
        closed = result.closed
        wins = sum(1 for p in closed if p.realized_pnl > 0)
        pnl = sum((p.realized_pnl for p in closed), Decimal(0))
        fees = sum((p.entry_fees + p.exit_fees for p in closed), Decimal(0))
        rate = f"{100 * wins / len(closed):.0f}%" if closed else "-"
        table.add_row(
            pair,
            str(result.entries),
            str(len(closed)),
            rate,
            f"{pnl:.8f}",
            f"{fees:.8f}",
            f"{result.equity:.8f}",
        )
    return table


def _report(results: dict[str, PairResult]) -> dict[str, Any]:
    """Every trade and the per-pair totals; Decimals as strings (byte-identical reruns)."""
    pairs: dict[str, Any] = {}
    for pair, result in results.items():
        trades = [
            {
                "position_id": p.position_id,
                "status": p.status.name,
                "entry_size": str(p.entry_size),
                "entry_price": str(p.entry_price) if p.entry_price is not None else None,
                "entry_fees": str(p.entry_fees),
                "exit_size": str(p.exit_size),
                "exit_value": str(p.exit_value),
                "exit_fees": str(p.exit_fees),
                "realized_pnl": str(p.realized_pnl),
                "stop": str(p.stop) if p.stop is not None else None,
            }
            for p in result.positions.values()
            if p.entry_size > 0
        ]
        pairs[pair] = {"trades": trades, "equity": str(result.equity), "fills": result.fills}
    return {"pairs": pairs}
