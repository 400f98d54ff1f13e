"""Trade rows, per-pair and total stats, and the deterministic JSON document."""

from __future__ import annotations

import json
from decimal import Decimal

from ratchet.backtest.runner import PairResult, run_all
from ratchet.backtest.summary import report_json, summarize
from ratchet.domain.candles import Candle
from ratchet.engine.settings import TraderSettings


def test_pair_stats_add_up_to_the_total(demo_results: dict[str, PairResult]) -> None:
    summary = summarize(demo_results)
    assert list(summary.stats) == sorted(demo_results)
    for pair, result in demo_results.items():
        stats = summary.stats[pair]
        assert stats.trades == len(result.traded) == len(summary.trades[pair])
        assert stats.closed == len(result.closed)
        assert stats.fees == sum(p.entry_fees + p.exit_fees for p in result.traded)
        assert stats.realized_pnl == sum(p.realized_pnl for p in result.closed)
        assert stats.final_equity == result.equity_now
        assert stats.exposure == result.exposed / len(result.equity)
    total = summary.total
    assert total.trades == sum(s.trades for s in summary.stats.values())
    assert total.fees == sum(s.fees for s in summary.stats.values())
    assert total.final_equity == sum(s.final_equity for s in summary.stats.values())
    assert total.net_pnl == sum(s.net_pnl for s in summary.stats.values())
    assert summary.total_equity[-1] == total.final_equity


def test_trade_rows_carry_prices_as_values_over_sizes(demo_results: dict[str, PairResult]) -> None:
    summary = summarize(demo_results)
    for rows in summary.trades.values():
        for row in rows:
            assert row.entry_price == row.entry_value / row.entry_size
            if row.status == "CLOSED":
                assert row.exit_size == row.entry_size
                assert row.exit_price == row.exit_value / row.exit_size
                pnl = row.exit_value - row.exit_fees - row.entry_value - row.entry_fees
                assert row.realized_pnl == pnl
            else:
                assert row.realized_pnl is None


def test_two_runs_give_byte_identical_json(demo_series: dict[str, list[Candle]]) -> None:
    texts = []
    for _ in range(2):
        results = run_all(demo_series, TraderSettings(), cash=Decimal(10))
        document = report_json(results, summarize(results), {"cash": "10"})
        texts.append(json.dumps(document, indent=1, sort_keys=True))
    assert texts[0] == texts[1]
    document = json.loads(texts[0])
    assert set(document["pairs"]) == set(demo_series)
    for pair, body in document["pairs"].items():
        assert body["stats"]["trades"] == len(body["trades"])
        assert body["candles"] == len(demo_series[pair])
        assert all(t["entry_time"].endswith("Z") for t in body["trades"])
