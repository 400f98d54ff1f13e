"""The OpenAPI 3.1 document of the web API, served at ``GET /api/openapi.json``.

Hand-written; request bodies reuse the very schemas the server validates with
(:mod:`ratchet.web.schemas`). A test checks that every route of the app is documented here and
that nothing documented is missing from the app.
"""

from __future__ import annotations

from typing import Any

from ratchet.web import schemas

DECIMAL = {"type": "string", "pattern": schemas.DECIMAL_PATTERN.replace("{1,20}", "+")}
NULLABLE_DECIMAL = {"oneOf": [DECIMAL, {"type": "null"}]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
NULLABLE_STRING = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"description": description}
    if schema is not None:
        reply["content"] = {"application/json": {"schema": schema}}
    return reply


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "malformed JSON or a body that breaks its schema (the message names the field)",
        401: "not logged in, or the session expired / was logged out",
        403: "missing or wrong X-CSRF-Token, or the role may not do this",
        404: "no such pair or order",
        409: "the engine refused: the state does not allow it now",
        413: "the body is larger than 64 KiB",
        415: "the body is not application/json",
        422: "the engine refused the entry (increments, minimum size, risk gate, open position)",
        429: "too many failed logins: wait Retry-After seconds",
    }
    return {str(code): _ok(text[code], _ref("Error")) for code in codes}


def _read(summary: str, schema: dict[str, Any], *extra: int) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [{"session": []}],
            "responses": {"200": _ok(summary, schema), **_errors(401, *extra)},
        }
    }


def _write(
    summary: str, role: str, body: dict[str, Any] | None, reply: dict[str, Any], *extra: int
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": f"{summary} (role: {role}; needs X-CSRF-Token)",
        "security": [{"session": [], "csrf": []}],
        "responses": {
            "200": _ok("accepted", reply),
            **_errors(400, 401, 403, 413, 415, *extra),
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": bool(body.get("required")),
            "content": {"application/json": {"schema": body}},
        }
    return {"post": operation}


def _object(**fields: Any) -> dict[str, Any]:
    return {"type": "object", "properties": fields}


PAIR_PARAM = {"name": "pair", "in": "path", "required": True, "schema": {"type": "string"}}
ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
SESSION = _object(
    username={"type": "string"},
    role={"enum": ["viewer", "operator", "admin"]},
    csrf_token={"type": "string"},
)

COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Error": _object(error={"type": "string"}),
        "Session": SESSION,
        "Portfolio": _object(
            quote_currency={"type": "string"},
            total_capital=DECIMAL,
            deployed=DECIMAL,
            available=NULLABLE_DECIMAL,
            realized_pnl=DECIMAL,
            unrealized_pnl=DECIMAL,
            win_rate=NULLABLE_DECIMAL,
            closed_trades={"type": "integer"},
            wins={"type": "integer"},
            open_positions={"type": "integer"},
            concentration={"type": "object", "additionalProperties": DECIMAL},
            top_concentration_pct=DECIMAL,
            exposure_by_group={"type": "object", "additionalProperties": DECIMAL},
            deployed_pct=DECIMAL,
            drawdown_pct=DECIMAL,
            pnl_pct=DECIMAL,
            rebalance_drift={"type": "object", "additionalProperties": DECIMAL},
        ),
        "Position": _object(
            position_id={"type": "string"},
            pair={"type": "string"},
            status={"type": "string"},
            entry_price=NULLABLE_DECIMAL,
            quantity=DECIMAL,
            desired_stop=NULLABLE_DECIMAL,
            confirmed_stop=NULLABLE_DECIMAL,
            last_price=NULLABLE_DECIMAL,
            unrealized_pnl=NULLABLE_DECIMAL,
            entry_cost=DECIMAL,
            share_pct=DECIMAL,
            opened_by={"type": "string"},
        ),
        "Order": _object(
            client_order_id={"type": "string"},
            exchange_order_id=NULLABLE_STRING,
            pair={"type": "string"},
            position_id={"type": "string"},
            role={"enum": ["entry", "stop", "exit", "foreign"]},
            side={"enum": ["BUY", "SELL"]},
            order_type={"type": "string"},
            status={"type": "string"},
            size=DECIMAL,
            filled_size=DECIMAL,
            limit_price=NULLABLE_DECIMAL,
            stop_price=NULLABLE_DECIMAL,
            owner={"type": "string"},
            cancellable={"type": "boolean"},
        ),
        "StopChange": _object(
            position_id={"type": "string"},
            time={"type": "number"},
            desired=DECIMAL,
            confirmed=NULLABLE_DECIMAL,
            client_order_id=NULLABLE_STRING,
            reason={"type": "string"},
        ),
        "Pair": _object(
            pair={"type": "string"},
            status={"type": "string"},
            last_price=NULLABLE_DECIMAL,
            signal={"oneOf": [_ref("Signal"), {"type": "null"}]},
            base_increment=DECIMAL,
            price_increment=DECIMAL,
            base_min_size=DECIMAL,
            quote_min_size=DECIMAL,
        ),
        "Signal": _object(
            pair={"type": "string"},
            start={"type": "integer"},
            close=DECIMAL,
            rsi=NULLABLE_NUMBER,
            macd=NULLABLE_NUMBER,
            macd_signal=NULLABLE_NUMBER,
            vwap=NULLABLE_NUMBER,
            rsi_ok={"type": ["boolean", "null"]},
            macd_ok={"type": ["boolean", "null"]},
            vwap_ok={"type": ["boolean", "null"]},
            enter={"type": "boolean"},
        ),
        "Price": _object(pair={"type": "string"}, price=NULLABLE_DECIMAL),
    },
    "securitySchemes": {
        "session": {"type": "apiKey", "in": "cookie", "name": "ratchet_session"},
        "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
    },
}


def _list(key: str, item: str) -> dict[str, Any]:
    return _object(**{key: {"type": "array", "items": _ref(item)}})


PATHS: dict[str, Any] = {
    "/api/login": {
        "post": {
            "summary": "Log in; starts a session cookie and returns the CSRF token",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schemas.LOGIN}},
            },
            "responses": {
                "200": _ok("logged in", _ref("Session")),
                **_errors(400, 401, 413, 415, 429),
            },
        }
    },
    "/api/logout": _write("Log out: the session is refused from now on", "viewer", None, SESSION),
    "/api/session": _read("The logged-in user and its CSRF token", _ref("Session")),
    "/api/portfolio": _read("Capital, P&L, win rate, concentration, exposure", _ref("Portfolio")),
    "/api/positions": _read(
        "Open positions with live prices and stops", _list("positions", "Position")
    ),
    "/api/positions/{pair}": {
        "parameters": [PAIR_PARAM],
        **_read(
            "A pair's position with its order and stop history",
            _object(
                pair={"type": "string"},
                position={"oneOf": [_ref("Position"), {"type": "null"}]},
                orders={"type": "array", "items": _ref("Order")},
                stops={"type": "array", "items": _ref("StopChange")},
            ),
            404,
        ),
    },
    "/api/orders": _read("Working and recent orders", _list("orders", "Order")),
    "/api/pairs": _read(
        "Traded pairs, increments, last price and last signal", _list("pairs", "Pair")
    ),
    "/api/prices": _read("The last price of every pair", _list("prices", "Price")),
    "/api/entries": _write(
        "Place a limit-buy entry",
        "operator",
        schemas.ENTRY,
        _object(
            pair={"type": "string"},
            price=DECIMAL,
            size=DECIMAL,
            status={"enum": ["placed", "queued"]},
            order={"type": ["string", "null"], "description": "client order id once placed"},
        ),
        404,
        422,
    ),
    "/api/orders/{id}/cancel": {
        "parameters": [ID_PARAM],
        **_write(
            "Cancel an order (an operator its own, an admin any)",
            "operator",
            schemas.CANCEL,
            _object(order={"type": "string"}, status={"type": "string"}),
            404,
            409,
        ),
    },
    "/api/positions/{pair}/force-exit": {
        "parameters": [PAIR_PARAM],
        **_write(
            "Force-exit a position at market (audited)",
            "admin",
            schemas.FORCE_EXIT,
            _object(pair={"type": "string"}, status={"type": "string"}),
            404,
            409,
        ),
    },
    "/api/liquidate": _write(
        "Emergency liquidation of every position (typed confirmation)",
        "admin",
        schemas.LIQUIDATE,
        _object(status={"type": "string"}),
        409,
    ),
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": _ok("the OpenAPI document", {"type": "object"})},
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness: no authentication",
            "security": [],
            "responses": {
                "200": _ok(
                    "the server answers",
                    _object(status={"const": "ok"}, engine_running={"type": ["boolean", "null"]}),
                )
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (bearer token if RATCHET_METRICS_TOKEN is set)",
            "security": [],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": _ok("the metrics token is set and was not sent", _ref("Error")),
            },
        }
    },
    "/ws": {
        "get": {
            "summary": "WebSocket of live snapshots (prices, positions, orders, pairs, portfolio)",
            "description": (
                'Upgrade to a WebSocket; every message is {"type": "snapshot", "prices": [...], '
                '"positions": [...], "orders": [...], "pairs": [...], "portfolio": {...}}, pushed '
                "on change (checked every 0.5 s). A client that cannot keep up is closed with "
                "code 4008."
            ),
            "security": [{"session": []}],
            "responses": {
                "101": {"description": "switching protocols"},
                **_errors(401, 403),
            },
        }
    },
}


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ratchet web API",
            "version": "1",
            "description": (
                "Money is always a decimal string. Log in with POST /api/login, then send the "
                "session cookie with every request and the returned csrf_token as X-CSRF-Token "
                "with every POST."
            ),
        },
        "paths": PATHS,
        "components": COMPONENTS,
    }
