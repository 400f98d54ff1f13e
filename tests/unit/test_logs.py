"""JSON log lines carry the ids put in ``extra``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ratchet.logs import configure_logging


def test_log_records_are_json_lines_with_their_ids(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "ratchet.log"
    handler = configure_logging(path)
    try:
        # Act
        logging.getLogger("ratchet.engine").warning(
            "stop replaced", extra={"pair": "ETH-BTC", "position_id": "ETH-BTC#000001"}
        )
        handler.flush()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    # Assert
    [line] = path.read_text().splitlines()
    record = json.loads(line)
    assert record["event"] == "stop replaced"
    assert record["pair"] == "ETH-BTC"
    assert record["position_id"] == "ETH-BTC#000001"
    assert record["level"] == "warning"
    assert record["logger"] == "ratchet.engine"
    assert record["timestamp"].endswith("Z")
