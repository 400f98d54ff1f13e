"""Portfolio: the risk gate before every entry, with the quote balance read from the exchange."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from ratchet.domain.money import Product
from ratchet.domain.protections import ProtectionConfig, Protections
from ratchet.domain.reports import Balance
from ratchet.domain.risk import PortfolioConfig, RiskGate
from ratchet.engine import messages as m
from ratchet.engine.pair_trader import PairTrader
from ratchet.engine.portfolio import Portfolio
from ratchet.engine.run_history import RunHistory

D = Decimal
PAIRS = [f"P{i:02d}-USD" for i in range(20)]


class Account:
    """An exchange whose balance read takes a while and is counted."""

    def __init__(self, usd: str) -> None:
        self.usd = D(usd)
        self.reads = 0

    async def balances(self) -> dict[str, Balance]:
        self.reads += 1
        await asyncio.sleep(0.01)
        return {"USD": Balance("USD", self.usd)}


def portfolio(
    account: Account, *, max_positions: int = 20
) -> tuple[Portfolio, dict[str, PairTrader]]:
    traders = {pair: PairTrader(Product(pair, D("0.01"), D("0.01"), D("0.01"))) for pair in PAIRS}
    gate = RiskGate(
        PortfolioConfig(
            total_capital=D(1000), max_position_size_pct=D(10), max_positions=max_positions
        )
    )
    book = Portfolio(
        gate,
        Protections(ProtectionConfig(enabled=False), D(1000)),
        quote_currency="USD",
        traders=traders,
        exchange=account,  # type: ignore[arg-type]
        history=RunHistory(),
        last_prices={},
        now=time.time,
    )
    return book, traders


async def test_entries_asked_together_share_balance_reads_and_never_over_allocate() -> None:
    # Arrange: 20 pairs signal at the same candle close; 450 USD is free (4.5 entries of 100)
    account = Account("450")
    book, traders = portfolio(account)
    # Act
    answers = await asyncio.gather(*(book.approve_entry(t) for t in traders.values()))
    # Assert: two reads (one in flight when they arrived, one after), not twenty
    assert account.reads <= 2
    budgets = [a.budget for a in answers if isinstance(a, m.EntryApproved)]
    assert budgets == [D(100)] * 4 + [D(50)]  # all that is free, and not a unit more
    assert sum(book.reserved.values()) == D(450)
    assert sum(isinstance(a, m.EntryDenied) for a in answers) == 15


async def test_an_entry_asked_after_a_read_started_reads_again() -> None:
    account = Account("450")
    book, traders = portfolio(account)
    first, second = list(traders.values())[:2]
    await book.approve_entry(first)
    account.usd = D("50")  # meanwhile something else spent most of it
    answer = await book.approve_entry(second)

    assert account.reads == 2
    assert isinstance(answer, m.EntryDenied)


async def test_a_freed_reservation_makes_the_next_entry_read_the_balance_afresh() -> None:
    account = Account("1000")
    book, traders = portfolio(account)
    first, second = list(traders.values())[:2]
    started = time.monotonic()
    await book.approve_entry(first)
    book.settle_reservation(first, m.TimerFired(0.0))  # no entry came of it: budget freed
    assert "P00-USD" not in book.reserved
    await book._gate_verdict(second.pair, started)  # asked before the first read started

    assert account.reads == 2
