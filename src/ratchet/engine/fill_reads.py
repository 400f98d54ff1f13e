"""Reads of orders' fills, gathered: many orders' fills in one list-fills call.

A trader asks for an order's fills each time a report shows the order filled more. With many
pairs trading, those reads come many per second, and each one alone would be a signed REST
call and a reply to parse. Here the first read after a quiet spell starts a call after a short
gathering window (``gather`` seconds; 0: at once), and every read asked until the call goes
shares it; a read asked while a call is under way waits for that call to end, then goes in the
next one with every other read asked meanwhile. So a read waits at most the window and the one
call in front of it.

A read never takes its answer from a call that started before it was asked: a fill that made
the trader ask may be newer than that call's reply. A read may name the trade ids it already
knows: the call leaves those out before parsing (an order read after each of many partial
fills would otherwise parse all of them every time) — the ones every read of that order knows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from ratchet.domain.reports import FillReport

ListFills = Callable[..., Coroutine[Any, Any, list[FillReport]]]


class FillReads:
    """One list-fills call at a time, for every order whose fills were asked for meanwhile."""

    def __init__(self, list_fills: ListFills, gather: float = 0.0) -> None:
        self._list_fills = list_fills
        self._gather = gather  # seconds a call waits, after the read that starts it, for others
        self._waiting: dict[str, list[asyncio.Future[list[FillReport]]]] = {}
        self._known: dict[str, frozenset[str]] = {}  # per order: trade ids all its reads know
        self._caller: asyncio.Task[None] | None = None
        self.reads = 0  # reads asked for
        self.calls = 0  # list-fills calls made for them

    async def read(
        self, exchange_order_id: str, known: frozenset[str] = frozenset()
    ) -> list[FillReport]:
        """The order's fills (but perhaps not those whose trade ids are ``known``), from a
        call that started after this read was asked.

        Raises what the call raised (each reader retries on its own, as it would alone).
        """
        future: asyncio.Future[list[FillReport]] = asyncio.get_running_loop().create_future()
        futures = self._waiting.setdefault(exchange_order_id, [])
        before = self._known.get(exchange_order_id)
        self._known[exchange_order_id] = known if not futures or before is None else before & known
        futures.append(future)
        self.reads += 1
        if self._caller is None:
            self._caller = asyncio.create_task(self._call_while_asked(), name="fill reads")
        return await future

    async def close(self) -> None:
        """Stop the calls; reads still waiting are cancelled."""
        caller, self._caller = self._caller, None
        if caller is not None:
            caller.cancel()
            await asyncio.gather(caller, return_exceptions=True)
        for futures in self._waiting.values():
            for future in futures:
                future.cancel()
        self._waiting.clear()
        self._known.clear()

    async def _call_while_asked(self) -> None:
        try:
            if self._gather > 0:
                await asyncio.sleep(self._gather)
            while self._waiting:
                asked, self._waiting = self._waiting, {}
                known, self._known = self._known, {}
                await self._call(asked, frozenset().union(*known.values()))
        finally:
            self._caller = None

    async def _call(
        self, asked: dict[str, list[asyncio.Future[list[FillReport]]]], known: frozenset[str]
    ) -> None:
        self.calls += 1
        try:
            fills = await self._list_fills(exchange_order_ids=list(asked), skip_trade_ids=known)
        except asyncio.CancelledError:
            _cancel(asked.values())
            raise
        except Exception as error:  # every reader gets the failure and retries on its own
            for futures in asked.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        by_order: dict[str, list[FillReport]] = {}
        for fill in fills:
            by_order.setdefault(fill.exchange_order_id, []).append(fill)
        for order_id, futures in asked.items():
            for future in futures:
                if not future.done():
                    future.set_result(list(by_order.get(order_id, ())))


def _cancel(groups: Iterable[list[asyncio.Future[list[FillReport]]]]) -> None:
    for futures in groups:
        for future in futures:
            future.cancel()
