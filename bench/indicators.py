"""Benchmark: the streaming signal path per closed candle, against TA-Lib + numpy in bulk.

What is timed (best and median of ``--reps`` runs, over every candle of the six pairs):

* ``ratchet streaming``: for each pair a fresh ``SignalEngine()``, then
  ``engine.on_candle_closed(candle)`` once per candle in time order. This is the whole live
  path: Decimal→float conversion, RSI(14), MACD(12,26,9), session VWAP and the 2-of-3 decision.
* ``talib + numpy (arrays ready)``: per pair, ``talib.RSI`` and ``talib.MACD`` over float
  arrays, a numpy session VWAP (per-day ``np.cumsum``) and the vectorised 2-of-3 rule. The
  float arrays are built beforehand and not timed.
* ``talib + numpy (incl. arrays)``: the same, plus building the float arrays from the Candle
  objects (the fair comparison with the streaming path, which converts each candle itself).

Not timed: reading the CSV files and parsing them into ``Candle`` objects. Target: the
streaming path handles at least 200,000 candles/s. The last line printed is a JSON object.

Usage: ``.venv/bin/python bench/indicators.py [--data DIR] [--reps N]``
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import talib

from ratchet.domain.candles import SECONDS_PER_DAY, Candle
from ratchet.domain.signals import SignalEngine

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "candles"
DEMO_DATA = REPO / "src" / "ratchet" / "demo_data"
FIELDS = ("open", "high", "low", "close", "volume")
TARGET_CANDLES_PER_SECOND = 200_000

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def load_pairs(data_dir: Path) -> dict[str, list[Candle]]:
    """Every ``PAIR-5m.csv`` in ``data_dir``, parsed into Candles (Decimal fields)."""
    pairs = {}
    for path in sorted(data_dir.glob("*-5m.csv")):
        with path.open(newline="") as handle:
            pairs[path.stem.removesuffix("-5m")] = [
                Candle(int(row["start"]), *(Decimal(row[name]) for name in FIELDS))
                for row in csv.DictReader(handle)
            ]
    return pairs


def to_arrays(candles: list[Candle]) -> Arrays:
    """start (int64), high, low, close, volume (float64) columns."""
    return (
        np.fromiter((c.start for c in candles), dtype=np.int64, count=len(candles)),
        np.fromiter((float(c.high) for c in candles), dtype=np.float64, count=len(candles)),
        np.fromiter((float(c.low) for c in candles), dtype=np.float64, count=len(candles)),
        np.fromiter((float(c.close) for c in candles), dtype=np.float64, count=len(candles)),
        np.fromiter((float(c.volume) for c in candles), dtype=np.float64, count=len(candles)),
    )


def streaming(pairs: dict[str, list[Candle]]) -> int:
    """Run the live path over every candle; return the number of entry signals."""
    signals = 0
    for candles in pairs.values():
        on_candle_closed = SignalEngine().on_candle_closed
        for candle in candles:
            signals += on_candle_closed(candle).enter
    return signals


def vectorised_signals(arrays: Arrays) -> int:
    """TA-Lib RSI and MACD, numpy session VWAP, and the 2-of-3 rule over whole columns."""
    start, high, low, close, volume = arrays
    rsi = talib.RSI(close, timeperiod=14)
    line, signal, _ = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    cut = np.flatnonzero(np.diff(start // SECONDS_PER_DAY)) + 1
    weighted = (high + low + close) / 3.0 * volume
    cum_weighted = np.concatenate([np.cumsum(part) for part in np.split(weighted, cut)])
    cum_volume = np.concatenate([np.cumsum(part) for part in np.split(volume, cut)])
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = cum_weighted / cum_volume  # NaN where the session has no volume yet
    defined = ~(np.isnan(rsi) | np.isnan(line) | np.isnan(vwap))
    held = (rsi < 30.0).astype(np.int8) + (line > signal) + (close > vwap)
    return int(np.count_nonzero(defined & (held >= 2)))


def time_it(run: Callable[[], int], reps: int) -> tuple[float, float, int]:
    """Best and median wall time of ``reps`` runs, and what the run returned."""
    times, result = [], 0
    for _ in range(reps):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return min(times), statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of PAIR-5m.csv files")
    parser.add_argument("--reps", type=int, default=5, help="timed runs of each (default 5)")
    args = parser.parse_args(argv)
    data_dir = args.data or (SHARED_DATA if SHARED_DATA.is_dir() else DEMO_DATA)
    pairs = load_pairs(data_dir)
    if not pairs:
        print(f"no *-5m.csv candle files in {data_dir}", file=sys.stderr)
        return 2
    reps = max(1, args.reps)
    total = sum(len(candles) for candles in pairs.values())
    arrays = [to_arrays(candles) for candles in pairs.values()]

    rows = {
        "ratchet streaming": time_it(lambda: streaming(pairs), reps),
        "talib + numpy (arrays ready)": time_it(
            lambda: sum(vectorised_signals(a) for a in arrays), reps
        ),
        "talib + numpy (incl. arrays)": time_it(
            lambda: sum(vectorised_signals(to_arrays(c)) for c in pairs.values()), reps
        ),
    }

    print(f"data: {data_dir} ({len(pairs)} pairs: {', '.join(pairs)}), {reps} reps")
    print(f"python {platform.python_version()}, numpy {np.__version__}, TA-Lib {talib.__version__}")
    header = (
        f"{'implementation':<30} {'candles':>8} {'best s':>9} {'median s':>9} {'candles/s':>12}"
    )
    print(header)
    print("-" * len(header))
    figures = {}
    for name, (best, median, signals) in rows.items():
        rate = total / best
        print(f"{name:<30} {total:>8} {best:>9.4f} {median:>9.4f} {rate:>12,.0f}")
        figures[name] = {
            "candles": total,
            "best_s": round(best, 6),
            "median_s": round(median, 6),
            "candles_per_s": round(rate),
            "signals": signals,
        }
    ours = figures["ratchet streaming"]["candles_per_s"]
    verdict = "PASS" if ours >= TARGET_CANDLES_PER_SECOND else "MISS"
    print(f"target: ratchet streaming >= {TARGET_CANDLES_PER_SECOND:,} candles/s: {verdict}")
    agree = len({row[2] for row in rows.values()}) == 1
    print(f"entry signals: {rows['ratchet streaming'][2]} (vectorised agrees: {agree})")
    print(
        json.dumps(
            {
                "data": str(data_dir),
                "pairs": len(pairs),
                "reps": reps,
                "target_candles_per_s": TARGET_CANDLES_PER_SECOND,
                "verdict": verdict,
                "signals_agree": agree,
                "results": figures,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
