"""The backtest's HTML report: one self-contained file, readable offline.

Equity curve and drawdown of the total, a price chart per pair with entry/exit markers and the
resting stop, a stats table and every trade. Charts use the vendored uPlot
(``ratchet/vendor/uplot``), inlined into the page — nothing is fetched from anywhere. Every text
is HTML-escaped; the chart data sits in a ``<script type="application/json">`` block with ``<``,
``>`` and ``&`` escaped, so no value can end the block.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from importlib import resources
from typing import Any

from ratchet.backtest.runner import PairResult
from ratchet.backtest.stats import Stats, drawdown_series
from ratchet.backtest.summary import Summary, TradeRow
from ratchet.domain.candles import CANDLE_SECONDS as CANDLE


def _vendored(name: str) -> str:
    return (resources.files("ratchet.vendor") / "uplot" / name).read_text(encoding="utf-8")


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.8f}"


def _markers(times: Sequence[int], rows: Sequence[TradeRow], *, exits: bool) -> list[Any]:
    """A series aligned with the candles: the fill price at a trade's candle, else null."""
    index = {t: i for i, t in enumerate(times)}
    out: list[float | None] = [None] * len(times)
    for row in rows:
        when = row.exit_time if exits else row.entry_time
        price = row.exit_price if exits else row.entry_price
        if when is None or price is None:
            continue
        i = index.get(int(when) // CANDLE * CANDLE)
        if i is None and exits:  # closed at a candle's end: the fill was in the one before
            i = index.get(int(when) // CANDLE * CANDLE - CANDLE)
        if i is not None:
            out[i] = float(price)
    return out


def chart_data(results: Mapping[str, PairResult], summary: Summary) -> dict[str, Any]:
    """What the charts draw: the total curve and drawdown, each pair's prices and trades."""
    cash = sum((r.cash for r in results.values()), Decimal(0))
    pairs = {}
    for pair in sorted(results):
        result, rows = results[pair], summary.trades[pair]
        pairs[pair] = {
            "t": result.starts,
            "close": [float(c) for c in result.closes],
            "stop": [_float(s) for s in result.stops],
            "entries": _markers(result.starts, rows, exits=False),
            "exits": _markers(result.starts, rows, exits=True),
        }
    return {
        "total": {
            "t": summary.total_times,
            "equity": [float(e) for e in summary.total_equity],
            "drawdown": [-100 * d for d in drawdown_series(summary.total_equity, cash)],
        },
        "pairs": pairs,
    }


def _script_json(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _stats_table(summary: Summary) -> str:
    head = [
        "pair",
        "trades",
        "closed",
        "win&nbsp;rate",
        "realised&nbsp;P&amp;L",
        "net&nbsp;P&amp;L",
        "fees",
        "max&nbsp;drawdown",
        "exposure",
        "Sharpe",
        "Sortino",
        "profit&nbsp;factor",
        "equity",
    ]
    lines = ["<table class='stats'><thead><tr>"]
    lines += [f"<th>{h}</th>" for h in head]
    lines.append("</tr></thead><tbody>")
    rows: list[tuple[str, Stats]] = [*summary.stats.items(), ("total", summary.total)]
    for name, s in rows:
        cells = [
            name,
            str(s.trades),
            str(s.closed),
            _pct(s.win_rate),
            _money(s.realized_pnl),
            _money(s.net_pnl),
            _money(s.fees),
            _pct(s.max_drawdown),
            _pct(s.exposure),
            _num(s.sharpe),
            _num(s.sortino),
            _num(s.profit_factor),
            _money(s.final_equity),
        ]
        lines.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def _trades_table(summary: Summary) -> str:
    head = (
        "pair",
        "position",
        "status",
        "entry time",
        "entry price",
        "size",
        "exit time",
        "exit price",
        "fees",
        "realised P&L",
        "last stop",
    )
    lines = ["<table class='trades'><thead><tr>"]
    lines += [f"<th>{escape(h)}</th>" for h in head]
    lines.append("</tr></thead><tbody>")
    for rows in summary.trades.values():
        for r in rows:
            cells = [
                r.pair,
                r.position_id,
                r.status,
                _when(r.entry_time),
                _money(r.entry_price),
                str(r.entry_size),
                _when(r.exit_time),
                _money(r.exit_price),
                _money(r.fees),
                _money(r.realized_pnl),
                _money(r.stop),
            ]
            css = "" if r.realized_pnl is None else (" win" if r.realized_pnl > 0 else " loss")
            lines.append(
                f"<tr class='trade{css}'>"
                + "".join(f"<td>{escape(c)}</td>" for c in cells)
                + "</tr>"
            )
    lines.append("</tbody></table>")
    return "".join(lines)


_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:2px 8px;text-align:right;border-bottom:1px solid #ddd}
th:first-child,td:first-child{text-align:left}
tr.win td:nth-child(10){color:#1a7f37}tr.loss td:nth-child(10){color:#c62828}
.chart{margin:0.5em 0 1.5em}.settings{color:#555}
"""

_CODE = """
(function(){
var data=JSON.parse(document.getElementById('report-data').textContent);
function ticks(u,vals){return vals.map(function(v){return v==null?'':String(+v.toPrecision(6));});}
function width(){return Math.max(400,Math.min(1400,document.body.clientWidth-20));}
function draw(id,title,xs,series,ys){
  var el=document.getElementById(id);
  var opts={title:title,width:width(),height:260,series:[{}].concat(series),
            scales:{x:{time:true}},axes:[{},{size:90,values:ticks}]};
  return new uPlot(opts,[xs].concat(ys),el);
}
var pts=function(color){return {show:true,size:9,fill:color,stroke:color};};
var none=function(){return null;};
var charts=[];
var t=data.total;
charts.push(draw('equity','equity (sum of all pairs)',t.t,
  [{label:'equity',stroke:'#1565c0',width:1.5}],[t.equity]));
charts.push(draw('drawdown','drawdown %',t.t,
  [{label:'drawdown %',stroke:'#c62828',fill:'rgba(198,40,40,0.15)'}],[t.drawdown]));
Object.keys(data.pairs).forEach(function(pair,i){
  var p=data.pairs[pair];
  charts.push(draw('pair-'+i,pair+': close, stop, entries (green) and exits (red)',p.t,[
    {label:'close',stroke:'#444',width:1},
    {label:'stop',stroke:'#ef6c00',width:1,dash:[4,3]},
    {label:'entry',stroke:'#1a7f37',paths:none,points:pts('#1a7f37')},
    {label:'exit',stroke:'#c62828',paths:none,points:pts('#c62828')}
  ],[p.close,p.stop,p.entries,p.exits]));
});
window.addEventListener('resize',function(){
  charts.forEach(function(c){c.setSize({width:width(),height:260});});
});
window.ratchetCharts=charts;
})();
"""


def render_html(
    results: Mapping[str, PairResult], summary: Summary, settings: Mapping[str, str]
) -> str:
    """The whole report page as one string."""
    data = chart_data(results, summary)
    described = ", ".join(f"{k} {v}" for k, v in sorted(settings.items()))
    pair_divs = "".join(
        f"<h2>{escape(pair)}</h2><div class='chart' id='pair-{i}'></div>"
        for i, pair in enumerate(data["pairs"])
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>ratchet backtest</title>",
        f"<style>{_vendored('uPlot.min.css')}</style><style>{_STYLE}</style>",
        "</head><body><h1>ratchet backtest</h1>",
        f"<p class='settings'>{escape(described)}</p>",
        "<h2>Statistics</h2>",
        _stats_table(summary),
        "<h2>Equity</h2><div class='chart' id='equity'></div>",
        "<div class='chart' id='drawdown'></div>",
        pair_divs,
        "<h2>Trades</h2>",
        _trades_table(summary),
        f"<script type='application/json' id='report-data'>{_script_json(data)}</script>",
        f"<script>{_vendored('uPlot.iife.min.js')}</script>",
        f"<script>{_CODE}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
