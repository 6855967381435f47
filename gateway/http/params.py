"""Typed, bounded request parameters shared by the routes: times and windows.

A time is unix seconds or ISO 8601 (a date or a date-time; without an offset it is Korea
Standard Time, where every municipality is), between 2000-01-01 and 2100-01-01: anything else
is a precise 400 instead of a crash deep in ``datetime`` or the database. A report's window is
capped (``report_window_max_days``) so one request cannot pin a worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator, Field

from gateway.errors import GatewayError

__all__ = [
    "ADDRESS_PATTERN",
    "MAX_TIME",
    "MIN_TIME",
    "OptionalTime",
    "Time",
    "check_window",
    "parse_time",
    "plain_text",
]

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
"""A 0x-prefixed 20-byte address, checksummed or any case: every address parameter's pattern."""

# Printable text: no NUL or other control characters but tab and newline. PostgreSQL refuses
# NUL in text and JSON (a 500 the HTTP suite found on that backend), and no name or note needs
# a control character.
_PLAIN_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def plain_text(max_length: int, min_length: int = 0) -> Any:
    """A body field of printable text within these lengths (for ``Annotated[str, ...]``)."""
    return Field(min_length=min_length, max_length=max_length, pattern=_PLAIN_TEXT)


KST = timezone(timedelta(hours=9))
MIN_TIME = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
MAX_TIME = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())


def parse_time(value: object) -> object:
    """Unix seconds or ISO 8601 -> unix seconds; other values go on to the int check."""
    if isinstance(value, bool):
        raise ValueError("a time is unix seconds or ISO 8601, not a boolean")
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text) if len(text) <= 12 else MAX_TIME + 1
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("a time is unix seconds or ISO 8601 (e.g. 2026-12-01T09:00)") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=KST)
        return int(parsed.timestamp())
    return value


_DESCRIPTION = "unix seconds, or ISO 8601 (KST when no offset is given)"
# Query before the validator: the other way round the bounds reach the OpenAPI document as
# pydantic's ``ge``/``le`` instead of JSON Schema's ``minimum``/``maximum``.
Time = Annotated[int, Query(ge=MIN_TIME, le=MAX_TIME, description=_DESCRIPTION),
                 BeforeValidator(parse_time)]  # fmt: skip
OptionalTime = Annotated[
    int | None,
    Query(ge=MIN_TIME, le=MAX_TIME, description=_DESCRIPTION),
    BeforeValidator(parse_time),
]


def check_window(since: int | None, until: int | None, max_days: int) -> None:
    if since is not None and until is not None:
        if since >= until:
            raise GatewayError("InvalidRequest", "since must be before until", {"field": "since"})
        if until - since > max_days * 86_400:
            raise GatewayError(
                "WindowTooLarge",
                f"the window is longer than {max_days} days: ask for it in parts",
                {"max_days": max_days},
            )
