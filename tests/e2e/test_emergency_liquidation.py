"""Emergency liquidation end to end: the loss threshold passed, every position sold, once.

Paper trading on the simulator over sockets with a liquidation threshold so tight that the
first loss (an open position's fees already make one) passes it: the runtime force-exits every
pair in the name of ``engine:risk`` (market sells carrying the operator action), audits it
once, and opens nothing afterwards; no pair ends holding a position nobody is selling.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml

from ratchet.cli.run import paper_trade
from ratchet.config import load_config
from ratchet.domain.order_types import OperatorCommand, OrderSide, OrderType
from ratchet.engine.risk_watch import RISK_ACTOR
from ratchet.marketdata.csvfile import demo_candle_files, pair_of, read_candles
from ratchet.memory_store import MemoryStore


async def test_a_loss_past_the_threshold_liquidates_everything_once_and_halts_entries(
    tmp_path: Path,
) -> None:
    config_file = tmp_path / "liquidate.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "portfolio": {
                    "total_capital": 10,
                    "max_position_size_pct": 10,
                    "emergency_liquidation_enabled": True,
                    "emergency_liquidation_loss_pct": -0.0001,
                },
                "protections": {"enabled": False},
            }
        ),
        encoding="utf-8",
    )
    files = [f for f in demo_candle_files() if pair_of(f) in ("ETH-BTC", "TRX-BTC", "XLM-BTC")]
    series = {pair_of(f): read_candles(f)[:300] for f in files}

    runtime = await paper_trade(
        series,
        speed=16_000,
        cash=Decimal(10),
        show_dashboard=False,
        state=None,
        config=load_config(config_file),
    )

    store = runtime.store
    assert isinstance(store, MemoryStore)
    assert runtime.risk.liquidated
    liquidations = [a for a in store.audit if a.action == "emergency liquidation"]
    assert len(liquidations) == 1 and liquidations[0].actor == RISK_ACTOR
    when = liquidations[0].time
    # what was held then is sold at market (what was only being bought is cancelled): the
    # replay may be between entries when the timer looks, so there may be no market sell
    market = [r.order for r in store.orders.values() if r.order.order_type is OrderType.MARKET]
    for order in market:
        assert order.side is OrderSide.SELL
        assert order.operator_action is not None
        assert order.operator_action.command is OperatorCommand.EMERGENCY_LIQUIDATION
        assert order.operator_action.actor == RISK_ACTOR
    entries_after = [
        r
        for r in store.orders.values()
        if "-entry-" in r.order.client_order_id and r.created_at > when
    ]
    assert not entries_after, "no entry after an emergency liquidation"
    assert all(
        trader.position is None or trader.forced is not None for trader in runtime.traders.values()
    )
