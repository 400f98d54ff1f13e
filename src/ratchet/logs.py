"""Structured logs: one JSON object per line, with the pair, order and position ids.

Modules log with the standard library (``logging.getLogger("ratchet....")``) and put their ids
in ``extra={...}``; structlog renders every record — ours and the libraries' — as JSON with an
ISO UTC timestamp, the level, the logger and the message as ``event``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import structlog

_SHARED: list[structlog.typing.Processor] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
]


def json_formatter() -> logging.Formatter:
    """A formatter that renders any log record as one line of JSON."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(default=str),
        ],
    )


def configure_logging(path: Path | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send every log record, as JSON lines, to ``path`` (stderr when None)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
