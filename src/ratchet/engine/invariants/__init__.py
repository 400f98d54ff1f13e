"""The trading rules of DESIGN.md §2, checked on the engine's state after every committed step.

:class:`InvariantChecker` watches what the engine commits (each :class:`~ratchet.ports.StateBatch`)
and, optionally, the traders' live state, and remembers what it needs (per order, per position)
to check rules that span steps. :class:`CheckingStore` wraps any :class:`~ratchet.ports.Store`
with one, so a running engine is checked after every decision without knowing it.

=======================  ===========================================================================
rule                     what must hold
=======================  ===========================================================================
stop-never-down          per position the desired stop (``Position.stop``, ``StopChange.desired``,
                         the keeper's ``desired``) and the confirmed stop (``StopChange.confirmed``,
                         the keeper's ``confirmed``) never go down; a new stop order never rests
                         below the highest stop the exchange confirmed; an edit never lowers a
                         stop order's stop price
no-exit-before-entry     no sell order (stop or exit) and no exit fill before the entry has a fill
market-needs-operator    no market order without an :class:`OperatorAction` (and only sells)
limit-buy-entries        every buy is a limit order
one-position-per-pair    at most one position per pair that is not final; the trader holds it
decimal-only             every price, size, value and fee is a finite ``Decimal`` (never a float)
increments               order prices on the price increment, sizes on the base increment and
                         at least the minimum size
client-order-id-unique   a client_order_id always names the same order (same position, product,
                         side, type, operator action) and one exchange order only
edit-only-when-working   an order's terms (size, limit and stop price) change only while it works
                         on the exchange (open, with its exchange id), and stay above its fills
write-ahead              an order is first committed as an intent (INITIALIZED), before any send
realized-pnl             a closed position holds nothing, sold what it bought, and its realised
                         P&L is exit value − exit fees − entry value − entry fees
position-matches-fills   a position's entry/exit size, value and fees are the sums of its fills
spot-only                the sells working for a position never exceed what it holds
terminal-is-final        an order never leaves a terminal status (a cancelled or expired order
                         whose late fills complete it becomes FILLED, nothing else), its filled
                         size never shrinks, and a final position never reopens
=======================  ===========================================================================

Violations are collected (:attr:`InvariantChecker.violations`) with the position or order they
concern; ``strict=True`` raises :class:`InvariantViolation` at the first one instead.

Modules: :mod:`.checker` runs the rules over a batch, :mod:`.order_rules` and
:mod:`.position_rules` are the rules, :mod:`.memory` is what they remember between steps,
:mod:`.violation` what they report, and :mod:`.store` the checking Store wrapper.
"""

from ratchet.engine.invariants.checker import InvariantChecker
from ratchet.engine.invariants.store import CheckingStore
from ratchet.engine.invariants.violation import InvariantViolation, Violation

__all__ = ["CheckingStore", "InvariantChecker", "InvariantViolation", "Violation"]
