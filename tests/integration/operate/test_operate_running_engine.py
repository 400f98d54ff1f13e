"""The operator commands while an engine runs: through its web API, acted on by the engine.

A real engine trades on the simulator with its web API up and the database lock held; the
command finds the engine through the lock, logs in and asks; the engine does the work.
"""

from __future__ import annotations

from typing import Any

from ratchet.domain.order_types import OrderType
from ratchet.domain.position import PositionStatus

REASON = "test: leaving the market"


async def test_force_exit_through_the_running_engine_sells_and_is_audited_in_the_users_name(
    running: Any, ratchet: Any
) -> None:
    world, traders = running.world, running.engine.runtime.traders
    position = traders["ETH-BTC"].position
    assert position is not None and position.status is PositionStatus.OPEN
    login = {"RATCHET_USER": "root-admin", "RATCHET_PASSWORD": "correct horse battery staple 7"}

    result = await ratchet(
        world, world.args("force-exit", "ETH-BTC", "--yes", "--reason", REASON), env=login
    )
    await running.until(lambda t: t["ETH-BTC"].position is None, "the ETH-BTC position closed")

    assert result.exit_code == 0, result.output
    assert position.status is PositionStatus.CLOSED
    assert traders["LTC-BTC"].position is not None  # the other pair is left alone
    sells = [
        o
        for o in world.sim.engine.orders(product_ids=["ETH-BTC"])
        if o.order_type.value == "MARKET"
    ]
    assert [str(o.status) for o in sells] == ["FILLED"]
    [exit_order] = [
        r.order
        for r in world.orders()
        if r.order.order_type is OrderType.MARKET and r.order.product_id == "ETH-BTC"
    ]
    assert exit_order.operator_action is not None
    assert exit_order.operator_action.actor == "root-admin"
    assert exit_order.operator_action.reason == REASON
    audit = [a for a in world.audit() if a.actor == "root-admin"]
    assert any(a.action == "force_exit" and a.subject == "ETH-BTC" for a in audit)


async def test_a_wrong_password_is_refused_and_the_engine_does_nothing(
    running: Any, ratchet: Any
) -> None:
    world, traders = running.world, running.engine.runtime.traders
    login = {"RATCHET_USER": "root-admin", "RATCHET_PASSWORD": "not the password at all"}

    result = await ratchet(world, world.args("liquidate", "--yes", "--reason", REASON), env=login)
    await running.engine.runtime.drain()

    assert result.exit_code == 1
    assert all(t.position is not None and t.forced is None for t in traders.values())
    assert not [o for o in world.sim.engine.orders() if o.order_type.value == "MARKET"]
