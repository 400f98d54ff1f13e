"""The HTML report: one offline file with the trades, the stats and chart data it can draw."""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ratchet.backtest.report import render_html
from ratchet.backtest.runner import PairResult, run_pair
from ratchet.backtest.summary import summarize
from ratchet.domain.candles import Candle
from ratchet.engine.settings import TraderSettings


class Page(HTMLParser):
    """Collects tags, their attributes, table cells and the JSON data block."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []
        self.data_block = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "td":
            self._in = "td"
        elif tag == "script" and attributes.get("type") == "application/json":
            self._in = "json"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "script"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "td":
            self.cells.append(data)
        elif self._in == "json":
            self.data_block += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_the_report_holds_every_trade_and_the_chart_data(
    demo_results: dict[str, PairResult],
) -> None:
    summary = summarize(demo_results)
    page = parse(render_html(demo_results, summary, {"cash": "10"}))
    for rows in summary.trades.values():
        for row in rows:
            assert row.position_id in page.cells
    assert "total" in page.cells
    data = json.loads(page.data_block)
    for pair, result in demo_results.items():
        chart = data["pairs"][pair]
        assert chart["t"] == result.starts
        assert len(chart["close"]) == len(chart["stop"]) == len(result.starts)
        # one marker per entry and per exit: a pair holds one position at a time
        assert sum(p is not None for p in chart["entries"]) == len(result.traded)
        assert sum(p is not None for p in chart["exits"]) == len(result.closed)
    assert data["total"]["equity"][-1] == float(summary.total.final_equity)
    assert max(data["total"]["drawdown"]) <= 0


def test_the_report_loads_nothing_from_anywhere(demo_results: dict[str, PairResult]) -> None:
    text = render_html(demo_results, summarize(demo_results), {})
    page = parse(text)
    assert not [a for tag, a in page.tags if "src" in a or "href" in a]
    assert "uPlot" in text and ".uplot" in text  # the library and its CSS, inlined
    assert not re.search(r"@import|url\(\s*['\"]?https?:", text)


def test_text_and_data_cannot_break_out_of_the_page(
    demo_series: dict[str, list[Candle]],
) -> None:
    # product ids are validated by the domain; a report still escapes whatever it is given
    hostile = "X</script><img src=x onerror=alert(1)>-BTC"
    result = run_pair("ETH-BTC", demo_series["ETH-BTC"], TraderSettings(), cash=Decimal(1))
    results = {hostile: result}
    text = render_html(results, summarize(results), {"config": "<b>&'\"</b>"})
    assert "<img" not in text and "<b>&" not in text
    assert "X&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;-BTC" in text
    page = parse(text)
    assert hostile in json.loads(page.data_block)["pairs"]


def test_the_report_draws_its_charts_in_a_real_browser(
    tmp_path: Path, demo_results: dict[str, PairResult]
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    path = tmp_path / "report.html"
    path.write_text(render_html(demo_results, summarize(demo_results), {}), encoding="utf-8")
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        charts = page.evaluate("window.ratchetCharts.length")
        series = page.evaluate("window.ratchetCharts.map(c => c.series.length)")
        browser.close()
    assert errors == []
    assert requests == [path.as_uri()]  # the page itself, nothing else
    assert charts == 2 + len(demo_results)  # equity, drawdown, one per pair
    assert series == [2, 2] + [5] * len(demo_results)
