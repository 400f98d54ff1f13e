"""Interpreter settings for a long-running engine process: short pauses, not throughput.

Two CPython defaults cost a live engine its tail latency, measured with ``bench/live_paper.py``
(100 pairs, ~1,000 tickers/s):

* The garbage collector's full (oldest-generation) pass scans every object alive, most of
  them made at start-up (modules, classes, settings, the hydrated state) and never freed:
  70-80 ms with the event loop stopped, a few times a minute. :func:`gc.freeze` moves what
  exists once the engine is up out of the collector's sight; the full passes then take 3-4 ms.
* The GIL switch interval (5 ms) is how long the event loop may wait for the GIL while the
  store's writer thread runs Python: a ticker read in that moment waits with it. 0.5 ms
  bounds that wait, for a small cost in switches.

Both are process-wide, so the process's owner applies them: ``ratchet run`` (and the benchmark
that stands in for it) once the engine is up.

The event loop is uvloop's (libuv) where it is installed, as it is on Linux and macOS: its
sockets, timers and callbacks cost the engine about 2 points of a core fewer at 100 pairs.
``RATCHET_EVENT_LOOP=asyncio`` runs on the standard library's loop instead (the one the
in-process tests use); :func:`run_engine` is how ``ratchet run`` starts either.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
LOOP_VARIABLE = "RATCHET_EVENT_LOOP"
"""Environment variable choosing the engine's event loop: ``uvloop`` (default) or ``asyncio``."""

SWITCH_INTERVAL = 0.0005
"""Seconds a thread waiting for the GIL waits before asking the holder to let go."""


def tune_for_latency() -> None:
    """Collect once, freeze what is alive (start-up objects), and shorten the GIL interval."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))


def event_loop_factory(
    environ: Mapping[str, str] = os.environ,
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's own loop (asked for, or uvloop missing).

    Raises:
        ValueError: ``RATCHET_EVENT_LOOP`` names neither loop.
    """
    wanted = environ.get(LOOP_VARIABLE, "uvloop").strip().lower() or "uvloop"
    if wanted not in ("uvloop", "asyncio"):
        raise ValueError(f"{LOOP_VARIABLE} must be uvloop or asyncio, got {wanted!r}")
    if wanted == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415 (optional: not on Windows)
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_engine(main: Coroutine[Any, Any, T], environ: Mapping[str, str] = os.environ) -> T:
    """Run ``main`` to its end on the engine's event loop (:func:`event_loop_factory`)."""
    with asyncio.Runner(loop_factory=event_loop_factory(environ)) as runner:
        return runner.run(main)
