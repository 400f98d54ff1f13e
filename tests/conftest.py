"""Shared fixtures: where the bundled and the shared recorded candles live."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_DATA = ROOT / "src" / "ratchet" / "demo_data"
SHARED_CANDLES = ROOT.parent / "shared" / "data" / "candles"


@pytest.fixture
def demo_eth_btc() -> Path:
    """The bundled ETH-BTC candles (4 days, real)."""
    return DEMO_DATA / "ETH-BTC-5m.csv"
