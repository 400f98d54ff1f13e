"""Protections pause new entries after a run of losses, exactly at their thresholds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ratchet.domain.protections import ProtectionConfig, Protections

D = Decimal
HOUR = 3600.0


def guard(**overrides: object) -> Protections:
    config = ProtectionConfig(**overrides)  # type: ignore[arg-type]
    return Protections(config, D(10_000))


def test_the_nth_loss_within_the_window_pauses_entries_for_the_pause() -> None:
    # Arrange
    p = guard(
        stoploss_trades=3, stoploss_window=HOUR, stoploss_pause=2 * HOUR, max_drawdown_pct=D(50)
    )
    # Act
    assert p.record_exit(D(-1), 0) is None
    assert p.record_exit(D(-1), 100) is None
    reason = p.record_exit(D(-1), 200)
    # Assert
    assert reason is not None and "stop-loss guard" in reason
    assert p.entry_block(200 + 2 * HOUR - 1) is not None
    assert p.entry_block(200 + 2 * HOUR) is None


def test_losses_outside_the_window_do_not_count() -> None:
    p = guard(stoploss_trades=2, stoploss_window=HOUR, max_drawdown_pct=D(50))
    p.record_exit(D(-1), 0)
    assert p.record_exit(D(-1), HOUR + 1) is None
    assert p.entry_block(HOUR + 2) is None


def test_wins_do_not_count_as_stop_outs() -> None:
    p = guard(stoploss_trades=2, max_drawdown_pct=D(50))
    p.record_exit(D(-1), 0)
    assert p.record_exit(D(5), 10) is None
    assert p.entry_block(11) is None


@pytest.mark.parametrize(("loss", "locked"), [("-499.99", False), ("-500", True)])
def test_drawdown_lock_starts_at_its_threshold(loss: str, locked: bool) -> None:
    # 5 % of 10,000 below the best realised level
    p = guard(stoploss_trades=100, max_drawdown_pct=D(5), drawdown_lock=HOUR)
    p.record_exit(D(200), 0)
    p.record_exit(D(loss), 10)  # from +200 down by |loss|
    assert (p.entry_block(11) is not None) is locked


def test_disabled_protections_never_block() -> None:
    p = guard(enabled=False, stoploss_trades=1)
    assert p.record_exit(D(-10_000), 0) is None
    assert p.entry_block(1) is None


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(ValueError):
        ProtectionConfig(stoploss_trades=0)
    with pytest.raises(ValueError):
        ProtectionConfig(max_drawdown_pct=D(0))
