"""Protections: pauses of new entries after a run of losses (pure; the engine asks before entries).

* Stop-loss guard: ``stoploss_trades`` losing exits within ``stoploss_window`` seconds pause new
  entries for ``stoploss_pause`` seconds.
* Max-drawdown lock: when realised P&L has fallen ``max_drawdown_pct`` percent of the capital
  below its best level, new entries stop for ``drawdown_lock`` seconds.

Each returns the reason it blocks, so the engine can log and audit it. Exits, stops and open
positions are never touched: a protection only holds back new risk.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from ratchet.domain.money import ZERO

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class ProtectionConfig:
    """Thresholds of the protections (``enabled=False`` turns both off)."""

    enabled: bool = True
    stoploss_trades: int = 4
    stoploss_window: float = 6 * 3600.0
    stoploss_pause: float = 2 * 3600.0
    max_drawdown_pct: Decimal = Decimal(5)
    drawdown_lock: float = 12 * 3600.0

    def __post_init__(self) -> None:
        if self.stoploss_trades < 1 or min(self.stoploss_window, self.stoploss_pause) <= 0:
            raise ValueError("stop-loss guard needs trades >= 1 and a positive window and pause")
        if not ZERO < self.max_drawdown_pct <= HUNDRED or self.drawdown_lock <= 0:
            raise ValueError("max_drawdown_pct must be in (0, 100] with a positive lock")


class Protections:
    """Tracks exits and says whether (and why) new entries must wait."""

    def __init__(self, config: ProtectionConfig, capital: Decimal) -> None:
        self.config = config
        self._capital = capital
        self._losses: deque[float] = deque()
        self._realized = ZERO
        self._best = ZERO
        self._paused_until = float("-inf")
        self._pause_reason = ""

    def record_exit(self, realized_pnl: Decimal, now: float) -> str | None:
        """Count a closed position; return the reason when this exit starts a pause."""
        config = self.config
        self._realized += realized_pnl
        self._best = max(self._best, self._realized)
        if not config.enabled:
            return None
        if realized_pnl < ZERO:
            self._losses.append(now)
        while self._losses and self._losses[0] < now - config.stoploss_window:
            self._losses.popleft()
        if len(self._losses) >= config.stoploss_trades:
            self._losses.clear()
            return self._pause(
                now + config.stoploss_pause,
                f"stop-loss guard: {config.stoploss_trades} losing exits within "
                f"{config.stoploss_window / 3600:g} h",
            )
        drawdown = (self._best - self._realized) * HUNDRED / self._capital
        if drawdown >= config.max_drawdown_pct:
            self._best = self._realized  # the lock is the answer to this drawdown
            return self._pause(
                now + config.drawdown_lock,
                f"max-drawdown lock: realised P&L {drawdown:.2f}% of capital below its best",
            )
        return None

    def entry_block(self, now: float) -> str | None:
        """Why a new entry must wait now, or None."""
        if now < self._paused_until:
            return f"{self._pause_reason} (entries paused for {self._paused_until - now:.0f} s)"
        return None

    def _pause(self, until: float, reason: str) -> str:
        if until > self._paused_until:
            self._paused_until, self._pause_reason = until, reason
        return reason
