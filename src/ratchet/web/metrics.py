"""``/metrics``: Prometheus text from a custom collector that reads the engine at scrape time.

Nothing is stored between scrapes: each one reads ``control.portfolio()`` and
``control.counters()`` (cheap, in-memory) and the web server's own counters. Money gauges are in
the portfolio's quote currency (label ``quote``); Decimals become floats only here, for
Prometheus, never on any money path.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ratchet.web.port import ControlPort
from ratchet.web.ws import SnapshotHub

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class EngineCollector(Collector):
    """Portfolio gauges, engine counters and WebSocket figures, read at scrape time."""

    def __init__(self, control: ControlPort, hub: SnapshotHub) -> None:
        self._control = control
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        """One family per figure (see the module docstring)."""
        folio = self._control.portfolio()
        quote = folio.quote_currency
        money = {
            "capital_total": ("total capital", folio.total_capital),
            "capital_deployed": ("capital in open positions", folio.deployed),
            "capital_available": ("capital free for new entries", folio.available),
            "pnl_realized": ("realised P&L of closed trades", folio.realized_pnl),
            "pnl_unrealized": ("unrealised P&L of open positions", folio.unrealized_pnl),
        }
        for name, (text, value) in money.items():
            if value is None:  # available: not known before the first balance read
                continue
            family = GaugeMetricFamily(
                f"ratchet_{name}", f"{text}, quote currency", labels=["quote"]
            )
            family.add_metric([quote], _f(value))
            yield family
        yield _gauge("ratchet_open_positions", "open positions", folio.open_positions)
        yield _gauge("ratchet_closed_trades", "closed trades", folio.closed_trades)
        if folio.win_rate is not None:
            yield _gauge(
                "ratchet_win_rate", "share of closed trades that won (0-1)", folio.win_rate
            )
        yield _gauge("ratchet_drawdown_pct", "drawdown from the peak, percent", folio.drawdown_pct)
        concentration = GaugeMetricFamily(
            "ratchet_pair_concentration_pct", "share of capital per pair, percent", labels=["pair"]
        )
        for pair, pct in sorted(folio.concentration.items()):
            concentration.add_metric([pair], _f(pct))
        yield concentration
        exposure = GaugeMetricFamily(
            "ratchet_group_exposure", "exposure per correlation group, quote", labels=["group"]
        )
        for group, value in sorted(folio.exposure_by_group.items()):
            exposure.add_metric([group], _f(value))
        yield exposure
        for name, count in sorted(self._control.counters().items()):
            yield CounterMetricFamily(f"ratchet_engine_{name}", f"engine {name}", value=count)
        stats = self._hub.stats
        yield CounterMetricFamily(
            "ratchet_web_ws_dropped", "WebSocket clients dropped as too slow", value=stats.dropped
        )
        yield _gauge(
            "ratchet_web_ws_clients", "WebSocket clients connected", len(self._hub.clients)
        )


def registry_for(control: ControlPort, hub: SnapshotHub) -> CollectorRegistry:
    """A private registry with one :class:`EngineCollector` (no process-global state)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(control, hub))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)


def _gauge(name: str, text: str, value: Decimal | int) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=_f(value))


def _f(value: Decimal | int) -> float:
    return float(value)
