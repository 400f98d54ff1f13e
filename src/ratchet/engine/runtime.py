"""``Runtime``: runs many PairTraders against the ports (live and paper trading).

The one rule: never block the event loop. Each pair has its own queue and worker, so one pair's
events are handled in order while pairs run side by side. For every decision the runtime first
commits the batch to the store (write-ahead: an order's intent is durable before it is sent),
then carries out the commands in background tasks whose results come back as events. Order
submission goes through one semaphore (and the adapter's rate limiter).

Time is the market's: the newest ticker time seen (the wall clock until then), so a replay at
any speed sees the same intervals as live trading.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from decimal import Decimal

from ratchet.domain.candles import CANDLE_SECONDS
from ratchet.domain.ids import ClientOrderId
from ratchet.domain.orders import OperatorAction, OperatorCommand
from ratchet.domain.protections import ProtectionConfig, Protections
from ratchet.domain.risk import RiskGate
from ratchet.engine import messages as m
from ratchet.engine.candle_closer import CandleCloser
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.portfolio import Portfolio
from ratchet.engine.reconcile import ReconcileReport, reconcile
from ratchet.engine.risk_watch import RISK_ACTOR
from ratchet.engine.run_history import RunHistory, RuntimeStats
from ratchet.engine.runtime_exec import CommandExecutor
from ratchet.ports import (
    AuditEntry,
    CandleEvent,
    Exchange,
    MarketData,
    MarketEvent,
    OrderUpdateEvent,
    Resynced,
    StateBatch,
    Store,
    TickerEvent,
)

log = logging.getLogger("ratchet.engine")
SHUTDOWN_TIMEOUT = 60.0  # seconds a stop move under way may take to finish at shutdown


class Runtime:
    """Many pairs, one exchange, one feed, one store, one risk gate."""

    def __init__(
        self,
        exchange: Exchange,
        feed: MarketData,
        store: Store,
        traders: Mapping[str, PairTrader],
        gate: RiskGate,
        *,
        quote_currency: str,
        submit_concurrency: int = 8,
        timer_interval: float = 1.0,
        protections: Protections | None = None,
    ) -> None:
        self.exchange = exchange
        self.feed = feed
        self.store = store
        self.traders = dict(traders)
        self.quote_currency = quote_currency
        self.stats = RuntimeStats()
        self.history = RunHistory()
        # set to a list to sample ticks: (market time, taken from the feed, decided), perf_counter
        self.tick_samples: list[tuple[float, float, float]] | None = None
        self.market_time = 0.0
        self.last_prices: dict[str, Decimal] = {}
        self.portfolio = Portfolio(
            gate,
            protections or Protections(ProtectionConfig(enabled=False), gate.config.total_capital),
            quote_currency=quote_currency,
            traders=self.traders,
            exchange=exchange,
            history=self.history,
            last_prices=self.last_prices,
            now=self.now,
        )
        self.gate, self.risk = gate, self.portfolio.risk
        self._queues: dict[str, asyncio.Queue[m.EngineEvent]] = {
            pair: asyncio.Queue() for pair in self.traders
        }
        self._closers = {pair: CandleCloser() for pair in self.traders}
        self._executor = CommandExecutor(self, asyncio.Semaphore(submit_concurrency))
        self._timer_interval = timer_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._handling = False  # a trader is handling an event (an event posted now queues)
        # events whose decision somebody waits for (see ask): by id, with the event kept alive
        self._asked: dict[int, tuple[m.EngineEvent, asyncio.Future[m.Decision]]] = {}
        self._prefixes = {trader.settings.id_prefix for trader in self.traders.values()}

    def __repr__(self) -> str:
        return f"Runtime(pairs={len(self.traders)}, events={self.stats.events})"

    @property
    def running(self) -> bool:
        """True between :meth:`run`'s start and its end."""
        return bool(self._tasks)

    def now(self) -> float:
        """Market time: the newest ticker time seen, else the wall clock."""
        return self.market_time or time.time()

    # -- running ---------------------------------------------------------------------------
    async def warm_up(self, candles: int = 60) -> None:
        """Feed each pair's recent closed candles to its indicators (no trading on them)."""
        end = int(await self.exchange.server_time())
        start = end - candles * CANDLE_SECONDS
        for pair, trader in self.traders.items():
            history = await self.exchange.candles(pair, start, end)
            trader.warm_up(history)
            if history:
                self._closers[pair].mark_closed(history[-1].start)

    async def restore(self) -> ReconcileReport:
        """Warm up, hydrate the traders from the store and reconcile with the exchange."""
        await self.warm_up()
        products = {pair: trader.product for pair, trader in self.traders.items()}
        state = await self.store.load(products)
        prefix = next(iter(self._prefixes))
        report = await reconcile(self.exchange, self.traders, state, prefix=prefix, now=self.now())
        if report.batch:
            await self.store.commit(report.batch)
        for pair, events in report.events.items():
            for event in events:
                self.post(pair, event)
        for line in report.lines():
            log.warning("reconcile", extra={"line": line})
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then let the queues drain and return."""
        for pair in self.traders:
            self._tasks.append(asyncio.create_task(self._worker(pair), name=f"pair {pair}"))
        self._tasks.append(asyncio.create_task(self._timer(), name="timer"))
        self.feed.listen(self._on_feed_event)  # each event handled as soon as it is read
        try:
            await stop.wait()
        finally:
            self.feed.listen(None)
        # start no new stop move, and let one under way finish: a stop cancelled for a move
        # must be replaced before the engine goes, or the position is left bare
        for trader in self.traders.values():
            trader.stops.hold_moves = True
        await self.drain(SHUTDOWN_TIMEOUT, until_stops_rest=True)
        moving = [pair for pair, trader in self.traders.items() if trader.stops.moving]
        if moving:
            log.error("stopping with a stop move unfinished", extra={"pairs": ", ".join(moving)})
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("engine task failed", exc_info=result)
        self._tasks.clear()
        await self._executor.wait()
        await self._executor.fill_reads.close()

    async def drain(self, timeout: float = 5.0, *, until_stops_rest: bool = False) -> None:
        """Wait (a while) until every queued event and running command is done (and with
        ``until_stops_rest``, until no stop move is under way)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = any(not q.empty() for q in self._queues.values()) or self._executor.busy
            if until_stops_rest:
                busy = busy or any(t.stops.moving for t in self.traders.values())
            if not busy:
                return
            await asyncio.sleep(0.01)

    def post(self, pair: str, event: m.EngineEvent) -> None:
        """Hand an event to one pair: at once while the engine runs and the pair has nothing
        queued, else behind what is queued. Handling never awaits, so a pair with an empty
        queue is idle, and taking the event at once keeps the pair's order (and spares the
        hop through its queue and worker task)."""
        queue = self._queues[pair]
        if queue.empty() and self._tasks and not self._handling:
            self._take(self.traders[pair], event)
        else:
            queue.put_nowait(event)

    async def _worker(self, pair: str) -> None:
        queue, trader = self._queues[pair], self.traders[pair]
        while True:
            event = await queue.get()
            try:
                self._take(trader, event)
            finally:
                queue.task_done()

    def ask(self, pair: str, event: m.EngineEvent) -> asyncio.Future[m.Decision]:
        """Post ``event`` and get the trader's decision on it (its commands and its audit):
        for an operator who waits to hear whether a request went through."""
        answer: asyncio.Future[m.Decision] = asyncio.get_running_loop().create_future()
        self._asked[id(event)] = (event, answer)
        self.post(pair, event)
        return answer

    def _take(self, trader: PairTrader, event: m.EngineEvent) -> None:
        self._handling = True
        asked = self._asked.pop(id(event), None) if self._asked else None
        try:
            decision = self._handle(trader, event)
        except Exception as exc:  # one bad event must not stop the pair: log it loudly
            log.exception("event failed", extra={"pair": trader.pair, "event": repr(event)})
            if asked is not None and not asked[1].done():
                asked[1].set_exception(exc)
        else:
            if asked is not None and not asked[1].done():
                asked[1].set_result(decision)
        finally:
            self._handling = False

    def _handle(self, trader: PairTrader, event: m.EngineEvent) -> m.Decision:
        """One event, start to end, without awaiting: the trader's decision, its write queued
        (write-ahead: the decision's commands wait for it, the pair does not) and its
        commands handed to the executor."""
        self.stats.events += 1
        taken = event
        refusal: AuditEntry | None = None
        if self.risk.liquidated and isinstance(event, m.EntryApproved | m.EntryRequestedByOperator):
            # approved (or asked for) just before the emergency liquidation latched
            taken = m.EntryDenied("emergency liquidation: no new entries")
            if isinstance(event, m.EntryRequestedByOperator):
                refusal = AuditEntry(
                    self.now(),
                    event.action.actor,
                    "manual entry refused",
                    trader.pair,
                    "emergency liquidation: no new entries until the engine is restarted",
                )
        decision = trader.handle(taken, self.now())
        if refusal is not None:
            decision.batch.audit.append(refusal)
        if self.tick_samples is not None and isinstance(event, m.PriceTick) and event.received:
            self.tick_samples.append((event.time, event.received, time.perf_counter()))
        written = self._write(decision) if decision.batch else None
        self.portfolio.settle_reservation(trader, event)
        if decision.commands:
            self.stats.commands += len(decision.commands)
            failpoint = (
                "after_fill"
                if decision.batch.fills
                and any(isinstance(c, m.PlaceOrder) for c in decision.commands)
                else None
            )
            self._executor.start_after(trader, decision.commands, written, failpoint)
        return decision

    def _write(self, decision: m.Decision) -> asyncio.Future[list[None]] | None:
        """Queue the decision's batch (the store's writer is FIFO); return what its commands
        must wait for (None when it has none).

        Write-ahead: the commands of a decision run only once its batch is on disk, but the
        pair does not wait for the disk: its next events are handled meanwhile (the trader's
        state is the same either way), and its later commands queue behind these (the
        executor keeps each pair's commands in order).
        """
        batch, urgent = decision.batch, bool(decision.commands)
        writes = [self.store.submit(batch, urgent=urgent)]
        self.stats.commits += 1
        self.history.take(batch)
        notes = self.portfolio.protect(batch)
        if notes:
            writes.append(self.store.submit(StateBatch(audit=notes), urgent=urgent))
        if decision.commands:
            return asyncio.gather(*writes)
        for written in writes:
            written.add_done_callback(_report_write_failure)
        return None

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(self._timer_interval)
            try:
                now = self.now()
                for pair in self.traders:
                    for candle in self._closers[pair].advance(now):
                        self.post(pair, m.CandleClosed(candle))
                    self.post(pair, m.TimerFired(now))
                await self._watch_risk(now)
            except Exception:  # one failed round (e.g. an audit write) must not end the timer
                log.exception("timer round failed")

    async def _watch_risk(self, now: float) -> None:
        # the loss threshold counts this run only: the realised P&L of positions closed since
        # the engine started plus what is open now (earlier runs' results neither trigger a
        # liquidation at start nor hide today's loss)
        metrics = self.portfolio.metrics(this_run_only=True)
        findings = self.risk.look(metrics, now)
        if findings.audit:
            await self.store.commit(StateBatch(audit=list(findings.audit)))
        if findings.liquidate:
            action = OperatorAction(
                OperatorCommand.EMERGENCY_LIQUIDATION, RISK_ACTOR, findings.liquidate, int(now)
            )
            self.liquidate(action)

    # -- the feed ------------------------------------------------------------------------------
    def _on_feed_event(self, event: MarketEvent) -> None:
        """One event from the feed, taken in the task that read it (nothing here awaits)."""
        if isinstance(event, TickerEvent):
            ticker = event.ticker
            if ticker.product_id in self.traders:
                self.market_time = max(self.market_time, ticker.time)
                self.last_prices[ticker.product_id] = ticker.price
                received = event.received or time.perf_counter()
                tick = m.PriceTick(ticker.price, ticker.time, received)
                self.post(ticker.product_id, tick)
        elif isinstance(event, CandleEvent):
            if event.product_id in self.traders:
                for candle in self._closers[event.product_id].update(event.candle):
                    self.post(event.product_id, m.CandleClosed(candle))
        elif isinstance(event, OrderUpdateEvent):
            self._route_report(event)
        elif isinstance(event, Resynced):
            self._executor.resync(event)

    def _route_report(self, event: OrderUpdateEvent) -> None:
        report = event.report
        for prefix in self._prefixes:
            if ClientOrderId.parse(report.client_order_id, prefix) is not None:
                break
        else:
            self.stats.ignored += 1  # not ours: reconciliation deals with foreign orders
            return
        if report.product_id in self.traders:
            self.post(report.product_id, m.OrderUpdated(report))

    # -- operator commands ------------------------------------------------------------------------
    def force_exit(self, pair: str, action: OperatorAction) -> None:
        """Exit one pair's position now: cancel what rests, then sell at market (audited)."""
        if pair not in self.traders:
            raise KeyError(f"no trader for {pair}")
        self.post(pair, m.ForceExitRequested(action))

    def liquidate(self, action: OperatorAction) -> None:
        """Emergency liquidation: force-exit every pair."""
        for pair in self.traders:
            self.post(pair, m.ForceExitRequested(action))

    # -- the risk gate ---------------------------------------------------------------------------


def _report_write_failure(written: asyncio.Future[None]) -> None:
    """Log (loudly) a write nobody awaited that failed (its state is lost until the next
    write of the same rows, or a restart's reconciliation)."""
    if not written.cancelled() and written.exception() is not None:
        log.error("state write failed", exc_info=written.exception())
