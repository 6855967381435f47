"""Fast JSON responses: orjson bytes, no pydantic round trip on the hot path."""

from __future__ import annotations

import orjson
from fastapi import Response


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)
