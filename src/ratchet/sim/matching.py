"""The matching core of the exchange simulator: orders, holds, fills and fees, pure and synchronous.

No I/O and no clock reads: every command takes ``now`` (Unix seconds). Ids come from a seeded
generator, so the same calls give the same orders, fills and ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from ratchet.domain.money import ZERO, MoneyError, Product, to_decimal
from ratchet.domain.order_types import OrderType
from ratchet.sim.accounts import Ledger, hold_amount
from ratchet.sim.book import OrderBook
from ratchet.sim.execution import Executor
from ratchet.sim.expiry import Expiries
from ratchet.sim.intake import admit, new_order
from ratchet.sim.moves import Move, crosses, reach, takes_on_arrival, threshold_of
from ratchet.sim.records import (
    IOC_CANCEL,
    USER_CANCEL,
    CancelResult,
    CreateOrderRequest,
    CreateResult,
    EditRecord,
    EditResult,
    Liquidity,
    SimAccount,
    SimFill,
    SimOrder,
    Status,
    TimeInForce,
    TriggerStatus,
)
from ratchet.sim.validation import INSUFFICIENT_FUND, Refusal, check_edit

_PENDING = TriggerStatus.PENDING  # read on every leg (see ratchet.sim.moves)

__all__ = [
    "CancelResult",
    "CreateOrderRequest",
    "CreateResult",
    "EditRecord",
    "EditResult",
    "MatchingEngine",
    "SimAccount",
    "SimFill",
    "SimOrder",
]


class MatchingEngine:
    """An in-process spot exchange that matches our orders against a replayed market.

    The market is driven from outside: :meth:`market_move` says the market traded from the last
    price to a new one with some volume, and the engine fills what that leg reached:

    * a resting limit fills at its own limit price as MAKER once the price reaches it;
    * a stop-limit triggers when the last trade crosses its stop (STOP_DOWN: ``<=``, STOP_UP:
      ``>=``), then takes as TAKER at the trigger price (the stop on a continuous leg, the new
      price on a gap) if its limit allows, else rests as a limit order;
    * our fills on one leg take at most ``participation * volume`` base units in all, served in
      price-time priority (what the path reaches first, then the older order);
    * a marketable limit (not post-only), or a market order, takes at once at the last price as
      TAKER, from what the last leg left (unlimited after :meth:`set_last_price` without
      ``liquidity``); a market order's remainder is cancelled (IOC).

    Fees are ``price * size * rate`` per fill, rounded up to the quote increment, in quote.
    ``slippage`` (a fraction) makes every taker fill's price that much worse (see
    :class:`~ratchet.sim.execution.Executor`).
    Holds follow :class:`~ratchet.sim.accounts.Ledger`: balances never go negative.
    Every change of an order is recorded as a snapshot for :meth:`drain_updates` (with
    ``snapshots=False``, the changed order itself: see :class:`~ratchet.sim.book.OrderBook`).
    """

    def __init__(
        self,
        products: Iterable[Product],
        balances: Mapping[str, Decimal],
        *,
        maker_fee_rate: Decimal = Decimal("0.004"),
        taker_fee_rate: Decimal = Decimal("0.006"),
        participation: Decimal = Decimal("1"),
        seed: int = 0,
        slippage: Decimal = ZERO,
        snapshots: bool = True,
    ) -> None:
        self._products = {product.product_id: product for product in products}
        currencies = [
            currency
            for product in self._products.values()
            for currency in (product.base_currency, product.quote_currency)
        ]
        self._ledger = Ledger(currencies, balances)
        self._maker = _rate(maker_fee_rate, "maker fee rate")
        self._taker = _rate(taker_fee_rate, "taker fee rate")
        self._participation = to_decimal(participation, "participation")
        if self._participation <= ZERO:
            raise MoneyError(f"participation must be > 0, got {participation}")
        self._book = OrderBook(self._products, snapshots=snapshots)
        self._last: dict[str, Decimal] = {}
        self._expiries = Expiries()
        self._exec = Executor(
            self._products,
            self._ledger,
            self._book,
            maker_fee_rate=self._maker,
            taker_fee_rate=self._taker,
            seed=seed,
            slippage=_rate(slippage, "slippage"),
        )

    def __repr__(self) -> str:
        return (
            f"MatchingEngine(products={list(self._products)}, orders={len(self._book)}, "
            f"open={len(self._book.open_orders())}, fills={self._book.fill_count()})"
        )

    # -- queries ----------------------------------------------------------------------------
    def product(self, product_id: str) -> Product | None:
        """The product with this id, or None."""
        return self._products.get(product_id)

    def accounts(self) -> list[SimAccount]:
        """Copies of every account (one per currency)."""
        return self._ledger.all()

    def account(self, currency: str) -> SimAccount | None:
        """A copy of the account of ``currency``, or None."""
        account = self._ledger.get(currency)
        return None if account is None else account.copy()

    def order(self, order_id: str) -> SimOrder | None:
        """The live order with this id (treat it as read-only), or None."""
        return self._book.get(order_id)

    def order_by_client_id(self, client_order_id: str) -> SimOrder | None:
        """The order created with this ``client_order_id``, or None."""
        return self._book.by_client_id(client_order_id)

    def orders(
        self, product_ids: Iterable[str] | None = None, statuses: Iterable[str] | None = None
    ) -> list[SimOrder]:
        """Orders in creation order, optionally only of some products and/or statuses."""
        return self._book.query(product_ids, statuses)

    def fills(
        self, order_ids: Iterable[str] | None = None, product_ids: Iterable[str] | None = None
    ) -> list[SimFill]:
        """Fills in sequence order, optionally only of some orders and/or products."""
        return self._book.fills(order_ids, product_ids)

    def fills_since(self, sequence: int) -> list[SimFill]:
        """Fills whose sequence number is above ``sequence``, in order."""
        return self._book.fills_since(sequence)

    def last_price(self, product_id: str) -> Decimal | None:
        """The last trade price of the product (None before any)."""
        return self._last.get(product_id)

    def set_last_price(
        self, product_id: str, price: Decimal, *, liquidity: Decimal | None = None
    ) -> None:
        """Set the last trade price without trading (no order fills or triggers).

        ``liquidity`` is what immediate executions may take at this price, in base units
        (None: unlimited).
        """
        self._require(product_id)
        self._last[product_id] = _positive(price, "price")
        self._exec.set_capacity(product_id, liquidity)

    def balance(self, currency: str) -> Decimal:
        """Total (available + held) of ``currency``; zero for an unknown one. No copy made."""
        account = self._ledger.get(currency)
        return ZERO if account is None else account.available + account.hold

    def has_open(self, product_id: str) -> bool:
        """True when ``product_id`` has at least one open order."""
        return self._book.has_open(product_id)

    def untouched(self, product_id: str, low: Decimal, high: Decimal, until: float) -> bool:
        """True when trading anywhere in ``[low, high]`` (from a last price inside it) until
        ``until`` fills, triggers and expires nothing of ``product_id``'s open orders."""
        resting = self._book.open_orders(product_id)
        if not resting:
            return True
        if until >= self._expiries.next:
            return False
        for order in resting:
            threshold, below = threshold_of(order)
            if threshold is None or ((low <= threshold) if below else (high >= threshold)):
                return False
        return True

    def has_updates(self) -> bool:
        """True when some order changed since the last :meth:`drain_updates`."""
        return self._book.has_updates()

    def drain_updates(self) -> list[SimOrder]:
        """Snapshots of the orders changed since the last drain, one per change, in order
        (with ``snapshots=False``: each changed order itself, once per change)."""
        return self._book.drain_updates()

    # -- commands ---------------------------------------------------------------------------
    def create_order(self, req: CreateOrderRequest, now: float) -> CreateResult:
        """Create an order, or refuse it (nothing stored), or return the one with the same id.

        A repeated ``client_order_id`` is an idempotent retry: the existing order is returned
        with ``success=True`` and nothing changes.
        """
        existing = self.order_by_client_id(req.client_order_id)
        if existing is not None:
            return CreateResult(True, existing)
        product = self._products.get(req.product_id)
        if product is None:
            return CreateResult(False, None, "INVALID_PRODUCT_ID", f"unknown {req.product_id!r}")
        last = self._last.get(req.product_id)
        admitted = admit(req, product, last, now, ledger=self._ledger, taker_fee_rate=self._taker)
        if isinstance(admitted, Refusal):
            return CreateResult(False, None, admitted.reason, admitted.message)
        currency, hold = admitted
        order = new_order(req, self._exec.new_id(), currency, now)
        self._book.add(order)
        self._expiries.note(order)
        self._ledger.set_hold(order, hold)
        self._exec.changed(order, now)
        self._take_on_arrival(order, now)
        return CreateResult(True, order)

    def cancel_orders(self, order_ids: Iterable[str], now: float) -> list[CancelResult]:
        """Cancel each order: one result per id, in the order given; holds are released."""
        results = []
        for order_id in order_ids:
            order = self._book.get(order_id)
            if order is None:
                results.append(CancelResult(order_id, False, "UNKNOWN_CANCEL_ORDER"))
            elif order.status == Status.FILLED:
                results.append(CancelResult(order_id, False, "ORDER_IS_FULLY_FILLED"))
            elif not order.is_open:
                results.append(CancelResult(order_id, False, "DUPLICATE_CANCEL_REQUEST"))
            else:
                self._exec.finish(order, Status.CANCELLED, now, USER_CANCEL)
                results.append(CancelResult(order_id, True, "UNKNOWN_CANCEL_FAILURE_REASON"))
        return results

    def edit_order(
        self,
        order_id: str,
        *,
        price: Decimal,
        size: Decimal,
        stop_price: Decimal | None = None,
        now: float,
    ) -> EditResult:
        """Change an open GTC limit (or untriggered stop-limit) order's price, size and stop.

        ``size`` is the order's new total size (above what has filled). The order keeps its id,
        loses its time priority and holds what the new terms need; a limit edited to a
        marketable price (not post-only) takes at once, as a new order would.
        """
        order = self._book.get(order_id)
        if order is None:
            return EditResult(False, ["ORDER_NOT_FOUND"])
        product = self._products[order.product_id]
        last = self._last.get(product.product_id)
        reason = check_edit(
            order, product, price=price, size=size, stop_price=stop_price, last=last
        )
        if reason is not None:
            return EditResult(False, [reason])
        hold = hold_amount(order.side, product, price, size - order.filled_size, self._taker)
        if hold - order.hold > self._ledger.available(order.hold_currency):
            return EditResult(False, [INSUFFICIENT_FUND])
        self._ledger.set_hold(order, hold)
        order.limit_price, order.size = price, size
        if stop_price is not None:
            order.stop_price = stop_price
        order.edit_history.append(EditRecord(price, size, order.stop_price, now))
        self._book.requeue(order)
        self._exec.changed(order, now)
        self._take_on_arrival(order, now)
        return EditResult(True, [])

    def expire(self, now: float) -> list[SimOrder]:
        """Expire every open GTD order whose ``end_time <= now``; return them."""
        return self._expiries.expire(self._book, self._exec, now)

    def market_move(
        self, product_id: str, price: Decimal, volume: Decimal, now: float, *, gap: bool = False
    ) -> list[SimFill]:
        """The market trades from the last price to ``price`` with ``volume`` base units.

        ``gap=True`` is a jump (nothing traded in between): crossed stops take at the new
        price. Orders due to expire at ``now`` expire first. Returns this leg's fills in order.
        """
        self._require(product_id)
        price = _positive(price, "price")
        volume = to_decimal(volume, "volume")
        if volume < ZERO:
            raise MoneyError(f"volume must be >= 0, got {volume}")
        return self.move(product_id, price, volume, now, gap=gap)

    def move(
        self, product_id: str, price: Decimal, volume: Decimal, now: float, *, gap: bool = False
    ) -> list[SimFill]:
        """:meth:`market_move` for callers whose values are already checked (a known product,
        a Decimal price > 0, a Decimal volume >= 0): the backtester's hot path."""
        if now >= self._expiries.next:
            self.expire(now)
        self._exec.set_capacity(product_id, self._participation * volume)
        resting = self._book.open_orders(product_id)
        if not resting:  # nothing rests: the leg only moves the price
            self._last[product_id] = price
            return []
        prev = self._last.get(product_id)
        leg = Move(prev if prev is not None else price, price, gap or prev is None)
        plan: list[tuple[Decimal, SimOrder]] = []
        for order in resting:
            threshold, below = threshold_of(order)
            assert threshold is not None  # market orders never rest
            distance = reach(leg, threshold, below)
            if distance is not None:
                plan.append((distance, order))
        if not plan:  # nothing reached: the price moved past the book
            self._last[product_id] = price
            return []
        if len(plan) > 1:
            plan.sort(key=lambda item: item[0])  # stable: equal distance keeps time priority
        fills: list[SimFill] = []
        for _, order in plan:
            assert order.limit_price is not None
            if order.trigger_status == _PENDING:
                fills.extend(self._trigger(order, leg, now))
            else:
                fills.extend(self._exec.execute(order, order.limit_price, Liquidity.MAKER, now))
        self._last[product_id] = price
        return fills

    def drift(self, product_id: str, price: Decimal, volume: Decimal) -> None:
        """A leg that the caller has shown reaches nothing (:meth:`untouched`, through the
        leg's time): only the last price and the leg's liquidity change."""
        self._exec.set_capacity(product_id, self._participation * volume)
        self._last[product_id] = price

    # -- matching ---------------------------------------------------------------------------
    def _trigger(self, order: SimOrder, leg: Move, now: float) -> list[SimFill]:
        stop, below = threshold_of(order)  # while it waits: its stop and the way to it
        assert stop is not None and order.limit_price is not None
        order.trigger_status = TriggerStatus.TRIGGERED
        self._exec.changed(order, now)
        at = leg.trigger_price(stop, below)
        if crosses(order.side, order.limit_price, at):
            return self._exec.execute(order, at, Liquidity.TAKER, now)
        if not leg.gap and crosses(order.side, order.limit_price, leg.new):
            return self._exec.execute(order, order.limit_price, Liquidity.MAKER, now)
        return []

    def _take_on_arrival(self, order: SimOrder, now: float) -> None:
        """Execute a market order, or a marketable non-post-only limit, at the last price."""
        last = self._last.get(order.product_id)
        if order.order_type is OrderType.MARKET:
            assert last is not None
            if order.size is None:
                self._exec.buy_for_quote(order, last, now)
            else:
                self._exec.execute(order, last, Liquidity.TAKER, now)
        elif (
            order.order_type is OrderType.LIMIT
            and not order.post_only
            and last is not None
            and order.limit_price is not None
            and takes_on_arrival(order.side, order.limit_price, last)
        ):
            self._exec.execute(order, last, Liquidity.TAKER, now)
        if order.is_open and order.time_in_force == TimeInForce.IOC:
            self._exec.finish(order, Status.CANCELLED, now, IOC_CANCEL)

    # -- bookkeeping ------------------------------------------------------------------------
    def _require(self, product_id: str) -> Product:
        product = self._products.get(product_id)
        if product is None:
            raise KeyError(f"unknown product {product_id!r}")
        return product


def _positive(value: Decimal, what: str) -> Decimal:
    amount = to_decimal(value, what)
    if amount <= ZERO:
        raise MoneyError(f"{what} must be > 0, got {amount}")
    return amount


def _rate(value: Decimal, what: str) -> Decimal:
    rate = to_decimal(value, what)
    if not ZERO <= rate < 1:
        raise MoneyError(f"{what} must be in [0, 1), got {rate}")
    return rate
