"""cancel / force-exit / liquidate while an engine runs: they go through its web API.

Another process holds the database's lock, as a running engine does. With a web URL in its
lock info the command logs in there and asks (tested against a fake of the web API on
127.0.0.1: the real server's end-to-end test lives with the web server); without one it stops
with a clear message. Either way the command itself changes nothing in the store or on the
exchange.
"""

from __future__ import annotations

from typing import Any

LOGIN = {"RATCHET_USER": "alice", "RATCHET_PASSWORD": "s3cret-pass"}


async def test_force_exit_and_liquidate_are_sent_to_the_running_engine_with_cookie_and_csrf(
    with_stops: Any, ratchet: Any, hold_lock: Any, fake_engine: Any
) -> None:
    world = with_stops
    before = world.snapshot()
    holder = hold_lock(world.db_url, fake_engine.url)

    force = await ratchet(
        world, world.args("force-exit", "ETH-BTC", "--yes", "--reason", "news"), env=LOGIN
    )
    liquidate = await ratchet(
        world, world.args("liquidate", "--yes", "--reason", "weekend"), env=LOGIN
    )

    assert force.exit_code == 0, force.output
    assert liquidate.exit_code == 0, liquidate.output
    assert f"pid {holder.pid}" in force.output and fake_engine.url in force.output
    logins = [s for s in fake_engine.seen if s.path == "/api/login"]
    assert [s.body for s in logins] == [{"username": "alice", "password": "s3cret-pass"}] * 2
    calls = [s for s in fake_engine.seen if s.path != "/api/login"]
    assert [(s.path, s.body) for s in calls] == [
        ("/api/positions/ETH-BTC/force-exit", {"reason": "news"}),
        ("/api/liquidate", {"confirm": "LIQUIDATE", "reason": "weekend"}),
    ]
    assert all(s.cookie == fake_engine.SESSION and s.csrf == fake_engine.TOKEN for s in calls)
    assert world.snapshot() == before  # the engine acts, not the command


async def test_the_engines_refusals_become_clear_messages_and_exit_1(
    with_stops: Any, ratchet: Any, hold_lock: Any, fake_engine: Any
) -> None:
    world = with_stops
    hold_lock(world.db_url, fake_engine.url)
    args = world.args("force-exit", "ETH-BTC", "--yes")
    cases = {
        401: ({**LOGIN, "RATCHET_PASSWORD": "wrong"}, "wrong user name or password"),
        403: (LOGIN, "forbidden: your role may not do this"),
        404: (LOGIN, "not found (HTTP 404): no such pair"),
        409: (LOGIN, "refused by the engine (HTTP 409): ETH-BTC is already exiting"),
    }
    fake_engine.answer("/force-exit", 403, {"error": "viewer role"})

    for status, (env, message) in cases.items():
        if status == 404:
            fake_engine.answer("/force-exit", 404, {"error": "no such pair"})
        if status == 409:
            fake_engine.answer("/force-exit", 409, {"error": "ETH-BTC is already exiting"})
        result = await ratchet(world, args, env=env)

        assert result.exit_code == 1, (status, result.output)
        assert message in result.output, (status, result.output)
        assert f"HTTP {status}" in result.output


async def test_cancel_goes_to_the_engine_and_a_login_is_asked_for_at_the_terminal(
    with_entry: Any, ratchet: Any, hold_lock: Any, fake_engine: Any
) -> None:
    world = with_entry
    [entry] = [r.order for r in world.orders() if r.order.status.value == "OPEN"][:1]
    hold_lock(world.db_url, fake_engine.url)

    # confirm, then the user name and the password at the prompts
    result = await ratchet(
        world,
        world.args("cancel", entry.client_order_id, "--reason", "stale"),
        input="y\nalice\ns3cret-pass\n",
        tty=True,
    )

    assert result.exit_code == 0, result.output
    [call] = [s for s in fake_engine.seen if s.path != "/api/login"]
    assert call.path == f"/api/orders/{entry.client_order_id}/cancel"
    assert call.body == {"reason": "stale"}
    assert (call.cookie, call.csrf) == (fake_engine.SESSION, fake_engine.TOKEN)
    stored = {r.order.client_order_id: r.order.status.value for r in world.orders()}
    assert stored[entry.client_order_id] == "OPEN"  # the engine cancels it, not the command


async def test_an_engine_without_a_web_api_is_named_and_nothing_is_done(
    with_stops: Any, ratchet: Any, hold_lock: Any
) -> None:
    world = with_stops
    before = world.snapshot()
    holder = hold_lock(world.db_url, None)

    result = await ratchet(world, world.args("liquidate", "--yes"))

    assert result.exit_code == 1
    assert f"an engine is running (pid {holder.pid})" in result.output
    assert world.snapshot() == before
