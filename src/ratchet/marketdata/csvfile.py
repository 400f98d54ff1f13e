"""Read candle CSV files (``start,open,high,low,close,volume``) into domain candles.

A malformed file raises :class:`CandleFileError` naming the file, the line and the field, so a
user sees exactly what to fix; nothing is half-read silently.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from ratchet.domain.candles import CANDLE_SECONDS, Candle, CandleError

COLUMNS = ("start", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class CandleFileError(ValueError):
    """A candle file that cannot be read: where (file, line, field) and why."""

    path: str
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.problem}"


def read_candles(path: Path | str) -> list[Candle]:
    """All candles of a CSV file, checked: header, numbers, OHLC order, ascending aligned starts."""
    return list(iter_candles(path))


def iter_candles(path: Path | str) -> Iterator[Candle]:
    """Candles of a CSV file one by one (see :func:`read_candles`)."""
    name = str(path)
    try:
        handle = Path(path).open(newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CandleFileError(name, 0, "", f"cannot open: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CandleFileError(name, 1, "", f"not a CSV file: {exc}") from None
        if header is None:
            raise CandleFileError(name, 1, "", "the file is empty (expected a header line)")
        header = [column.strip().lower() for column in header]
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise CandleFileError(
                name, 1, missing[0], f"missing column (header must have {', '.join(COLUMNS)})"
            )
        index = [header.index(column) for column in COLUMNS]
        previous = -1
        line = 1
        try:
            for line, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                candle = _parse_row(name, line, row, index)
                if candle.start <= previous:
                    raise CandleFileError(
                        name, line, "start", f"{candle.start} is not after the previous {previous}"
                    )
                previous = candle.start
                yield candle
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CandleFileError(name, line, "", f"unreadable line: {exc}") from None


def _parse_row(name: str, line: int, row: list[str], index: list[int]) -> Candle:
    if len(row) < len(index) or len(row) <= max(index):
        raise CandleFileError(name, line, "", f"expected {len(COLUMNS)} fields, got {len(row)}")
    cells = [row[i].strip() for i in index]
    start_text = cells[0]
    if not start_text.isdigit():
        raise CandleFileError(name, line, "start", f"expected Unix seconds, got {start_text!r}")
    start = int(start_text)
    if start % CANDLE_SECONDS:
        raise CandleFileError(
            name, line, "start", f"{start} is not on a {CANDLE_SECONDS}-second boundary"
        )
    numbers: list[Decimal] = []
    for column, text in zip(COLUMNS[1:], cells[1:], strict=True):
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise CandleFileError(name, line, column, f"expected a number, got {text!r}") from None
        if not value.is_finite():
            raise CandleFileError(name, line, column, f"expected a finite number, got {text!r}")
        numbers.append(value)
    open_, high, low, close, volume = numbers
    problem = _ohlcv_problem(open_, high, low, close, volume)
    if problem:
        raise CandleFileError(name, line, *problem)
    try:
        return Candle(start, open_, high, low, close, volume)
    except CandleError as exc:  # pragma: no cover - the checks above are the same rules
        raise CandleFileError(name, line, "", str(exc)) from None


def _ohlcv_problem(
    open_: Decimal, high: Decimal, low: Decimal, close: Decimal, volume: Decimal
) -> tuple[str, str] | None:
    """The first field that breaks a candle's rules, and why (None: the row is sound)."""
    if low <= 0:
        return "low", f"prices must be > 0, got {low}"
    if high < max(open_, close, low):
        return "high", f"{high} is below open/close/low ({open_}/{close}/{low})"
    if low > min(open_, close):
        return "low", f"{low} is above open/close ({open_}/{close})"
    if volume < 0:
        return "volume", f"must be >= 0, got {volume}"
    return None


def demo_candle_files() -> list[Path]:
    """The bundled demo files (``PAIR-5m.csv``), sorted by pair."""
    folder = resources.files("ratchet") / "demo_data"
    return sorted(Path(str(item)) for item in folder.iterdir() if item.name.endswith("-5m.csv"))


def pair_of(path: Path) -> str:
    """The product id a file is named after: ``ETH-BTC-5m.csv`` → ``ETH-BTC``."""
    stem = path.name.removesuffix(".csv")
    return stem.removesuffix("-5m") if stem.endswith("-5m") else stem
