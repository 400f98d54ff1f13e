"""What the store raises: every failure is a :class:`StoreError` with a one-line message."""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked; nothing half-written is left behind."""


class StoreConfigError(StoreError):
    """The database was named or keyed wrongly (bad URL, missing file, wrong or missing key)."""


class SchemaError(StoreError):
    """The database schema is not one this ratchet can run on (newer, unknown, or behind)."""


def one_line(error: BaseException) -> str:
    """The first line of an exception's text (driver errors often span several)."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip() or type(original).__name__
    return text.splitlines()[0].strip()
