"""One line per configuration problem: where it is (a dotted path) and what is wrong, in words
an operator reads without knowing pydantic (a password in a URL is masked)."""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

_CREDENTIALS = re.compile(r"(://[^/@:]*:)[^/@]*@")
_EXPECTED = {
    "int_type": "expected an integer",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "decimal_parsing": "expected a number",
    "decimal_type": "expected a number",
    "finite_number": "expected a finite number",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "list_type": "expected a list",
}


def show(value: Any) -> str:
    """A given value as the message shows it (passwords in URLs masked)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(_CREDENTIALS.sub(r"\1***@", value))
    return str(value)


def _fields_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed where ``loc`` points (the model holding the unknown key)."""
    kind: Any = root
    for part in loc[:-1]:
        if typing.get_origin(kind) is dict:  # the part is a key: go to the value type
            kind = typing.get_args(kind)[1]
        else:
            kind = kind.model_fields[str(part)].annotation
    return list(kind.model_fields)


def describe(error: Any, root: type[BaseModel]) -> tuple[str, str]:
    """Where one pydantic error of validating ``root`` is (a dotted path) and what is wrong."""
    loc = tuple(p for p in error["loc"] if p != "[key]")
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(root, loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "expected one of " + ", ".join(allowed)
        return path, f"unknown key ({hint})"
    if kind == "missing":
        return path, "required"
    if kind == "literal_error":
        return path, f"expected {error['ctx']['expected']}, got {show(error['input'])}"
    message = _EXPECTED.get(kind, error["msg"])
    return path, f"{message}, got {show(error['input'])}"
