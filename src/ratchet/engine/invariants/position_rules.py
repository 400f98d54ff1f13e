"""The rules about positions, stops and traders: stops never go down, one position per pair,
positions match their fills, closed positions realise the right P&L, sells stay within holdings.

Each check appends what broke to ``found`` and updates the memory of the positions it saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ratchet.domain.money import ZERO
from ratchet.domain.order_types import OrderSide
from ratchet.domain.position import Position, PositionStatus
from ratchet.engine.invariants.memory import Memory, PositionSeen, higher, is_decimal
from ratchet.engine.invariants.violation import Violation
from ratchet.ports import StateBatch, StopChange

if TYPE_CHECKING:
    from ratchet.engine.pair_trader import PairTrader

_POSITION_MONEY = (
    "quantity",
    "entry_size",
    "entry_value",
    "entry_fees",
    "exit_size",
    "exit_value",
    "exit_fees",
    "realized_pnl",
    "high_water",
    "stop",
)


def check_position(memory: Memory, position: Position, found: list[Violation]) -> None:
    """Check one committed position against its money, its stop, its fills and its status."""
    pid = position.position_id
    seen = memory.position(pid, position.pair)
    bad = [n for n in _POSITION_MONEY if getattr(position, n) is not None]
    bad = [n for n in bad if not is_decimal(getattr(position, n))]
    if bad:
        found.append(Violation("decimal-only", pid, f"not a finite Decimal: {bad}"))
        return
    if seen.status.is_final and position.status is not seen.status:
        found.append(
            Violation(
                "terminal-is-final", pid, f"reopened: {seen.status.name} -> {position.status}"
            )
        )
    if position.stop is not None:
        if seen.max_desired is not None and position.stop < seen.max_desired:
            found.append(
                Violation(
                    "stop-never-down", pid, f"stop {position.stop} < earlier {seen.max_desired}"
                )
            )
        seen.max_desired = higher(seen.max_desired, position.stop)
    _check_sums(position, seen, found)
    if position.status is PositionStatus.CLOSED:
        _check_closed(position, found)
    seen.status, seen.quantity = position.status, position.quantity
    seen.entry_filled = max(seen.entry_filled, position.entry_size)


def _check_sums(position: Position, seen: PositionSeen, found: list[Violation]) -> None:
    for side, size, value, fees in (
        (OrderSide.BUY, position.entry_size, position.entry_value, position.entry_fees),
        (OrderSide.SELL, position.exit_size, position.exit_value, position.exit_fees),
    ):
        fills = seen.fills[side]
        sums = (
            sum((f.size for f in fills), ZERO),
            sum((f.value for f in fills), ZERO),
            sum((f.fee for f in fills), ZERO),
        )
        if (size, value, fees) != sums:
            found.append(
                Violation(
                    "position-matches-fills",
                    position.position_id,
                    f"{side.name} size/value/fees {size}/{value}/{fees} but its "
                    f"{len(fills)} committed fills sum to {sums[0]}/{sums[1]}/{sums[2]}",
                )
            )


def _check_closed(position: Position, found: list[Violation]) -> None:
    pid = position.position_id
    expected = position.exit_value - position.exit_fees - position.entry_value - position.entry_fees
    if position.realized_pnl != expected:
        found.append(
            Violation("realized-pnl", pid, f"realised {position.realized_pnl} != {expected}")
        )
    if position.quantity != ZERO or position.exit_size != position.entry_size:
        found.append(
            Violation(
                "realized-pnl",
                pid,
                f"closed holding {position.quantity} (bought {position.entry_size}, "
                f"sold {position.exit_size})",
            )
        )


def check_stop_change(memory: Memory, change: StopChange, found: list[Violation]) -> None:
    """Check that a committed stop change lowers neither the desired nor the confirmed stop."""
    pid = change.position_id
    seen = memory.positions.get(pid)
    if seen is None:
        seen = memory.position(pid, pid.partition("#")[0])
    for name in ("desired", "confirmed"):
        level = getattr(change, name)
        if level is not None and not is_decimal(level):
            found.append(Violation("decimal-only", pid, f"stop change {name}={level!r}"))
            return
    if seen.max_desired is not None and change.desired < seen.max_desired:
        found.append(
            Violation(
                "stop-never-down",
                pid,
                f"desired stop {change.desired} < earlier {seen.max_desired} ({change.reason})",
            )
        )
    seen.max_desired = higher(seen.max_desired, change.desired)
    confirmed = change.confirmed
    if confirmed is not None:
        if seen.max_confirmed is not None and confirmed < seen.max_confirmed:
            found.append(
                Violation(
                    "stop-never-down",
                    pid,
                    f"confirmed stop {confirmed} < earlier {seen.max_confirmed} "
                    f"({change.client_order_id}, {change.reason})",
                )
            )
        seen.max_confirmed = higher(seen.max_confirmed, confirmed)


def check_one_per_pair(memory: Memory, batch: StateBatch, found: list[Violation]) -> None:
    """Check that each pair the batch touched has at most one position that is not final."""
    pairs = {p.pair for p in batch.positions}
    for pair in sorted(pairs):
        live = sorted(
            pid
            for pid, seen in memory.positions.items()
            if seen.pair == pair and not seen.status.is_final
        )
        if len(live) > 1:
            found.append(
                Violation("one-position-per-pair", pair, f"open at once: {', '.join(live)}")
            )


def check_sells_within_holdings(memory: Memory, batch: StateBatch, found: list[Violation]) -> None:
    """Check that the working sells of each position the batch touched fit what it holds."""
    touched = {r.position_id for r in batch.orders} | {p.position_id for p in batch.positions}
    for pid in sorted(touched):
        position = memory.positions.get(pid)
        if position is None:
            continue
        sells = [
            (cid, seen.remaining)
            for cid, seen in memory.orders.items()
            if seen.position_id == pid
            and seen.side is OrderSide.SELL
            and not seen.status.is_terminal
        ]
        working = sum((remaining for _, remaining in sells), ZERO)
        if working > position.quantity:
            names = ", ".join(f"{cid} ({remaining})" for cid, remaining in sells)
            found.append(
                Violation(
                    "spot-only",
                    pid,
                    f"sells for {working} working, {position.quantity} held: {names}",
                )
            )


def check_trader(memory: Memory, trader: PairTrader, found: list[Violation]) -> None:
    """Check a trader's live position, stops and working sells against what was committed."""
    position = trader.position
    if position is None:
        return
    pid = position.position_id
    seen = memory.positions.get(pid)
    others = [
        other
        for other_id, other in memory.positions.items()
        if other_id != pid and other.pair == trader.pair and not other.status.is_final
    ]
    if others and not position.status.is_final:
        found.append(
            Violation("one-position-per-pair", pid, "the trader holds it while another is open")
        )
    if seen is None:
        return
    stops = trader.stops
    for what, level, highest in (
        ("position stop", position.stop, seen.max_desired),
        ("desired stop", stops.desired, seen.max_desired),
        ("confirmed stop", stops.confirmed, seen.max_confirmed),
    ):
        if level is not None and highest is not None and level < highest:
            found.append(
                Violation("stop-never-down", pid, f"the trader's {what} {level} < {highest}")
            )
    working_sells = [o for o in trader.orders() if o.side is OrderSide.SELL and o.is_working]
    if working_sells and position.entry_size <= ZERO and seen.entry_filled <= ZERO:
        cids = ", ".join(o.client_order_id for o in working_sells)
        found.append(Violation("no-exit-before-entry", pid, f"sells working before a fill: {cids}"))
