"""Deterministic identifiers: position ids and the client_order_id of every order.

A client_order_id is derived from the position and the order's role and sequence number, so
the engine can compute it again after a crash, write it down *before* sending the order, and
retry with the same id: the exchange then returns the existing order instead of a second one.
Every id starts with the instance's prefix, so reconciliation can tell our orders apart.

Format: ``<prefix>-<pair without dash>-<position seq>-<role>-<order seq>``,
e.g. ``rt-ETH-BTC-000042-stop-3``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ratchet.domain.order_types import Vocabulary

_PREFIX = re.compile(r"[a-z][a-z0-9]{1,15}")
_PAIR = re.compile(r"[A-Z0-9]{1,12}-[A-Z0-9]{1,12}")
_POSITION_SEQ = re.compile(r"\d{6,}")


class IdError(ValueError):
    """An id or a part of one is malformed."""


class OrderRole(Vocabulary):
    """Why an order exists."""

    ENTRY = "entry"
    STOP = "stop"
    EXIT = "exit"  # operator force-exit / emergency liquidation


def position_id(pair: str, sequence: int) -> str:
    """The id of the ``sequence``-th position in ``pair``, e.g. ``ETH-BTC#000042``."""
    if not _PAIR.fullmatch(pair):
        raise IdError(f"pair must look like BASE-QUOTE in capitals, got {pair!r}")
    if isinstance(sequence, bool) or sequence < 1:
        raise IdError(f"position sequence must be >= 1, got {sequence}")
    return f"{pair}#{sequence:06d}"


@dataclass(frozen=True, slots=True)
class ClientOrderId:
    """The parts a client_order_id is made of."""

    prefix: str
    position_id: str
    role: OrderRole
    sequence: int

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise IdError(f"id prefix must be 2-16 lowercase letters/digits, got {self.prefix!r}")
        pair, _, seq = self.position_id.partition("#")
        if not _PAIR.fullmatch(pair) or not _POSITION_SEQ.fullmatch(seq):
            raise IdError(f"not a position id (PAIR#000001): {self.position_id!r}")
        if not isinstance(self.sequence, int) or isinstance(self.sequence, bool):
            raise IdError(f"order sequence must be an integer, got {self.sequence!r}")
        if self.sequence < 1:
            raise IdError(f"order sequence must be >= 1, got {self.sequence}")

    def __str__(self) -> str:
        pair, _, seq = self.position_id.partition("#")
        return f"{self.prefix}-{pair}-{seq}-{self.role.value}-{self.sequence}"

    @classmethod
    def parse(cls, text: str, prefix: str) -> ClientOrderId | None:
        """The parts of ``text`` when it is one of ours (made with ``prefix``), else None."""
        match = _ID.fullmatch(text)
        if match is None or match["prefix"] != prefix:
            return None
        try:
            return cls(
                prefix,
                f"{match['pair']}#{match['pos']}",
                OrderRole(match["role"]),
                int(match["seq"]),
            )
        except (IdError, ValueError):
            return None


_ID = re.compile(
    r"(?P<prefix>[a-z][a-z0-9]{1,15})-(?P<pair>[A-Z0-9]{1,12}-[A-Z0-9]{1,12})-(?P<pos>\d{6,})"
    r"-(?P<role>entry|stop|exit)-(?P<seq>[1-9]\d*)"
)
