"""Backtest many pairs on several cores: each pair runs alone, so pairs run in parallel.

Worker processes are forked from this one, so they inherit the candles and settings as they
are in memory (nothing is copied to them); only each pair's :class:`PairResult` travels back,
without the candles' starts and closes (the parent has them and puts them back).
The results are assembled in pair order, so a run on N workers gives exactly what a run on one
gives. Where ``fork`` is not available (Windows), or with one worker, or for one pair, the
pairs simply run one after the other in this process.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from ratchet.backtest.runner import PairResult, run_pair
from ratchet.domain.candles import Candle
from ratchet.engine.settings import TraderSettings

Progress = Callable[[str, int], None]
"""Told ``(pair, candles)`` as each pair finishes."""

_WORK: dict[str, Any] = {}
"""In a worker: the candles, settings and options it was forked with."""


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """True where worker processes can be forked (Linux, the BSDs, macOS)."""
    return "fork" in multiprocessing.get_all_start_methods()


def run_pairs(
    series: Mapping[str, Sequence[Candle]],
    settings: Mapping[str, TraderSettings],
    *,
    workers: int = 1,
    progress: Progress | None = None,
    **options: Any,
) -> dict[str, PairResult]:
    """Backtest every pair of ``series`` alone (see :func:`~ratchet.backtest.runner.run_pair`),
    on up to ``workers`` processes; ``settings`` has each pair's trader settings and
    ``options`` are ``run_pair``'s keyword arguments. Results come in pair order."""
    pairs = sorted(series)
    missing = [pair for pair in pairs if pair not in settings]
    if missing:
        raise ValueError(f"no trader settings for {', '.join(missing)}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    workers = min(workers, len(pairs))
    with _heap_frozen():
        if workers > 1 and can_fork():
            return _run_forked(pairs, series, settings, progress, options, workers=workers)
        results = {}
        for pair in pairs:
            results[pair] = run_pair(pair, series[pair], settings[pair], **options)
            if progress is not None:
                progress(pair, len(series[pair]))
        return results


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """Leave every object that exists now (the candles, above all) out of the garbage
    collector's passes while the pairs run. On ten copies of the six pairs a full pass visits
    millions of them; in a forked worker each pass would also copy every page it touches.
    Nothing is done if the process froze its heap itself."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_forked(
    pairs: list[str],
    series: Mapping[str, Sequence[Candle]],
    settings: Mapping[str, TraderSettings],
    progress: Progress | None,
    options: dict[str, Any],
    *,
    workers: int,
) -> dict[str, PairResult]:
    done: dict[str, PairResult] = {}
    context = multiprocessing.get_context("fork")
    # forked workers inherit these as they are (the initializer's arguments are not pickled)
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_take_work, initargs=(series, settings, options)
    ) as pool:
        # the longest series first, so that no worker is left with a big one at the end
        order = sorted(pairs, key=lambda pair: -len(series[pair]))
        futures = {pool.submit(_run_one, pair): pair for pair in order}
        for future in as_completed(futures):
            pair = futures[future]
            done[pair] = _with_candles(future.result(), series[pair])
            if progress is not None:
                progress(pair, len(series[pair]))
    return {pair: done[pair] for pair in pairs}


def _take_work(
    series: Mapping[str, Sequence[Candle]],
    settings: Mapping[str, TraderSettings],
    options: dict[str, Any],
) -> None:
    _WORK.update(series=series, settings=settings, options=options)


def _run_one(pair: str) -> PairResult:
    candles = _WORK["series"][pair]
    result = run_pair(pair, candles, _WORK["settings"][pair], **_WORK["options"])
    if len(result.starts) == len(candles):  # one per candle: the parent has them already
        result.starts, result.closes = [], []  # (a third of what would be pickled back)
    return result


def _with_candles(result: PairResult, candles: Sequence[Candle]) -> PairResult:
    """A worker's result with the candle starts and closes it left out put back."""
    if not result.starts and candles:
        result.take_candles(candles)
    return result
