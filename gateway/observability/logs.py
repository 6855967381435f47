"""Structured logs: one JSON object per line (or readable text for a developer's console),
each with its time (ISO 8601, UTC), level, logger, message, the id of the HTTP request it
belongs to, and whatever the call site passed in ``extra`` (a batch's tx hash, the request ids
in it).

The request id lives in a context variable: gateway.http sets it for each request (from the
client's ``X-Request-ID`` or a new one), asyncio tasks and ``asyncio.to_thread`` inherit it,
so every line logged while serving the request carries it without being handed it. Work
outside a request (the batcher) names the request ids it serves explicitly.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Literal

import orjson

__all__ = [
    "REQUEST_ID",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "new_request_id",
]

LogFormat = Literal["json", "text"]

REQUEST_ID: ContextVar[str | None] = ContextVar("dongne_request_id", default=None)

# A LogRecord's own attributes; anything else on a record came from ``extra``.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# uvicorn's loggers keep their own handlers; ours take them so every line has one format.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def new_request_id() -> str:
    return uuid.uuid4().hex


def _extras(record: logging.LogRecord) -> dict[str, object]:
    fields = vars(record)
    return {k: fields[k] for k in fields.keys() - _RECORD_FIELDS}


# (whole second, its ISO 8601 text): an access line per request formats the same second
# hundreds of times, and a timezone-aware datetime costs ~9 µs where this costs ~1.
_second: tuple[int, str] = (-1, "")


def _timestamp(record: logging.LogRecord) -> str:
    """``2026-12-06T06:04:49.048+00:00``: ISO 8601, UTC, milliseconds."""
    global _second
    whole = int(record.created)
    cached = _second  # one read: another thread may replace it meanwhile
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    millis = int((record.created - whole) * 1000)
    return f"{cached[1]}.{millis:03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """The same fields for a person: ``time level logger [request id] message key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = REQUEST_ID.get()
        parts = [_timestamp(record), record.levelname, record.name]
        if request_id is not None:
            parts.append(f"[{request_id}]")
        parts.append(record.getMessage())
        parts.extend(f"{k}={v}" for k, v in _extras(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler configure_logging installed, so a second call replaces it."""


def configure_logging(fmt: LogFormat = "json", level: str = "INFO") -> None:
    """Our handler on the root logger; ``dongne.*`` at ``level``, libraries at WARNING (httpx
    would log every JSON-RPC call at INFO)."""
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    # Neither format prints the caller's file and line, the thread or the process: not looking
    # them up saves about a third of each line's cost (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.captureWarnings(True)  # a library's warnings as log lines too, not bare stderr
    logging.getLogger("dongne").setLevel(level.upper())
    for name in _SERVER_LOGGERS:
        server = logging.getLogger(name)
        server.handlers.clear()
        server.propagate = True
