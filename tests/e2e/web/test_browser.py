"""The web GUI in a real headless Chromium against the real engine on the simulator:
log in, watch live prices move, place an entry, see it, cancel it, log out (screenshots)."""

from __future__ import annotations

import asyncio
import json
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from ratchet.domain.order_types import OrderSide, OrderStatus, OrderType
from ratchet.store.queries import audit_entries, list_orders

Stack = Any  # the fixture's type (see conftest.py)
TIMEOUT = 15_000  # ms


def _entry_for(stack: Stack) -> tuple[str, str, str]:
    """An idle pair, a limit price 20 % under the market and a size worth ~0.1 BTC."""
    for view in stack.engine.control.pairs():
        if view.status == "idle" and view.last_price is not None:
            price = (view.last_price * Decimal("0.8")).quantize(
                view.price_increment, rounding=ROUND_DOWN
            )
            size = max(
                view.base_min_size,
                (Decimal("0.1") / price).quantize(view.base_increment, rounding=ROUND_DOWN),
            )
            return view.pair, str(price), str(size)
    raise AssertionError("no idle pair to enter")


async def test_log_in_watch_prices_place_and_cancel_an_entry_log_out(
    stack: Stack, browser: Any, artifacts: Path, until: Any
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    network_401 = "Failed to load resource"  # a wrong password's and a logged-out check's 401

    def console(message: Any) -> None:
        if message.type == "error" and network_401 not in message.text:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(stack.web.url)
    await page.evaluate(  # an injected inline script must not run: the CSP holds
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.inlineRan = true'; document.head.append(s); }"
    )
    assert await page.evaluate("() => window.inlineRan === undefined")
    problems.clear()  # the browser reports that refusal as a console error

    # log in
    await page.wait_for_selector("#login-view:not([hidden])", timeout=TIMEOUT)
    await page.fill("#login-username", "otto")
    await page.fill("#login-password", "wrong-password-1")
    await page.click("#login-form button[type=submit]")
    await until(page, "() => document.querySelector('#login-error').textContent.includes('wrong')")
    await page.fill("#login-password", "operator-pass-9902")
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#dashboard-view:not([hidden])", timeout=TIMEOUT)
    assert await page.inner_text("#whoami") == "otto (operator)"
    await page.wait_for_selector("#connection[data-state=online]", timeout=TIMEOUT)

    # live prices move (the simulator replays real candles)
    cells = "#pairs-table tbody td.live-price"
    await page.wait_for_selector(cells, timeout=TIMEOUT)
    first = await page.eval_on_selector_all(cells, "cells => cells.map(c => c.textContent)")
    await until(
        page,
        f"(before) => JSON.stringify([...document.querySelectorAll('{cells}')]"
        ".map(c => c.textContent)) !== before",
        json.dumps(first, separators=(",", ":"), ensure_ascii=False),
    )
    assert "—" not in await page.inner_text("#figure-capital")
    await page.screenshot(path=str(artifacts / "1-dashboard.png"), full_page=True)

    # the form explains what is wrong before anything is sent
    await page.fill("#entry-price", "1e-3")
    await page.click("#entry-form button[type=submit]")
    assert "decimal number" in await page.inner_text("#entry-price-error")
    assert "required" in await page.inner_text("#entry-size-error")

    # place an entry
    pair, price, size = _entry_for(stack)
    await page.select_option("#entry-pair", pair)
    await page.fill("#entry-price", price)
    await page.fill("#entry-size", size)
    await page.click("#entry-form button[type=submit]")
    await until(
        page,
        "() => ['#entry-ok', '#entry-error', '#entry-price-error', '#entry-size-error']"
        ".map(s => document.querySelector(s).textContent).join('')",
    )
    for field in ("#entry-price-error", "#entry-size-error"):
        assert not await page.inner_text(field), (pair, price, size, await page.inner_text(field))
    refusal = await page.inner_text("#entry-error")
    assert not refusal, (pair, price, size, refusal)
    said = await page.inner_text("#entry-ok")
    assert f"Entry for {pair} placed" in said and f"(order rt-{pair}-" in said, said
    row = f"#orders-table tbody tr:has(td:text-is('{pair}')):has(td:text-is('otto'))"
    await page.wait_for_selector(f"{row} button.cancel", timeout=TIMEOUT)
    assert price in await page.inner_text(row)
    await page.screenshot(path=str(artifacts / "2-entry-placed.png"), full_page=True)

    # cancel it
    await page.click(f"{row} button.cancel")
    await until(
        page,
        "(pair) => ![...document.querySelectorAll('#orders-table tbody tr')].some(r => "
        "r.textContent.includes(pair) && r.textContent.includes('otto') && "
        "r.querySelector('button.cancel'))",
        pair,
    )
    await page.screenshot(path=str(artifacts / "3-entry-cancelled.png"), full_page=True)
    database = stack.engine.control.database
    stored = await asyncio.to_thread(list_orders, database, pair=pair)
    mine = [r.order for r in stored if r.order.operator_action is not None]
    assert [o.operator_action.actor for o in mine if o.operator_action] == ["otto"]
    assert mine[0].side is OrderSide.BUY
    assert mine[0].order_type is OrderType.LIMIT
    assert str(mine[0].limit_price) == price
    assert mine[0].status is OrderStatus.CANCELLED

    # a phone-sized window still shows the figures and the tables scroll inside their cards
    await page.set_viewport_size({"width": 390, "height": 844})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await page.screenshot(path=str(artifacts / "4-phone.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})

    # the pair's detail page draws the chart
    await page.click(f"#pairs-table a:text-is('{pair}')")
    await page.wait_for_selector("#detail-view:not([hidden]) #chart canvas", timeout=TIMEOUT)
    await page.wait_for_selector("#detail-position dt", timeout=TIMEOUT)
    await page.screenshot(path=str(artifacts / "5-detail.png"), full_page=True)

    # log out
    await page.click("#logout")
    await page.wait_for_selector("#login-view:not([hidden])", timeout=TIMEOUT)
    assert await page.is_hidden("#dashboard-view")
    status = await page.evaluate("fetch('/api/session').then(r => r.status)")
    assert status == 401
    await page.screenshot(path=str(artifacts / "6-logged-out.png"))

    actions = [(e.actor, e.action) for e in audit_entries(database, limit=500)]
    for expected in ("login_failed", "login", "entry", "cancel", "logout"):
        assert ("otto", expected) in actions, expected
    assert problems == []
