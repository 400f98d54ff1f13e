"""Candle messages of the feed: the documented shape read directly, the rest validated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ratchet.coinbase.wire import CandleWire
from ratchet.coinbase.ws_wire import BadMessage, candle_events
from ratchet.domain.candles import Candle, CandleError

ITEM = {
    "start": "1767225600",
    "high": "30010.5",
    "low": "29990",
    "open": "30000",
    "close": "30005",
    "volume": "123.45",
    "product_id": "BTC-USD",
}


def message(item: Any) -> dict[str, Any]:
    return {"channel": "candles", "events": [{"type": "update", "candles": [item]}]}


def test_a_candle_of_the_documented_shape() -> None:
    [event] = candle_events(message(ITEM))

    assert event.product_id == "BTC-USD"
    assert event.candle == Candle(
        1_767_225_600, Decimal(30000), Decimal("30010.5"), Decimal(29990), Decimal(30005),
        Decimal("123.45"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("start", 1_767_225_600),
        ("start", " 1767225600"),
        ("start", "1767225600.0"),
        ("volume", ""),
        ("volume", "1e3"),
        ("open", " 30000 "),
        ("product_id", None),
        ("start", True),
        ("open", "abc"),
        ("volume", "NaN"),
        ("high", 30010.5),
        ("low", "40000"),
        ("start", "1767225601"),
        ("product_id", 5),
        ("close", None),
    ],
)
def test_every_other_shape_reads_as_the_wire_model_reads_it(key: str, value: object) -> None:
    # Arrange
    item = dict(ITEM)
    if value is None:
        del item[key]
    else:
        item[key] = value
    try:
        wire = CandleWire.model_validate(item)
        expected: tuple[str, Candle] | None = (wire.product_id, wire.to_candle())
    except (ValidationError, CandleError):
        expected = None

    # Act / Assert: the same candle, or a BadMessage saying what is wrong
    if expected is None:
        with pytest.raises(BadMessage, match=r"^candles: "):
            candle_events(message(item))
    else:
        [event] = candle_events(message(item))
        assert (event.product_id, event.candle) == expected


def test_a_candle_that_is_not_an_object_is_a_bad_message() -> None:
    with pytest.raises(BadMessage, match="candles"):
        candle_events(message(["1767225600", "1"]))
