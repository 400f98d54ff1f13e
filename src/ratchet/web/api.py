"""The REST endpoints over the engine control: read the state, place entries, cancel, exit.

Every handler first asks :func:`ratchet.web.auth.require` for the role it needs (401 / 403,
CSRF on writes). Each action is audited with its outcome; an engine refusal becomes a 4xx whose
message is the engine's reason: not found 404, not allowed 403, an unacceptable entry 422,
any other refusal (conflicting state) 409.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web

from ratchet.engine.control import NotAllowed, NotFound, OperatorRefused
from ratchet.web import schemas
from ratchet.web.auth import Principal, body, require
from ratchet.web.context import context
from ratchet.web.serialize import json_response
from ratchet.web.users import Role

T = TypeVar("T")


async def portfolio(request: web.Request) -> web.Response:
    """``GET /api/portfolio``: capital, P&L, win rate, concentration, exposure."""
    await require(request, Role.VIEWER)
    return json_response(context(request).control.portfolio())


async def positions(request: web.Request) -> web.Response:
    """``GET /api/positions``: open positions with live prices, stops and P&L."""
    await require(request, Role.VIEWER)
    return json_response({"positions": context(request).control.positions()})


async def position_detail(request: web.Request) -> web.Response:
    """``GET /api/positions/{pair}``: the position, its order history and its stop history."""
    await require(request, Role.VIEWER)
    pair = request.match_info["pair"]
    try:
        detail = await context(request).control.position_detail(pair)
    except OperatorRefused as exc:
        raise REFUSALS[_status(exc, 409)](text=_reason(exc)) from None
    return json_response(detail)


async def orders(request: web.Request) -> web.Response:
    """``GET /api/orders``: working and recent orders (``cancellable`` says what may go)."""
    await require(request, Role.VIEWER)
    return json_response({"orders": context(request).control.orders()})


async def pairs(request: web.Request) -> web.Response:
    """``GET /api/pairs``: traded pairs, their increments, last price and last signal."""
    await require(request, Role.VIEWER)
    return json_response({"pairs": context(request).control.pairs()})


async def prices(request: web.Request) -> web.Response:
    """``GET /api/prices``: the last price of every pair and when it was seen."""
    await require(request, Role.VIEWER)
    return json_response({"prices": context(request).control.prices()})


async def place_entry(request: web.Request) -> web.Response:
    """``POST /api/entries``: a limit-buy entry ``{pair, price, size}`` (operator or admin)."""
    who = await require(request, Role.OPERATOR)
    given = await body(request, schemas.ENTRY)
    pair = str(given["pair"])
    try:
        price = schemas.positive_decimal(str(given["price"]), "price")
        size = schemas.positive_decimal(str(given["size"]), "size")
    except schemas.BodyError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    detail = f"limit buy {size} at {price}"
    control = context(request).control
    work = control.place_entry(pair, price, size, who.username)
    order = await _act(request, who, "entry", subject=pair, detail=detail, work=work)
    # placed: the trader sent it (its client order id); queued: the pair is still busy with
    # earlier events, it will be decided in turn (and audited either way)
    status = "placed" if order is not None else "queued"
    return json_response(
        {"pair": pair, "price": price, "size": size, "status": status, "order": order}
    )


async def cancel_order(request: web.Request) -> web.Response:
    """``POST /api/orders/{id}/cancel`` (optional ``{reason}``): an operator cancels its own
    orders, an admin any."""
    who = await require(request, Role.OPERATOR)
    reason = str((await body(request, schemas.CANCEL)).get("reason", "cancel requested"))
    order_id = request.match_info["id"]
    control = context(request).control
    any_owner = who.role is Role.ADMIN
    action = control.cancel_order(order_id, who.username, any_owner=any_owner)
    await _act(request, who, "cancel", subject=order_id, detail=reason, work=action)
    return json_response({"order": order_id, "status": "cancel requested"})


async def force_exit(request: web.Request) -> web.Response:
    """``POST /api/positions/{pair}/force-exit`` ``{reason}``: sell now (admin only)."""
    who = await require(request, Role.ADMIN)
    reason = str((await body(request, schemas.FORCE_EXIT))["reason"])
    pair = request.match_info["pair"]
    action = context(request).control.force_exit(pair, who.username, reason)
    await _act(request, who, "force_exit", subject=pair, detail=reason, work=action)
    return json_response({"pair": pair, "status": "exit requested"})


async def liquidate(request: web.Request) -> web.Response:
    """``POST /api/liquidate`` ``{confirm: "LIQUIDATE", reason}``: exit everything (admin)."""
    who = await require(request, Role.ADMIN)
    reason = str((await body(request, schemas.LIQUIDATE))["reason"])
    action = context(request).control.liquidate(who.username, reason)
    await _act(request, who, "liquidate", subject="portfolio", detail=reason, work=action)
    return json_response({"status": "liquidation requested"})


async def _act(
    request: web.Request,
    who: Principal,
    action: str,
    *,
    subject: str,
    detail: str,
    work: Awaitable[T],
) -> T:
    """Await the engine's action and audit it; a refusal becomes a 4xx with the engine's reason
    (audited as refused by the error middleware). Returns what the action returned."""
    try:
        result = await work
    except OperatorRefused as exc:
        status = _status(exc, 422 if action == "entry" else 409)
        raise REFUSALS[status](text=f"{action} refused: {_reason(exc)}") from None
    await context(request).control.audit(who.username, action, subject, detail)
    return result


REFUSALS: dict[int, type[web.HTTPException]] = {
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,
}


def _status(exc: OperatorRefused, otherwise: int) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotAllowed):
        return 403
    return otherwise


def _reason(exc: OperatorRefused) -> str:
    return str(getattr(exc, "reason", "") or exc)
