"""JSON schemas of the request bodies, and their validation with one clear message per problem.

The same dicts appear in the OpenAPI document (:mod:`ratchet.web.openapi`), so what is
documented is what is enforced. Money is sent as decimal *strings* (``"0.0123"``), never as JSON
numbers, so no float ever touches a price or a size.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

DECIMAL_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,20})?$"
PAIR_PATTERN = r"^[A-Z0-9]{1,12}-[A-Z0-9]{1,12}$"
REASON = {"type": "string", "minLength": 1, "maxLength": 500}

LOGIN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
    },
    "required": ["username", "password"],
    "additionalProperties": False,
}

ENTRY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pair": {"type": "string", "pattern": PAIR_PATTERN, "examples": ["ETH-BTC"]},
        "price": {"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["0.05321"]},
        "size": {"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["0.25"]},
    },
    "required": ["pair", "price", "size"],
    "additionalProperties": False,
}

CANCEL: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": REASON},
    "additionalProperties": False,
}

FORCE_EXIT: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": REASON},
    "required": ["reason"],
    "additionalProperties": False,
}

LIQUIDATE: dict[str, Any] = {
    "type": "object",
    "properties": {"confirm": {"const": "LIQUIDATE"}, "reason": REASON},
    "required": ["confirm", "reason"],
    "additionalProperties": False,
}

HINTS = {
    PAIR_PATTERN: "a product id like ETH-BTC",
    DECIMAL_PATTERN: 'a decimal number in a string, like "0.0123" (no sign, no exponent)',
}


class BodyError(ValueError):
    """A request body that does not match its schema; the message says what to fix."""


def validate(body: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """``body`` if it matches ``schema``, else :class:`BodyError` naming the first problem."""
    errors = sorted(
        Draft202012Validator(schema).iter_errors(body), key=lambda e: (list(e.path), e.validator)
    )
    if errors:
        raise BodyError(_describe(errors[0]))
    assert isinstance(body, dict)
    return body


def positive_decimal(text: str, name: str) -> Decimal:
    """A schema-checked decimal string as a Decimal > 0, else :class:`BodyError`."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BodyError(f"{name} must be a decimal number, got {text!r}") from None
    if value <= 0:
        raise BodyError(f"{name} must be greater than 0, got {text}")
    return value


def _known_fields(error: ValidationError) -> set[str]:
    """The property names the failing schema knows."""
    schema = error.schema
    return set(schema.get("properties", {})) if isinstance(schema, dict) else set()


def _describe(error: ValidationError) -> str:
    field = ".".join(str(part) for part in error.path)
    where = f"field {field!r}" if field else "the body"
    kind = error.validator
    if kind == "required":
        missing = str(error.message).split("'")[1]
        return f"missing field {missing!r}"
    if kind == "additionalProperties":
        known = _known_fields(error)
        given = error.instance if isinstance(error.instance, dict) else {}
        extra = sorted(set(given) - known)
        return f"unknown field {extra[0]!r}" if extra else "unknown fields"
    if kind == "type":
        wanted = error.validator_value
        noun = "a JSON object" if wanted == "object" else f"a {wanted}"
        hint = " (money is sent as a string)" if isinstance(error.instance, int | float) else ""
        return f"{where} must be {noun}{hint}"
    if kind == "pattern":
        return f"{where} must be {HINTS.get(str(error.validator_value), 'well formed')}"
    if kind == "const":
        return f"{where} must be exactly {error.validator_value!r}"
    if kind == "minLength":
        return f"{where} must not be empty"
    if kind == "maxLength":
        return f"{where} is too long (at most {error.validator_value} characters)"
    return f"{where}: {error.message}"
