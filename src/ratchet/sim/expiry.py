"""Expiry of GTD orders: the earliest end time of the open ones, so most moves skip the scan."""

from __future__ import annotations

from ratchet.sim.book import OrderBook
from ratchet.sim.execution import Executor
from ratchet.sim.records import SimOrder, Status


class Expiries:
    """When the next open GTD order ends (``next``; infinity when none), and their expiry.

    ``next`` may be early (an order noted here can end otherwise first) but never late: no open
    GTD order ends before it, so a caller with ``now < next`` has nothing to expire.
    """

    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next = float("inf")

    def __repr__(self) -> str:
        return f"Expiries(next={self.next})"

    def note(self, order: SimOrder) -> None:
        """Take a new open order's ``end_time`` (if any) into account."""
        if order.end_time is not None:
            self.next = min(self.next, order.end_time)

    def expire(self, book: OrderBook, executor: Executor, now: float) -> list[SimOrder]:
        """Expire every open GTD order of ``book`` whose ``end_time <= now``; return them."""
        if now < self.next:
            return []
        due = [
            order
            for order in book.open_orders()
            if order.end_time is not None and order.end_time <= now
        ]
        for order in due:
            executor.finish(order, Status.EXPIRED, now)
        ends = [o.end_time for o in book.open_orders() if o.end_time is not None]
        self.next = min(ends, default=float("inf"))
        return due
