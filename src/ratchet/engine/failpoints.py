"""Failpoints: named places where a crash test can make the engine die on the spot.

``RATCHET_FAILPOINT=name`` (with ``RATCHET_FAILPOINT_SKIP=N`` to let N hits pass first) makes
:func:`hit` SIGKILL the process at that place — no cleanup, no flush, as a power cut or an
OOM kill would. Unset (always, in production) a hit costs one dictionary look-up.

=================  ============================================================================
name               where
=================  ============================================================================
after_intent       an order's intent is committed, the order is not sent yet
after_send         the exchange accepted the order, the ack is not processed yet
after_fill         an entry fill is committed, the stop it calls for is not placed yet
during_replace     the old stop is cancelled, the new one is not placed yet
during_edit        the exchange accepted a stop's edit, the answer is not processed yet
=================  ============================================================================
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def hit(name: str) -> None:
    """Die here if the environment asks for this failpoint (and its skip count is used up)."""
    if os.environ.get("RATCHET_FAILPOINT") != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] > int(os.environ.get("RATCHET_FAILPOINT_SKIP", "0")):
        os.kill(os.getpid(), signal.SIGKILL)
