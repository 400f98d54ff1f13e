"""``ratchet backtest``: the live engine code (PairTrader) over recorded candles."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ratchet.backtest.parallel import default_workers, run_pairs
from ratchet.backtest.report import render_html
from ratchet.backtest.runner import DEFAULT_PARTICIPATION, PairResult
from ratchet.backtest.summary import Summary, report_json, summarize
from ratchet.cli.sim import load_candle_source
from ratchet.config import ConfigError, RatchetConfig, load_config
from ratchet.domain.candles import Candle
from ratchet.engine.pair_trader import TraderSettings
from ratchet.marketdata.csvfile import CandleFileError

EXIT_BAD_INPUT = 2
HUNDRED = Decimal(100)


class BadArgument(ValueError):
    """A command-line value that cannot be used (exit code 2, one line)."""


def _epoch(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadArgument(f"{option} expects a date like 2018-01-20, got {text!r}") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def _number(text: str, option: str, *, low: Decimal, high: Decimal | None = None) -> Decimal:
    """``text`` as a Decimal in ``[low, high)`` (or ``> 0`` for cash), or a BadArgument."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    ok = value.is_finite() and value >= low and (high is None or value < high)
    if not ok:
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise BadArgument(f"{option} must be a number {bound}, got {text!r}")
    return value


def backtest_command(
    candles: Annotated[
        list[Path] | None,
        typer.Option("--candles", help="Candle CSV file(s) or a folder (default: bundled)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML configuration (strategy, per pair).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (UTC), e.g. 2018-01-20.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Day after the last (UTC).")] = None,
    cash: Annotated[
        str, typer.Option("--cash", help="Quote currency each pair starts with.")
    ] = "10000",
    maker_fee: Annotated[str, typer.Option("--maker-fee-pct", help="Maker fee, %.")] = "0.4",
    taker_fee: Annotated[str, typer.Option("--taker-fee-pct", help="Taker fee, %.")] = "0.6",
    slippage: Annotated[
        str, typer.Option("--slippage-pct", help="Taker fills this much worse, %.")
    ] = "0",
    participation: Annotated[
        str,
        typer.Option("--participation-pct", help="Share of each leg's volume fills may take, %."),
    ] = str(DEFAULT_PARTICIPATION * HUNDRED),
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every trade and stat (JSON).")
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Write the HTML report (one file, offline).")
    ] = None,
    jobs: Annotated[
        int,
        typer.Option("--jobs", help="Pairs run in parallel (0: one per core; 1: no workers)."),
    ] = 0,
) -> None:
    """Backtest every pair of the data with the live engine code, each pair alone.

    Example: ratchet backtest --candles ../shared/data/candles --json out.json --html out.html
    """
    try:
        settings = load_config(config) if config is not None else None
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        budget = _number(cash, "--cash", low=Decimal(0))
        if budget == 0:
            raise BadArgument(f"--cash must be > 0, got {cash!r}")
        options = {
            "maker_fee_rate": _number(maker_fee, "--maker-fee-pct", low=Decimal(0), high=HUNDRED)
            / HUNDRED,
            "taker_fee_rate": _number(taker_fee, "--taker-fee-pct", low=Decimal(0), high=HUNDRED)
            / HUNDRED,
            "slippage": _number(slippage, "--slippage-pct", low=Decimal(0), high=HUNDRED) / HUNDRED,
            "participation": _number(
                participation, "--participation-pct", low=Decimal(0), high=Decimal("1e9")
            )
            / HUNDRED,
        }
        if options["participation"] == 0:
            raise BadArgument("--participation-pct must be > 0")
        if jobs < 0:
            raise BadArgument(f"--jobs must be >= 0, got {jobs}")
        low, high = _epoch(start, "--from"), _epoch(end, "--to")
        if low is not None and high is not None and low >= high:
            raise BadArgument(f"--from {start} must be before --to {end}")
        for out in (json_out, html_out):
            if out is not None and not out.parent.is_dir():
                raise BadArgument(f"cannot write {out}: no folder {out.parent}")
        series = _load(candles)
    except (CandleFileError, BadArgument) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
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
    results, seconds = _run(chosen, budget, settings, options, jobs or default_workers())
    summary = summarize(results)
    console = Console(width=max(Console().width, 150))
    console.print(_table(summary))
    total = sum(len(data) for data in chosen.values())
    console.print(f"{total} candles in {seconds:.2f} s ({total / seconds:,.0f} candles/s)")
    described = {
        "cash": str(budget),
        "config": config.name if config is not None else "defaults",
        **{key: str(value) for key, value in options.items()},
    }
    if json_out is not None:
        document = report_json(results, summary, described)
        json_out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        console.print(f"trades and stats written to {json_out}")
    if html_out is not None:
        html_out.write_text(render_html(results, summary, described), encoding="utf-8")
        console.print(f"report written to {html_out}")


def _load(paths: list[Path] | None) -> dict[str, list[Candle]]:
    if not paths:
        return load_candle_source(None)
    series: dict[str, list[Candle]] = {}
    for path in paths:
        for pair, data in load_candle_source(path).items():
            if pair in series:
                raise BadArgument(f"{pair} is given twice (again in {path})")
            series[pair] = data
    return series


def _run(
    series: dict[str, list[Candle]],
    cash: Decimal,
    config: RatchetConfig | None,
    options: Mapping[str, Decimal],
    workers: int,
) -> tuple[dict[str, PairResult], float]:
    settings = {
        pair: config.trader_settings(pair) if config is not None else TraderSettings()
        for pair in series
    }
    started = time.perf_counter()
    columns = (TextColumn("backtesting {task.description}"), BarColumn(), MofNCompleteColumn())
    # no refresh thread (auto_refresh=False): the workers are forked from this process, and a
    # fork should not copy a thread that may hold a lock; the bar is redrawn as pairs finish
    with Progress(*columns, transient=True, auto_refresh=False) as progress:
        task = progress.add_task("", total=sum(len(data) for data in series.values()))
        progress.update(task, description=f"{len(series)} pairs")
        progress.refresh()

        def finished(pair: str, candles: int) -> None:
            progress.update(task, description=f"{pair} done", advance=candles)
            progress.refresh()

        results = run_pairs(
            series, settings, workers=workers, progress=finished, cash=cash, **options
        )
    return results, time.perf_counter() - started


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _table(summary: Summary) -> Table:
    table = Table(title="backtest", header_style="bold")
    columns = (
        "pair",
        "trades",
        "closed",
        "win rate",
        "net P&L",
        "fees",
        "max DD",
        "exposure",
        "Sharpe",
        "Sortino",
        "profit f.",
        "equity",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "pair" else "right")
    rows = [*summary.stats.items(), ("total", summary.total)]
    for index, (pair, s) in enumerate(rows):
        table.add_row(
            pair,
            str(s.trades),
            str(s.closed),
            _pct(s.win_rate),
            f"{s.net_pnl:.8f}",
            f"{s.fees:.8f}",
            _pct(s.max_drawdown),
            _pct(s.exposure),
            _ratio(s.sharpe),
            _ratio(s.sortino),
            _ratio(s.profit_factor),
            f"{s.final_equity:.8f}",
            end_section=index == len(rows) - 2,
        )
    return table
