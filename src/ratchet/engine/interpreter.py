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
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL = 0.0005
"""Seconds a thread waiting for the GIL waits before asking the holder to let go."""


def tune_for_latency() -> None:
    """Collect once, freeze what is alive (start-up objects), and shorten the GIL interval."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
