"""Turning a decision to trade into fills: the leg's capacity, fees, settlement, order status."""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal

from ratchet.domain.money import ZERO, Product, ceil_to, floor_to
from ratchet.domain.order_types import OrderSide
from ratchet.sim.accounts import Ledger, fee_for
from ratchet.sim.book import OrderBook
from ratchet.sim.records import Liquidity, SimFill, SimOrder, Status


def uuid4_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))``, spelled out: the simulator makes one per order
    and per fill, and the UUID object costs several times as much."""
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # the RFC 4122 variant
    bits = (bits & ~(0xF000 << 64)) | (4 << 76)  # version 4
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Executor:
    """Fills orders at prices the engine decided, within what the market and balances allow.

    ``capacity`` per product is what our fills may still take, in base units, from the current
    leg (None: unlimited). Each fill pays ``price * size * rate`` rounded up to the quote
    increment; an order that has nothing left ends FILLED and releases what it still held.
    ``slippage`` (a fraction, default 0) worsens every TAKER fill's price: a buy pays
    ``price * (1 + slippage)`` rounded up to the price grid, a sell gets ``price * (1 - slippage)``
    rounded down, never past the order's own limit price. MAKER fills rest at their limit.
    """

    def __init__(
        self,
        products: Mapping[str, Product],
        ledger: Ledger,
        book: OrderBook,
        *,
        maker_fee_rate: Decimal,
        taker_fee_rate: Decimal,
        seed: int,
        slippage: Decimal = ZERO,
    ) -> None:
        self._products = products
        self._ledger = ledger
        self._book = book
        self._maker = maker_fee_rate
        self._taker = taker_fee_rate
        self._slippage = slippage
        self._rng = random.Random(seed)
        self._capacity: dict[str, Decimal | None] = {}

    def new_id(self) -> str:
        """A fresh UUID string from the seeded generator (same seed, same sequence of ids)."""
        return uuid4_text(self._rng.getrandbits(128))

    def set_capacity(self, product_id: str, capacity: Decimal | None) -> None:
        """What our fills may take from now on in ``product_id`` (None: unlimited)."""
        self._capacity[product_id] = capacity

    def execute(
        self, order: SimOrder, price: Decimal, liquidity: Liquidity, now: float
    ) -> list[SimFill]:
        """Fill as much of ``order``'s remaining size at ``price`` as capacity and funds allow."""
        remaining = order.remaining_size
        assert remaining is not None
        capacity = self._capacity.get(order.product_id)
        size = remaining if capacity is None else min(remaining, capacity)
        if self._slippage and liquidity is Liquidity.TAKER:
            price = self.slipped(order, price)
        return self._fill(order, price, size, liquidity=liquidity, now=now)

    def slipped(self, order: SimOrder, price: Decimal) -> Decimal:
        """A taker's price after slippage: worse by the rate, on the grid, within its limit."""
        tick = self._products[order.product_id].price_increment
        if order.side is OrderSide.BUY:
            worse = ceil_to(price * (1 + self._slippage), tick)
            return worse if order.limit_price is None else min(worse, order.limit_price)
        worse = max(floor_to(price * (1 - self._slippage), tick), tick)
        return worse if order.limit_price is None else max(worse, order.limit_price)

    def buy_for_quote(self, order: SimOrder, price: Decimal, now: float) -> None:
        """Spend a market buy's quote hold (fee included) at ``price``, as TAKER.

        The order ends FILLED when the budget was the limit; when the capacity was, it stays
        open for the caller to cancel (IOC).
        """
        product = self._products[order.product_id]
        if self._slippage:
            price = self.slipped(order, price)
        budget = order.hold
        size = product.buy_size(budget, price, self._taker)
        while (
            size > ZERO
            and price * size + fee_for(price * size, self._taker, product.quote_tick) > budget
        ):
            size -= product.base_increment
        capacity = self._capacity.get(order.product_id)
        limited = capacity is not None and capacity < size
        if capacity is not None:
            size = min(size, capacity)
        self._fill(order, price, size, liquidity=Liquidity.TAKER, now=now)
        if order.number_of_fills and not limited:
            self.finish(order, Status.FILLED, now)

    def finish(self, order: SimOrder, status: Status, now: float, reason: str = "") -> None:
        """End ``order`` with ``status``: release its hold and take it off the book."""
        order.status = status
        order.cancel_reason = reason
        self._ledger.release(order)
        self._book.close(order)
        self.changed(order, now)

    def changed(self, order: SimOrder, now: float) -> None:
        """Stamp ``order`` as changed at ``now`` and record a snapshot for the update feed."""
        order.updated_time = now
        self._book.record_update(order)

    def _fill(
        self,
        order: SimOrder,
        price: Decimal,
        size: Decimal,
        *,
        liquidity: Liquidity,
        now: float,
    ) -> list[SimFill]:
        product = self._products[order.product_id]
        rate = self._maker if liquidity is Liquidity.MAKER else self._taker
        size = floor_to(size, product.base_increment)
        size = self._ledger.affordable(order, product, price, size, rate)
        if size <= ZERO:
            return []
        fee = fee_for(price * size, rate, product.quote_tick)
        self._ledger.settle(order, product, price, size, fee)
        order.filled_size += size
        order.filled_value += price * size
        order.total_fees += fee
        order.number_of_fills += 1
        order.last_fill_time = now
        capacity = self._capacity.get(order.product_id)
        if capacity is not None:
            self._capacity[order.product_id] = capacity - size
        fill = SimFill(
            entry_id=self.new_id(),
            trade_id=self.new_id(),
            order_id=order.order_id,
            product_id=order.product_id,
            side=order.side,
            price=price,
            size=size,
            commission=fee,
            liquidity=liquidity,
            time=now,
            sequence=self._book.next_fill_sequence(),
        )
        self._book.add_fill(fill)
        if order.remaining_size == ZERO:
            self.finish(order, Status.FILLED, now)
        else:
            self.changed(order, now)
        return [fill]
