"""Issue 17: structured logs. Every line is one JSON object with its time (ISO 8601, UTC),
level, logger and message; the lines of an HTTP request carry its id (the client's
X-Request-ID, or a new one returned in the answer), and the batcher's line for the batch
transaction names that id beside the tx hash, so a request is followed onto the chain."""

from __future__ import annotations

import io
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta

import httpx

from gateway.observability.logs import REQUEST_ID, JsonFormatter, TextFormatter

from .conftest import World, until
from .payments import final_state, relay_payment


def _lines(world: World) -> list[dict[str, object]]:
    path = world.gateway.log_path
    assert path is not None
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_a_request_id_is_followed_from_the_call_to_its_batch_tx_hash(world: World) -> None:
    request_id = "obs-" + secrets.token_hex(8)
    answer = relay_payment(world, 500, headers={"X-Request-ID": request_id})
    assert answer.status_code == 202, answer.text
    assert answer.headers["x-request-id"] == request_id
    state = final_state(world, answer.json()["id"])
    assert state["status"] == "succeeded", state
    tx_hash = state["tx_hash"]

    def batch_line() -> dict[str, object] | None:
        for line in _lines(world):
            if line.get("tx_hash") == tx_hash and request_id in line.get("request_ids", []):
                return line
        return None

    until(lambda: batch_line() is not None, "the batcher's line naming the request")
    batch = batch_line()
    assert batch is not None
    assert batch["logger"] == "dongne.relayer"
    assert batch["level"] == "INFO"
    assert answer.json()["id"] in batch["relay_request_ids"]  # type: ignore[operator]
    mine = [line for line in _lines(world) if line.get("request_id") == request_id]
    access = [line for line in mine if line["logger"] == "dongne.http"]
    assert access
    assert access[0]["status"] == 202
    assert "/v1/requests" in str(access[0]["message"])
    for line in mine:
        assert {"timestamp", "level", "logger", "message", "request_id"} <= line.keys()
        stamp = datetime.fromisoformat(str(line["timestamp"]))
        assert stamp.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)


def test_a_missing_or_unsafe_request_id_is_replaced(world: World) -> None:
    http = httpx.Client(base_url=world.gateway.url, timeout=30)
    generated = http.get("/v1/network").headers["x-request-id"]
    assert len(generated) == 32
    assert int(generated, 16) >= 0
    for unsafe in ("x" * 129, 'a"b', "a b"):
        echoed = http.get("/v1/network", headers={"X-Request-ID": unsafe}).headers["x-request-id"]
        assert echoed != unsafe
        assert len(echoed) == 32
    # Problems carry it too (a 404 from the router, before any route runs).
    assert http.get("/nowhere", headers={"X-Request-ID": "r-404"}).headers["x-request-id"] == (
        "r-404"
    )


def _format(formatter: logging.Formatter, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("dongne.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    token = REQUEST_ID.set("req-1")
    try:
        logger.info("batch %s sent", "0xabc", extra=extra)
    finally:
        REQUEST_ID.reset(token)
        logger.removeHandler(handler)
    return stream.getvalue().strip()


def test_json_and_text_formats_carry_the_same_fields() -> None:
    entry = json.loads(_format(JsonFormatter(), tx_hash="0xabc", request_ids=["a", "b"]))
    assert entry["message"] == "batch 0xabc sent"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "dongne.test.logs"
    assert entry["request_id"] == "req-1"
    assert entry["request_ids"] == ["a", "b"]
    assert entry["timestamp"].endswith("+00:00")
    text = _format(TextFormatter(), tx_hash="0xabc")
    assert " INFO dongne.test.logs [req-1] batch 0xabc sent tx_hash=0xabc" in text
