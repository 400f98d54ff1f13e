"""Properties of the matching core under random creates, retries, cancels, edits, moves, expiries.

Two products share BTC as their quote currency, so holds of one currency come from both books.
Whatever the sequence, after every step:

* no balance or hold is ever negative;
* a currency's hold is the sum of the holds of its open orders, and ended orders hold nothing;
* ``available + hold`` of every currency moved only by fills (bought and sold amounts, fees);
* every fee is ``price * size * rate`` rounded up to the quote increment;
* an order's filled size, value and fees are the sums of its fills, never above its size;
* there is one order per client order id, ever; a refused create stores nothing;
* fills of a market move happen at prices of that leg, or at the order's own crossed limit;
  fills on arrival happen at the last price; a leg's fills never exceed the participation cap.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ratchet.domain.money import Product, ceil_to
from ratchet.domain.order_types import OrderSide
from ratchet.sim.matching import (
    CreateOrderRequest,
    MatchingEngine,
    SimAccount,
    SimFill,
    SimOrder,
)

D = Decimal
NOW = 1_700_000_000.0
MAKER_RATE, TAKER_RATE = D("0.004"), D("0.006")
PARTICIPATION = D("0.5")
TERMINAL = {"FILLED", "CANCELLED", "EXPIRED", "FAILED"}

ADA_BTC = Product(
    "ADA-BTC",
    base_increment=D("1"),
    price_increment=D("0.00000001"),
    base_min_size=D("1"),
    quote_increment=D("0.00000001"),
)
ETH_BTC = Product(  # price * size is often finer than the quote increment here
    "ETH-BTC",
    base_increment=D("0.0001"),
    price_increment=D("0.00001"),
    base_min_size=D("0.001"),
    base_max_size=D("1"),
    quote_increment=D("0.00000001"),
)
PRODUCTS = {p.product_id: p for p in (ADA_BTC, ETH_BTC)}
SIZE_STEP = {"ADA-BTC": D("1"), "ETH-BTC": D("0.0001") * 10}
START = {"ADA-BTC": D("0.00005329"), "ETH-BTC": D("0.09000")}
INITIAL = {"BTC": D("0.5"), "ADA": D("3000"), "ETH": D("3")}

product_ids = st.sampled_from(sorted(PRODUCTS))
sides = st.sampled_from([OrderSide.BUY, OrderSide.SELL])
units = st.integers(1, 3000)
ticks = st.integers(-150, 150)


class MatchingMachine(RuleBasedStateMachine):
    """Random traffic against one engine, with its invariants checked after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = MatchingEngine(
            PRODUCTS.values(),
            INITIAL,
            maker_fee_rate=MAKER_RATE,
            taker_fee_rate=TAKER_RATE,
            participation=PARTICIPATION,
            seed=11,
        )
        for pid, price in START.items():
            self.engine.set_last_price(pid, price, liquidity=SIZE_STEP[pid] * 500)
        self.now = NOW
        self.serial = 0
        self.order_ids: list[str] = []

    # -- helpers ----------------------------------------------------------------------------
    def _cid(self) -> str:
        self.serial += 1
        return f"cid-{self.serial}"

    def _price(self, pid: str, offset: int) -> Decimal:
        tick = PRODUCTS[pid].price_increment
        last = self.engine.last_price(pid)
        assert last is not None
        return max(tick, last + offset * tick)

    def _create(self, req: CreateOrderRequest) -> None:
        fills_before = len(self.engine.fills())
        accounts_before = self.engine.accounts()
        last = self.engine.last_price(req.product_id)
        result = self.engine.create_order(req, self.now)
        new_fills = self.engine.fills()[fills_before:]
        if not result.success:
            assert result.order is None and result.failure_reason
            assert new_fills == []
            assert self.engine.accounts() == accounts_before
            assert self.engine.order_by_client_id(req.client_order_id) is None
            return
        assert result.order is not None
        self.order_ids.append(result.order.order_id)
        assert all((f.price, f.liquidity) == (last, "TAKER") for f in new_fills)

    def _pick(self, data: st.DataObject) -> SimOrder:
        order = self.engine.order(data.draw(st.sampled_from(self.order_ids)))
        assert order is not None
        return order

    # -- rules ------------------------------------------------------------------------------
    @initialize(
        ladder=st.lists(
            st.tuples(product_ids, sides, st.integers(1, 120), st.integers(1, 500)), max_size=8
        )
    )
    def resting_orders_around_the_price(
        self, ladder: list[tuple[str, OrderSide, int, int]]
    ) -> None:
        """Start with limits and stops on both sides of the market, so moves have work."""
        for pid, side, distance, n in ladder:
            below = side is OrderSide.BUY
            away = -distance if below else distance
            self.create_limit(pid=pid, side=side, n=n, offset=away, post_only=False, ttl=None)
            self.create_stop(pid, OrderSide.SELL if below else OrderSide.BUY, n, distance, 0)

    @rule(
        pid=product_ids,
        side=sides,
        n=units,
        offset=ticks,
        post_only=st.booleans(),
        ttl=st.sampled_from([None, 60.0, 600.0]),
    )
    def create_limit(
        self,
        *,
        pid: str,
        side: OrderSide,
        n: int,
        offset: int,
        post_only: bool,
        ttl: float | None,
    ) -> None:
        end_time = None if ttl is None else self.now + ttl
        req = CreateOrderRequest.limit(
            self._cid(),
            pid,
            side,
            n * SIZE_STEP[pid],
            self._price(pid, offset),
            post_only=post_only,
            end_time=end_time,
        )
        self._create(req)

    @rule(
        pid=product_ids,
        side=sides,
        n=units,
        distance=st.integers(0, 150),
        spread=st.integers(-30, 30),
    )
    def create_stop(self, pid: str, side: OrderSide, n: int, distance: int, spread: int) -> None:
        # a protective sell stop sits below the market, a buy stop above it
        down = side is OrderSide.SELL
        away = -distance if down else distance
        stop_price, limit_price = self._price(pid, away), self._price(pid, away + spread)
        req = CreateOrderRequest.stop_limit(
            self._cid(),
            pid,
            side,
            n * SIZE_STEP[pid],
            limit_price,
            stop_price=stop_price,
            direction="STOP_DIRECTION_STOP_DOWN" if down else "STOP_DIRECTION_STOP_UP",
        )
        self._create(req)

    @rule(pid=product_ids, side=sides, n=units, in_quote=st.booleans())
    def create_market(self, pid: str, side: OrderSide, n: int, in_quote: bool) -> None:
        size = n * SIZE_STEP[pid]
        if side is OrderSide.BUY and in_quote:
            quote = ceil_to(size * self._price(pid, 0), PRODUCTS[pid].quote_tick)
            req = CreateOrderRequest.market(self._cid(), pid, side, quote_size=quote)
        else:
            req = CreateOrderRequest.market(self._cid(), pid, side, base_size=size)
        self._create(req)

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data(), n=units, offset=ticks)
    def retry_with_a_used_client_order_id(self, data: st.DataObject, n: int, offset: int) -> None:
        order = self._pick(data)
        before = (self.engine.accounts(), len(self.engine.fills()), len(self.engine.orders()))
        req = CreateOrderRequest.limit(
            order.client_order_id,
            order.product_id,
            OrderSide.BUY,
            n * SIZE_STEP[order.product_id],
            self._price(order.product_id, offset),
        )
        result = self.engine.create_order(req, self.now)
        assert result.success and result.order is order
        after = (self.engine.accounts(), len(self.engine.fills()), len(self.engine.orders()))
        assert after == before

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order = self._pick(data)
        was = order.status
        [result] = self.engine.cancel_orders([order.order_id], self.now)
        expected = {
            "OPEN": (True, "UNKNOWN_CANCEL_FAILURE_REASON"),
            "FILLED": (False, "ORDER_IS_FULLY_FILLED"),
        }.get(was, (False, "DUPLICATE_CANCEL_REQUEST"))
        assert (result.success, result.failure_reason) == expected
        if result.success:
            assert (order.status, order.hold) == ("CANCELLED", D(0))

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data(), n=units, offset=ticks, stop_offset=st.none() | st.integers(-100, -1))
    def edit(self, data: st.DataObject, n: int, offset: int, stop_offset: int | None) -> None:
        order = self._pick(data)
        before = order.snapshot()
        size = order.filled_size + n * SIZE_STEP[order.product_id]
        price = self._price(order.product_id, offset)
        stop_price = None if stop_offset is None else self._price(order.product_id, stop_offset)
        if order.stop_direction == "STOP_DIRECTION_STOP_UP" and stop_offset is not None:
            stop_price = self._price(order.product_id, -stop_offset)
        result = self.engine.edit_order(
            order.order_id, price=price, size=size, stop_price=stop_price, now=self.now
        )
        if result.success:
            assert order.order_id == before.order_id
            assert (order.limit_price, order.size) == (price, size)
            assert len(order.edit_history) == len(before.edit_history) + 1
        else:
            assert len(result.errors) == 1
            assert order == before

    @rule(
        pid=product_ids,
        offset=st.integers(-200, 200),
        volume=st.integers(0, 3000),
        gap=st.booleans(),
        dt=st.integers(1, 120),
    )
    def market_move(self, pid: str, offset: int, volume: int, gap: bool, dt: int) -> None:
        self.now += dt
        prev = self.engine.last_price(pid)
        assert prev is not None
        new = self._price(pid, offset)
        traded = volume * SIZE_STEP[pid]
        holds = {o.order_id: o.hold for o in self.engine.orders(statuses=["OPEN"])}
        fills = self.engine.market_move(pid, new, traded, self.now, gap=gap)
        self._check_fills_consumed_the_holds(holds, fills)
        low, high = min(prev, new), max(prev, new)
        for fill in fills:
            order = self.engine.order(fill.order_id)
            assert order is not None and fill.product_id == pid and fill.time == self.now
            own_crossed_limit = fill.price == order.limit_price and (
                low <= fill.price if order.side is OrderSide.BUY else high >= fill.price
            )
            assert low <= fill.price <= high or own_crossed_limit
        assert sum((f.size for f in fills), D(0)) <= PARTICIPATION * traded
        assert self.engine.last_price(pid) == new

    def _check_fills_consumed_the_holds(
        self, holds: dict[str, Decimal], fills: list[SimFill]
    ) -> None:
        """An order still open after its fills holds what it held, less what the fills used."""
        used: dict[str, Decimal] = defaultdict(Decimal)
        for fill in fills:
            buy = fill.side is OrderSide.BUY
            used[fill.order_id] += fill.value + fill.commission if buy else fill.size
        for order_id, amount in used.items():
            order = self.engine.order(order_id)
            assert order is not None
            if order.is_open:
                assert order.hold == max(D(0), holds[order_id] - amount), order

    @rule(dt=st.integers(1, 700))
    def expire(self, dt: int) -> None:
        self.now += dt
        for order in self.engine.expire(self.now):
            assert order.end_time is not None and order.end_time <= self.now
            assert (order.status, order.hold) == ("EXPIRED", D(0))
        assert not any(
            o.end_time is not None and o.end_time <= self.now
            for o in self.engine.orders(statuses=["OPEN"])
        )

    # -- invariants -------------------------------------------------------------------------
    def _accounts(self) -> dict[str, SimAccount]:
        return {account.currency: account for account in self.engine.accounts()}

    @invariant()
    def balances_are_never_negative(self) -> None:
        for account in self.engine.accounts():
            assert account.available >= 0 and account.hold >= 0, account

    @invariant()
    def holds_are_the_holds_of_open_orders(self) -> None:
        held: dict[str, Decimal] = defaultdict(Decimal)
        for order in self.engine.orders():
            if order.status in TERMINAL:
                assert order.hold == 0, order
            else:
                assert order.hold >= 0
                held[order.hold_currency] += order.hold
        for currency, account in self._accounts().items():
            assert account.hold == held[currency], currency

    @invariant()
    def totals_move_only_by_fills(self) -> None:
        expected = defaultdict(Decimal, INITIAL)
        for fill in self.engine.fills():
            product = PRODUCTS[fill.product_id]
            sign = 1 if fill.side is OrderSide.BUY else -1
            expected[product.base_currency] += sign * fill.size
            expected[product.quote_currency] -= sign * fill.value + fill.commission
        for currency, account in self._accounts().items():
            assert account.total == expected[currency], currency

    @invariant()
    def fees_are_exact_to_the_increment(self) -> None:
        for fill in self.engine.fills():
            rate = MAKER_RATE if fill.liquidity == "MAKER" else TAKER_RATE
            tick = PRODUCTS[fill.product_id].quote_tick
            assert fill.commission == ceil_to(fill.value * rate, tick)

    @invariant()
    def orders_agree_with_their_fills(self) -> None:
        sums: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0), D(0)])
        for fill in self.engine.fills():
            total = sums[fill.order_id]
            total[0] += fill.size
            total[1] += fill.value
            total[2] += fill.commission
        for order in self.engine.orders():
            size, value, fees = sums[order.order_id]
            assert (order.filled_size, order.filled_value, order.total_fees) == (size, value, fees)
            if order.size is not None:
                assert order.filled_size <= order.size
                assert (order.status == "FILLED") == (order.filled_size == order.size)

    @invariant()
    def one_order_per_client_order_id(self) -> None:
        orders = self.engine.orders()
        assert len({o.client_order_id for o in orders}) == len(orders) == len(self.order_ids)
        sequences = [f.sequence for f in self.engine.fills()]
        assert sequences == list(range(1, len(sequences) + 1))


MatchingMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMatchingProperties = MatchingMachine.TestCase
