"""What a run has done so far: counters for the dashboard, and the positions it finished."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ratchet.domain.metrics import ClosedTally
from ratchet.domain.position import Position, PositionStatus
from ratchet.ports import StateBatch


@dataclass(slots=True)
class RuntimeStats:
    """Counters for the dashboard and metrics."""

    events: int = 0
    commits: int = 0
    commands: int = 0
    ignored: int = 0


@dataclass(slots=True)
class RunHistory:
    """What this run finished: closed positions and confirmed stop moves per pair."""

    closed: list[Position] = field(default_factory=list)
    stop_moves: dict[str, int] = field(default_factory=dict)
    before: ClosedTally = field(default_factory=ClosedTally)  # closed in earlier runs

    def tally(self) -> ClosedTally:
        """Every closed round trip: earlier runs' and this run's."""
        return self.before.add(self.closed)

    def take(self, batch: StateBatch) -> None:
        """Note what a committed batch finished."""
        for position in batch.positions:
            if position.status is PositionStatus.CLOSED:
                self.closed.append(copy.copy(position))
        for change in batch.stops:
            if change.confirmed is not None:
                pair = change.position_id.partition("#")[0]
                self.stop_moves[pair] = self.stop_moves.get(pair, 0) + 1
