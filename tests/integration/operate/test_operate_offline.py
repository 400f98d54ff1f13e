"""cancel / force-exit / liquidate with no engine running: on the exchange and store directly.

A real engine traded on the simulator and was stopped gracefully (its stops rest on the
simulator); each command then restores the traders from the store, reconciles and acts.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

from ratchet.domain.orders import OperatorCommand
from ratchet.domain.position import PositionStatus
from ratchet.engine.offline import STOP_STAYS
from ratchet.store.lock import EngineLock

ACTOR = f"cli:{getpass.getuser()}"
REASON = "test: exchange incident"
NO_KEYS = {"CB_API_KEY": None, "CB_API_SECRET": None}


async def test_force_exit_cancels_the_stop_then_sells_at_market_and_closes_the_position(
    with_stops: Any, ratchet: Any
) -> None:
    world = with_stops
    eth_stop, ltc_stop = (
        world.resting("ETH-BTC", "STOP_LIMIT"),
        world.resting("LTC-BTC", "STOP_LIMIT"),
    )

    result = await ratchet(world, world.args("force-exit", "eth-btc", "--yes", "--reason", REASON))

    assert result.exit_code == 0, result.output
    assert "ETH-BTC: done" in result.output
    on_sim = world.sim_orders()
    assert on_sim[eth_stop][2] == "CANCELLED"
    sells = {cid: v for cid, v in on_sim.items() if v[:2] == ("MARKET", "SELL")}
    assert list(sells) == ["rt-ETH-BTC-000001-exit-1"]
    assert sells["rt-ETH-BTC-000001-exit-1"][2] == "FILLED"
    assert on_sim[ltc_stop][2] == "OPEN"  # the other pair is left alone
    assert world.positions() == {"ETH-BTC#000001": "CLOSED", "LTC-BTC#000001": "OPEN"}
    [exit_order] = [r.order for r in world.orders() if "-exit-" in r.order.client_order_id]
    assert exit_order.operator_action is not None
    assert exit_order.operator_action.command is OperatorCommand.FORCE_EXIT
    assert (exit_order.operator_action.actor, exit_order.operator_action.reason) == (ACTOR, REASON)
    operator_rows = [a for a in world.audit() if a.actor == ACTOR]
    assert {a.action for a in operator_rows} == {"force_exit"}
    assert any("market sell" in a.detail and REASON in a.detail for a in operator_rows)
    assert all(a.subject == "ETH-BTC" for a in operator_rows)
    assert EngineLock.read_holder(world.db_url) is None  # the command let go of the lock


async def test_liquidate_closes_every_position_and_reports_json(
    with_stops: Any, ratchet: Any
) -> None:
    world = with_stops

    result = await ratchet(world, world.args("liquidate", "--yes", "--json", "--reason", REASON))

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["command"], report["via"], report["ok"]) == ("liquidate", "store", True)
    assert {(o["pair"], o["status"], o["done"]) for o in report["outcomes"]} == {
        ("ETH-BTC", "CLOSED", True),
        ("LTC-BTC", "CLOSED", True),
    }
    assert world.positions(PositionStatus.OPEN) == {}
    assert set(world.positions().values()) == {"CLOSED"}
    assert not world.sim.engine.orders(statuses=["OPEN"])  # no stop left resting
    sold = [v for v in world.sim_orders().values() if v[:2] == ("MARKET", "SELL")]
    assert sold == [("MARKET", "SELL", "FILLED")] * 2
    audit = world.audit()
    assert any(a.action == "emergency liquidation" and a.actor == ACTOR for a in audit)
    liquidation_rows = [a for a in audit if a.action == "emergency_liquidation"]
    assert {a.subject for a in liquidation_rows} == {"ETH-BTC", "LTC-BTC"}


async def test_refused_and_declined_requests_change_nothing(with_stops: Any, ratchet: Any) -> None:
    world = with_stops
    before = world.snapshot()
    stop = world.resting("ETH-BTC", "STOP_LIMIT")

    # no terminal and no --yes: bad usage, nothing asked, nothing done
    piped = await ratchet(world, world.args("force-exit", "ETH-BTC"))
    assert piped.exit_code == 2
    assert "--yes" in piped.output

    # the prompt shows exactly what would happen; "n" declines
    declined = await ratchet(world, world.args("force-exit", "ETH-BTC"), input="n\n", tty=True)
    assert declined.exit_code == 1
    assert f"cancel {stop}: STOP_LIMIT SELL" in declined.output
    assert "then sell" in declined.output and "at market" in declined.output
    assert "declined: nothing was done" in declined.output

    # a stop is never cancelled on its own
    refused = await ratchet(world, world.args("cancel", stop, "--yes"))
    assert refused.exit_code == 1
    assert STOP_STAYS in refused.output

    # nothing to act on (exit 1) and malformed input (exit 2)
    unknown = await ratchet(world, world.args("cancel", "rt-ETH-BTC-000009-entry-1", "--yes"))
    assert unknown.exit_code == 1
    assert "no working order" in unknown.output
    no_position = await ratchet(world, world.args("force-exit", "ADA-BTC", "--yes"))
    assert no_position.exit_code == 1
    assert "ADA-BTC has no open position" in no_position.output
    malformed = await ratchet(world, world.args("force-exit", "ETHBTC", "--yes"))
    assert malformed.exit_code == 2
    assert "not a pair" in malformed.output
    no_keys = await ratchet(world, world.args("force-exit", "ETH-BTC", "--yes"), env=NO_KEYS)
    assert no_keys.exit_code == 2
    assert "CB_API_KEY is not set" in no_keys.output

    assert world.snapshot() == before
    assert world.sim.engine.order_by_client_id(stop).status == "OPEN"


async def test_cancel_of_a_working_entry_cancels_it_on_the_exchange_and_in_the_store(
    with_entry: Any, ratchet: Any
) -> None:
    world = with_entry
    [entry] = [
        r.order
        for r in world.orders()
        if "-entry-" in r.order.client_order_id and r.order.status.value == "OPEN"
    ][:1]
    position_id = f"{entry.product_id}#000001"

    # confirmed at the prompt, and named by its exchange order id
    result = await ratchet(
        world,
        world.args("cancel", entry.exchange_order_id or "", "--reason", REASON),
        input="y\n",
        tty=True,
    )

    assert result.exit_code == 0, result.output
    assert f"cancel the entry of {position_id}" in result.output
    assert world.sim.engine.order_by_client_id(entry.client_order_id).status == "CANCELLED"
    stored = {r.order.client_order_id: r.order.status.value for r in world.orders()}
    assert stored[entry.client_order_id] == "CANCELLED"
    assert world.positions()[position_id] == "CANCELLED"  # nothing had filled: it is over
    rows = [a for a in world.audit() if a.actor == ACTOR]
    assert [a.action for a in rows] == ["cancel"]
    assert entry.client_order_id in rows[0].detail and REASON in rows[0].detail


async def test_force_exit_of_a_position_still_waiting_for_its_entry_sells_nothing(
    with_entry: Any, ratchet: Any
) -> None:
    world = with_entry
    [entry] = [r.order for r in world.orders() if r.order.status.value == "OPEN"][:1]
    position_id = f"{entry.product_id}#000001"

    result = await ratchet(world, world.args("force-exit", entry.product_id, "--yes"))

    assert result.exit_code == 0, result.output
    assert "nothing filled: the position ends once the entry is cancelled" in result.output
    assert world.sim.engine.order_by_client_id(entry.client_order_id).status == "CANCELLED"
    assert world.positions()[position_id] == "CANCELLED"
    assert not [v for v in world.sim_orders().values() if v[0] == "MARKET"]  # nothing to sell
