"""``TraderSettings``: one pair's strategy parameters (per-pair profiles override defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from ratchet.domain.indicators import IndicatorParams
from ratchet.domain.position import TrailPolicy
from ratchet.domain.signals import SignalRules


@dataclass(frozen=True, slots=True)
class TraderSettings:
    """One pair's strategy parameters (per-pair profiles override the defaults)."""

    rules: SignalRules = field(default_factory=SignalRules)
    indicators: IndicatorParams = field(default_factory=IndicatorParams)
    trail: TrailPolicy = field(default_factory=lambda: TrailPolicy(Decimal(2)))
    entry_ttl_candles: int = 3
    dust_grace_candles: int = 3
    stop_limit_offset_pct: Decimal = Decimal("0.5")
    min_stop_interval: float = 5.0
    stranded_stop_after: float = 0.0  # chase a stop the market fell through after N s (0: never)
    stop_moves: Literal["edit", "replace"] = "edit"  # edit the resting stop, or cancel+replace
    cooldown_candles: int = 0
    sizing_fee_rate: Decimal = Decimal("0.006")
    id_prefix: str = "rt"

    def __post_init__(self) -> None:
        if self.entry_ttl_candles < 1:
            raise ValueError(f"entry_ttl_candles must be >= 1, got {self.entry_ttl_candles}")
        if not Decimal(0) <= self.stop_limit_offset_pct < Decimal(50):
            raise ValueError("stop_limit_offset_pct must be >= 0 and < 50")
        if min(self.min_stop_interval, self.stranded_stop_after) < 0:
            raise ValueError("min_stop_interval and stranded_stop_after must be >= 0")
        if self.stop_moves not in ("edit", "replace"):
            raise ValueError(f"stop_moves must be 'edit' or 'replace', got {self.stop_moves!r}")
        if self.cooldown_candles < 0 or self.dust_grace_candles < 0:
            raise ValueError("intervals, cooldown and grace must be >= 0")
