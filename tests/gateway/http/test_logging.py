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
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from chain.protocol.calls import encode_issue
from gateway.devnet.process import GatewayProcess
from gateway.observability.logs import REQUEST_ID, JsonFormatter, TextFormatter

from .conftest import World, until
from .payments import final_state, relay_payment


def _lines(world: World, path: Path | None = None) -> list[dict[str, object]]:
    path = path or world.gateway.log_path
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
    until(lambda: _batch_line(world, tx_hash, request_id) is not None, "the batch's line")
    batch = _batch_line(world, tx_hash, request_id)
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


def _batch_line(
    world: World, tx_hash: object, request_id: str, path: Path | None = None
) -> dict[str, object] | None:
    """The batcher's line for the batch ``tx_hash`` naming ``request_id``."""
    for line in _lines(world, path):
        if line.get("tx_hash") == tx_hash and request_id in line.get("request_ids", []):  # type: ignore[operator]
            return line
    return None


def test_the_request_id_is_stored_with_the_request_across_a_restart(
    world: World, tmp_path: Path
) -> None:
    """Accepted, then the gateway is killed before batching; the next process batches it
    from the database and its batch line still names the caller's request id. Its own
    database (SQLite) whatever the world's backend: run once, with the SQLite world."""
    if not world.database_url.startswith("sqlite"):
        pytest.skip("runs once, on its own SQLite database, with the SQLite world")
    payer, relayer = Account.create(), Account.create()  # own signer and key: no shared nonces
    op, manifest = world.net.operator, world.net.manifest
    op.register(manifest.registry, [payer.address], "citizen")
    op.send(world.siheung, encode_issue(payer.address, 10_000, 9_000), "issue")
    op.send_many([(relayer.address, b"", 10**18)], "fund")
    env = world.net.gateway_env(f"sqlite:///{tmp_path / 'restart.db'}", embedded_indexer="false")
    env["DONGNE_RELAYER_KEYS"] = f'["0x{bytes(relayer.key).hex()}"]'
    request_id = "restart-" + secrets.token_hex(8)
    parked = {**env, "DONGNE_BATCH_INTERVAL_MS": "600000"}  # accepts, never batches
    with GatewayProcess(parked, log_path=tmp_path / "first.log") as first:
        answer = relay_payment(
            world, 700, {"X-Request-ID": request_id}, payer=payer, gateway_url=first.url
        )
        assert answer.status_code == 202, answer.text
        first.kill()
    with GatewayProcess(env, log_path=tmp_path / "second.log") as second:
        state = final_state(world, answer.json()["id"], second.url)
    assert state["status"] == "succeeded", state
    assert _batch_line(world, state["tx_hash"], request_id, tmp_path / "first.log") is None
    assert _batch_line(world, state["tx_hash"], request_id, tmp_path / "second.log")


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


def test_the_api_document_names_the_request_id_header(world: World) -> None:
    doc = httpx.get(world.gateway.url + "/openapi.json", timeout=30).json()
    submit = doc["paths"]["/v1/requests"]["post"]["responses"]
    assert "X-Request-ID" in submit["202"]["headers"]
    assert "X-Request-ID" in submit["422"]["headers"]  # problems too
    ready = doc["paths"]["/readyz"]["get"]["responses"]
    assert ready["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")
