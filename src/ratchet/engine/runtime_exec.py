"""Carrying out a trader's commands against the ports, and feeding the results back as events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from ratchet.domain.orders import Order, OrderType
from ratchet.domain.reports import FillReport, OrderReport
from ratchet.engine import failpoints
from ratchet.engine import messages as m
from ratchet.engine.fill_reads import FillReads
from ratchet.engine.pair_trader import PairTrader
from ratchet.ports import ExchangeError, OrderNotFound, OrderRefused, Resynced

if TYPE_CHECKING:
    from ratchet.engine.runtime import Runtime

log = logging.getLogger("ratchet.engine")

READ_ATTEMPTS = 8  # reads of fills / order state (each already retried by the adapter)
READ_PAUSE = 0.25  # seconds, doubled per attempt
READ_PAUSE_MAX = 10.0
FILL_READ_GATHER = 0.02
"""Seconds a fills read waits for others to share its call: at 100 pairs with partial fills,
about half as many calls (the exchange's rate limit is 30 private calls/s), for at most 20 ms
more before a fill is known."""


class CommandExecutor:
    """Runs each command in its own task; results are posted to the pair's queue."""

    def __init__(
        self,
        runtime: Runtime,
        submit: asyncio.Semaphore,
        fill_read_gather: float = FILL_READ_GATHER,
    ) -> None:
        self._runtime = runtime
        self._submit = submit
        self._tasks: set[asyncio.Task[None]] = set()
        # reads of an order's fills in flight, by client_order_id: True when asked again
        # meanwhile (one more read follows, started after the ask: N asks cost at most two)
        self._reading: dict[str, bool] = {}
        self.coalesced_reads = 0
        # fills reads of many orders share one list-fills call (see FillReads)
        self.fill_reads = FillReads(self._list_fills, gather=fill_read_gather)
        # per pair: the decision whose commands wait for its write-ahead batch (and after it,
        # the pair's later commands)
        self._held: dict[str, asyncio.Task[None]] = {}
        # the first edit the exchange accepts is read back; one that kept other terms turns
        # edits off for the run (every stop then moves by cancel and replace)
        self._edits_checked = False
        self.edits_off = ""

    @property
    def busy(self) -> bool:
        """True while a command is still running."""
        return bool(self._tasks)

    def start(self, trader: PairTrader, command: m.EngineCommand) -> None:
        """Carry out ``command`` in the background (a read of an order's fills while one is in
        flight is folded into a single read after it)."""
        if isinstance(command, m.FetchFills):
            cid = command.order.client_order_id
            if cid in self._reading:
                self._reading[cid] = True
                self.coalesced_reads += 1
                return
            self._reading[cid] = False
        task = asyncio.create_task(self._run(trader, command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_after(
        self,
        trader: PairTrader,
        commands: Sequence[m.EngineCommand],
        written: Awaitable[object] | None,
        failpoint: str | None = None,
    ) -> None:
        """Carry out one decision's ``commands`` once ``written`` (its write-ahead batch) is
        on disk and the pair's earlier commands have started; at once when nothing is pending.

        A failed write runs none of them (their intent may not be durable). ``failpoint`` is
        hit between the write and the commands.
        """
        pair = trader.pair
        before = self._held.get(pair)
        if written is None and before is None:
            for command in commands:
                self.start(trader, command)
            return
        task = asyncio.create_task(
            self._start_when_written(trader, list(commands), before, written, failpoint)
        )
        self._held[pair] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._release(pair, done))

    def _release(self, pair: str, task: asyncio.Task[None]) -> None:
        if self._held.get(pair) is task:
            del self._held[pair]

    async def _start_when_written(
        self,
        trader: PairTrader,
        commands: list[m.EngineCommand],
        before: asyncio.Task[None] | None,
        written: Awaitable[object] | None,
        failpoint: str | None,
    ) -> None:
        if before is not None:
            await asyncio.wait([before])  # the pair's earlier commands go first
        if written is not None:
            try:
                await asyncio.shield(written)  # a cancelled wait must not cancel the write
            except Exception:
                log.exception(
                    "write-ahead failed: commands not carried out",
                    extra={
                        "pair": trader.pair,
                        "commands": ", ".join(type(c).__name__ for c in commands),
                    },
                )
                return
        if failpoint:
            failpoints.hit(failpoint)
        for command in commands:
            self.start(trader, command)

    async def wait(self) -> None:
        """Wait for every running command."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, trader: PairTrader, command: m.EngineCommand) -> None:
        try:
            await self._run_once(trader, command)
        finally:
            again = isinstance(command, m.FetchFills) and self._reading.pop(
                command.order.client_order_id, False
            )
        if again and isinstance(command, m.FetchFills):
            # asked again while this read ran: read once more, the order's state too
            self.start(trader, m.FetchFills(command.order))

    async def _run_once(self, trader: PairTrader, command: m.EngineCommand) -> None:
        order = getattr(command, "order", None)
        ids = {"pair": trader.pair, "command": type(command).__name__}
        if order is not None:
            ids["client_order_id"] = order.client_order_id
            ids["position_id"] = trader.position.position_id if trader.position else ""
        log.info("command", extra=ids)
        try:
            events = await self._carry_out_rereading(trader, command)
        except ExchangeError as exc:
            log.warning("command failed", extra={"pair": trader.pair, "error": str(exc)})
            events = self._failure(command, str(exc))
        except Exception:
            log.exception("command crashed", extra={"pair": trader.pair})
            events = self._failure(command, "internal error")
        for event in events:
            log.info("result", extra={**ids, "outcome": type(event).__name__})
            self._runtime.post(trader.pair, event)

    async def _carry_out_rereading(
        self, trader: PairTrader, command: m.EngineCommand
    ) -> list[m.EngineEvent]:
        """Carry out ``command``; a read of an order's fills or state that fails is tried again.

        A read that fails every attempt is handed back to the trader (``ReadFailed``), which
        asks again later: a lost read is a fill never counted and a position nobody protects.
        """
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return await self._carry_out(trader, command)
            except ExchangeError as exc:
                if not isinstance(command, m.FetchFills | m.LookUpOrder) or (
                    attempt == READ_ATTEMPTS
                ):
                    raise
                log.warning("read failed; again", extra={"pair": trader.pair, "error": str(exc)})
                await asyncio.sleep(min(READ_PAUSE_MAX, READ_PAUSE * 2**attempt))
        raise AssertionError("unreachable")

    async def _carry_out(self, trader: PairTrader, command: m.EngineCommand) -> list[m.EngineEvent]:
        exchange = self._runtime.exchange
        if isinstance(command, m.RequestEntry):
            return [await self._runtime.portfolio.approve_entry(trader)]
        if isinstance(command, m.PlaceOrder):
            failpoints.hit("after_intent")
            async with self._submit:
                try:
                    report = await exchange.place_order(command.order)
                except OrderRefused as exc:
                    return [m.OrderRefusedByExchange(command.order.client_order_id, exc.reason)]
            failpoints.hit("after_send")
            return [m.OrderPlaced(command.order.client_order_id, report.exchange_order_id)]
        if isinstance(command, m.CancelOrder):
            return await self._cancel(command.order)
        if isinstance(command, m.EditOrder):
            return await self._edit(command)
        if isinstance(command, m.LookUpOrder):
            return await self._look_up(command.order)
        return await self._fills(command.order, command.report)

    async def _look_up(self, order: Order) -> list[m.EngineEvent]:
        found = await self._runtime.exchange.find_order(order.client_order_id)
        if found is None:
            return [m.OrderNotOnExchange(order.client_order_id)]
        return [m.OrderUpdated(found)]

    async def _cancel(self, order: Order) -> list[m.EngineEvent]:
        if order.exchange_order_id is None:
            return [m.CancelAnswered(order.client_order_id, False, "not on the exchange yet")]
        async with self._submit:
            [result] = await self._runtime.exchange.cancel_orders([order.exchange_order_id])
        if result.success and order.order_type is OrderType.STOP_LIMIT:
            failpoints.hit("during_replace")
        answer = m.CancelAnswered(order.client_order_id, result.success, result.reason)
        events: list[m.EngineEvent] = [answer]
        if not result.success:  # e.g. filled meanwhile: read the truth
            events.extend(await self._truth(order))
        return events

    async def _edit(self, command: m.EditOrder) -> list[m.EngineEvent]:
        """Edit the order's terms: applied as asked (EditAnswered success) or not at all."""
        order, terms = command.order, command.terms
        cid, exchange_id = order.client_order_id, order.exchange_order_id
        if exchange_id is None or self.edits_off:
            return [m.EditAnswered(cid, terms, False, self.edits_off or "not on the exchange yet")]
        exchange = self._runtime.exchange
        async with self._submit:
            result = await exchange.edit_order(
                exchange_id,
                size=terms.size,
                limit_price=command.limit_price,
                stop_price=terms.stop_price,
            )
        if not result.success:
            return [m.EditAnswered(cid, terms, False, f"edit refused: {result.reason}")]
        failpoints.hit("during_edit")
        if self._edits_checked:
            return [m.EditAnswered(cid, terms, True)]
        report = await exchange.get_order(exchange_id)
        asked = (terms.size, terms.limit_price, terms.stop_price)
        if (report.size, report.limit_price, report.stop_price) == asked:
            self._edits_checked = True
            return [m.EditAnswered(cid, terms, True), m.OrderUpdated(report)]
        self.edits_off = (
            f"the exchange accepted an edit of {cid} to size/limit/stop {asked} but kept "
            f"{(report.size, report.limit_price, report.stop_price)}: stops move by cancel "
            "and replace for the rest of this run"
        )
        log.error("edits turned off", extra={"client_order_id": cid, "reason": self.edits_off})
        return [m.EditAnswered(cid, terms, False, self.edits_off), m.OrderUpdated(report)]

    async def _fills(self, order: Order, report: OrderReport | None) -> list[m.EngineEvent]:
        """The order's fills (and state). Asked by a report: its fills, then that report (if
        the list lags it, the report asks again). Asked without one (after a cancel, a
        resync): the order first, and its fills only when it has more filled than we know
        (most cancelled stops have none: one read instead of two)."""
        if order.exchange_order_id is None:
            return []
        if report is not None:
            return [*await self._fill_list(order), m.OrderUpdated(report)]
        done = m.OrderRead(order.client_order_id)
        truth = await self._truth(order)
        if not truth:  # not found by id: what fills it has are all there is to know
            return [*await self._fill_list(order), done]
        [updated] = truth
        assert isinstance(updated, m.OrderUpdated)
        if updated.report.filled_size <= order.filled_size:
            return [*truth, done]
        # fills we lack: read them, then hand on the report read first (it may be older than
        # a fill in the list, which is harmless: a report only ever moves an order forward);
        # two reads, as few as before, so a flaky exchange fails this no more often
        return [*await self._fill_list(order), *truth, done]

    async def _fill_list(self, order: Order) -> list[m.EngineEvent]:
        assert order.exchange_order_id is not None
        known = frozenset(fill.trade_id for fill in order.fills)  # the trader has these
        fills = await self.fill_reads.read(order.exchange_order_id, known)
        return [m.FillsReported(tuple(fills))] if fills else []

    async def _list_fills(self, **filters: Any) -> list[FillReport]:
        return await self._runtime.exchange.list_fills(**filters)

    async def _truth(self, order: Order) -> list[m.EngineEvent]:
        if order.exchange_order_id is None:
            return []
        try:
            report = await self._runtime.exchange.get_order(order.exchange_order_id)
        except OrderNotFound:
            return []
        return [m.OrderUpdated(report)]

    def _failure(self, command: m.EngineCommand, reason: str) -> list[m.EngineEvent]:
        if isinstance(command, m.PlaceOrder):
            return [m.OrderSendFailed(command.order.client_order_id, reason)]
        if isinstance(command, m.RequestEntry):
            return [m.EntryDenied(f"risk gate unavailable: {reason}")]
        if isinstance(command, m.CancelOrder):
            return [m.CancelAnswered(command.order.client_order_id, False, reason)]
        if isinstance(command, m.EditOrder):  # applied or not: the trader cancels and replaces
            return [m.EditAnswered(command.order.client_order_id, command.terms, False, reason)]
        return [m.ReadFailed(command)]

    def resync(self, event: Resynced) -> None:
        """After a reconnect or gap: re-read the fills and state of every working order."""
        log.info("resync", extra={"reason": event.reason, "open_orders": len(event.orders)})
        for trader in self._runtime.traders.values():
            for order in trader.orders():
                if order.exchange_order_id and not order.is_done:
                    self.start(trader, m.FetchFills(order))
