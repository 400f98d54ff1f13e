"""What the simulated exchange remembers: every order, the open ones per product, fills, updates."""

from __future__ import annotations

from collections.abc import Iterable

from ratchet.sim.records import SimFill, SimOrder


class OrderBook:
    """Our orders (all of them, by id and by client id), the open ones in time priority per
    product, every fill in sequence, and the snapshots of changed orders not yet drained.

    ``snapshots=False`` keeps the changed orders themselves instead of copies: for a caller
    that drains them at once, synchronously (the backtester), the copies cost time and show
    nothing more; an update feed that sends every state an order went through needs them.
    """

    def __init__(self, product_ids: Iterable[str], *, snapshots: bool = True) -> None:
        self._snapshots = snapshots
        self._orders: dict[str, SimOrder] = {}
        self._by_client: dict[str, str] = {}
        self._open: dict[str, list[SimOrder]] = {pid: [] for pid in product_ids}
        self._fills: list[SimFill] = []
        self._updates: list[SimOrder] = []
        self._fills_by_order: dict[str, list[SimFill]] = {}

    def __len__(self) -> int:
        return len(self._orders)

    # -- orders -----------------------------------------------------------------------------
    def add(self, order: SimOrder) -> None:
        """Remember a new order and put it last in its product's time priority."""
        self._orders[order.order_id] = order
        self._by_client[order.client_order_id] = order.order_id
        self._open[order.product_id].append(order)

    def get(self, order_id: str) -> SimOrder | None:
        """The order with this id, or None."""
        return self._orders.get(order_id)

    def by_client_id(self, client_order_id: str) -> SimOrder | None:
        """The order created with this client order id, or None."""
        order_id = self._by_client.get(client_order_id)
        return None if order_id is None else self._orders[order_id]

    def query(
        self, product_ids: Iterable[str] | None, statuses: Iterable[str] | None
    ) -> list[SimOrder]:
        """Orders in creation order, optionally only of some products and/or statuses."""
        pids = None if product_ids is None else set(product_ids)
        wanted = None if statuses is None else set(statuses)
        return [
            order
            for order in self._orders.values()
            if (pids is None or order.product_id in pids)
            and (wanted is None or order.status in wanted)
        ]

    def has_open(self, product_id: str) -> bool:
        """True when the product has at least one open order."""
        return bool(self._open[product_id])

    def open_orders(self, product_id: str | None = None) -> list[SimOrder]:
        """Open orders of one product (or all), each product's in time priority."""
        if product_id is not None:
            return list(self._open[product_id])
        return [order for book in self._open.values() for order in book]

    def close(self, order: SimOrder) -> None:
        """Take an order that ended out of its product's open list."""
        book = self._open[order.product_id]
        for index, candidate in enumerate(book):
            if candidate is order:
                del book[index]
                return

    def requeue(self, order: SimOrder) -> None:
        """Move an open order to the back of its product's time priority (after an edit)."""
        self.close(order)
        self._open[order.product_id].append(order)

    # -- fills and updates ------------------------------------------------------------------
    def next_fill_sequence(self) -> int:
        """The sequence number the next fill gets (1, 2, ...)."""
        return len(self._fills) + 1

    def add_fill(self, fill: SimFill) -> None:
        """Remember a fill (in sequence order)."""
        self._fills.append(fill)
        self._fills_by_order.setdefault(fill.order_id, []).append(fill)

    def fills(
        self, order_ids: Iterable[str] | None, product_ids: Iterable[str] | None
    ) -> list[SimFill]:
        """Fills in sequence order, optionally only of some orders and/or products."""
        oids = None if order_ids is None else set(order_ids)
        pids = None if product_ids is None else set(product_ids)
        if oids is not None and pids is None:  # the common look-up: by order, via the index
            found = [f for oid in oids for f in self._fills_by_order.get(oid, ())]
            return sorted(found, key=lambda fill: fill.sequence)
        return [
            fill
            for fill in self._fills
            if (oids is None or fill.order_id in oids) and (pids is None or fill.product_id in pids)
        ]

    def fills_since(self, sequence: int) -> list[SimFill]:
        """Fills whose sequence number is above ``sequence``, in order."""
        return self._fills[max(0, sequence) :]

    def fill_count(self) -> int:
        """How many fills there have been."""
        return len(self._fills)

    def record_update(self, order: SimOrder) -> None:
        """Keep a snapshot of ``order`` as it is now, for the update feed (without
        ``snapshots``: the order itself, for a caller that drains before the next change)."""
        self._updates.append(order.snapshot() if self._snapshots else order)

    def has_updates(self) -> bool:
        """True when snapshots wait to be drained."""
        return bool(self._updates)

    def drain_updates(self) -> list[SimOrder]:
        """The snapshots recorded since the last drain, oldest first."""
        updates, self._updates = self._updates, []
        return updates
