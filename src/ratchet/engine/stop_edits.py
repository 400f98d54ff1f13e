"""How a stop moves by an edit of the resting order: a mixin of
:class:`~ratchet.engine.stops.StopKeeper`.

The edit is sent with the new terms; the order keeps protecting at its old level until the
exchange answers. Applied: the order takes the new terms and the stop is confirmed there (no
unprotected time). Refused, or its outcome unknown: the keeper moves the stop by cancel and
replace instead, and after ``EDIT_REFUSALS_MAX`` refusals in a row it stops trying edits. A
refusal that only says the market moved under the edit (``MARKET_MOMENT_REFUSALS``: the stop
triggered, the price fell below the new stop, a fill came first) does not count towards those:
the next edit may well pass.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from ratchet.domain.order_types import OrderStatus
from ratchet.domain.orders import Amended, Order, OrderError
from ratchet.engine import messages as m

if TYPE_CHECKING:
    from collections.abc import Callable

    from ratchet.domain.money import Product
    from ratchet.domain.position import Position
    from ratchet.engine.settings import TraderSettings

    NewOrder = Callable[..., Order]

EDIT_REFUSALS_MAX = 3  # refused stop edits in a row before a pair moves its stops by replace
MARKET_MOMENT_REFUSALS = (
    "CANNOT_EDIT_STOP_PRICE_FOR_TRIGGERED_ORDER",
    "ONLY_OPEN_ORDERS_CAN_BE_EDITED",
    "PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE",
    "PREVIEW_STOP_PRICE_BELOW_LAST_TRADE_PRICE",
    "CANNOT_EDIT_TO_BELOW_FILLED_SIZE",
    "EDIT_REQUEST_EQUAL_TO_ORIGINAL_REQUEST",
    "INVALID_EDITED_LIMIT_PRICE_POST_ONLY",
)
"""Exchange reasons for a refused edit that are about this moment's market or order state, not
about whether such edits work at all (Coinbase's ``edit_failure_reason`` /
``preview_failure_reason`` values)."""


def says_edits_unsupported(reason: str) -> bool:
    """True unless the refusal's reason is one of :data:`MARKET_MOMENT_REFUSALS` (an unknown
    reason, a timeout or an error counts: three in a row and the pair stops trying edits)."""
    return not any(code in reason for code in MARKET_MOMENT_REFUSALS)


class _Edit(NamedTuple):
    """An edit of the stop under way: which order, and when it was sent."""

    client_order_id: str
    sent_at: float


class StopEdits:
    """Moving the stop by editing it in place (see the module docstring)."""

    if TYPE_CHECKING:
        order: Order | None
        desired: Decimal | None
        unprotected: list[float]
        _product: Product
        _settings: TraderSettings
        _last_replace: float
        _edit_refusals: int

        def maybe_replace(
            self, position: Position, now: float, d: m.Decision, new_order: NewOrder
        ) -> None: ...
        def _limit_for(self, stop: Decimal) -> Decimal: ...
        def _current_changed(
            self, order: Order, position: Position, now: float, d: m.Decision, new_order: NewOrder
        ) -> None: ...
        @staticmethod
        def _record(order: Order, position: Position, now: float, d: m.Decision) -> None: ...
        def _audit(self, d: m.Decision, now: float, action: str, detail: str) -> None: ...

    def _forget_edits(self) -> None:
        """No edit under way (a new position, or none)."""
        self._editing: _Edit | None = None  # an edit of the stop sent, not yet answered
        self._no_edit = ""  # the stop whose edit was refused: it moves by cancel and replace

    @property
    def editing(self) -> bool:
        """True while an edit of the current stop waits for the exchange's answer."""
        editing, order = self._editing, self.order
        return (
            editing is not None
            and order is not None
            and order.client_order_id == editing.client_order_id
        )

    def _edit(self, current: Order, position: Position, now: float, d: m.Decision) -> bool:
        """Move the stop by editing it in place, when that is possible; False: it is not."""
        size = self._product.sell_size(position.quantity)
        if (
            self._settings.stop_moves != "edit"
            or self._edit_refusals >= EDIT_REFUSALS_MAX
            or current.client_order_id == self._no_edit
            or current.status is not OrderStatus.OPEN
            or current.filled_size
            or current.exchange_order_id is None
            or self.desired is None
            or not self._product.can_carry_order(size)
        ):
            return False
        terms = Amended(size, self._limit_for(self.desired), self.desired)
        self._editing = _Edit(current.client_order_id, now)
        d.commands.append(m.EditOrder(current, terms))
        return True

    def on_edit_answered(
        self,
        answer: m.EditAnswered,
        position: Position,
        now: float,
        d: m.Decision,
        new_order: NewOrder,
    ) -> None:
        """The exchange applied the edit (the stop rests at its new level), or did not (the
        stop moves by cancel and replace instead)."""
        editing, order = self._editing, self.order
        if editing is None or editing.client_order_id != answer.client_order_id:
            return
        self._editing = None
        if order is None or order.client_order_id != answer.client_order_id:
            return  # cancelled meanwhile (an operator's exit, a stranded stop): nothing to move
        if answer.success:
            self._edit_refusals = 0
            self._last_replace = editing.sent_at
            try:
                applied = order.allows(answer.terms) and order.apply(answer.terms)
            except OrderError as exc:  # e.g. a fill overtook the edit: the exchange has the say
                self._audit(d, now, "stop edit conflict", f"{order.client_order_id}: {exc}")
                applied = False
            if applied:
                self._record(order, position, now, d)
                self.unprotected.append(0.0)  # it protected at its old level until now
                self._current_changed(order, position, now, d, new_order)
            return
        counted = says_edits_unsupported(answer.reason)
        if counted:
            self._edit_refusals += 1
        self._no_edit = order.client_order_id
        more = (
            f"; {EDIT_REFUSALS_MAX} in a row: this pair's stops move by cancel and replace"
            if counted and self._edit_refusals == EDIT_REFUSALS_MAX
            else ""
        )
        self._audit(
            d,
            now,
            "stop edit refused",
            f"{order.client_order_id}: {answer.reason or 'refused'}; cancel and replace{more}",
        )
        self.maybe_replace(position, now, d, new_order)
