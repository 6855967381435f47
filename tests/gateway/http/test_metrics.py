"""Issue 17: `/metrics` tells an operator what the gateway does, over real HTTP on anvil.

After a relayed payment, a refused one and some queries, the scrape holds: HTTP requests by
route template (never the raw path) and status, the intake histogram, the time to final, the
indexer's lag, JSON-RPC calls and errors by method, build and process information; the Grafana
dashboard in docs/ queries only metrics the scrape has; /readyz fails while the node does not
answer and recovers when it does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from .conftest import World, until
from .payments import final_state, relay_payment

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana-dongne.json"


class Scrape:
    def __init__(self, text: str) -> None:
        self.samples: list[Sample] = [
            s for family in text_string_to_metric_families(text) for s in family.samples
        ]

    def names(self) -> set[str]:
        return {s.name for s in self.samples}

    def value(self, name: str, **labels: str) -> float | None:
        """The sample ``name`` whose labels include ``labels`` (None: no such sample)."""
        for s in self.samples:
            if s.name == name and labels.items() <= s.labels.items():
                return s.value
        return None


@pytest.fixture(scope="module")
def traffic(world: World) -> dict[str, object]:
    """One relayed payment to its end, one refused by simulation, a few queries."""
    accepted = relay_payment(world, 1_000)
    assert accepted.status_code == 202, accepted.text
    state = final_state(world, accepted.json()["id"])
    assert state["status"] == "succeeded", state
    refused = relay_payment(world, 10**12)  # more than the citizen holds: the call reverts
    assert refused.status_code == 422, refused.text
    anonymous = httpx.Client(base_url=world.gateway.url, timeout=30)
    assert anonymous.get("/v1/network").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200  # a plain Starlette route
    assert anonymous.get("/no/such/path/0xdeadbeef").status_code == 404
    preflight = anonymous.options(  # answered by the CORS middleware, before any route
        "/v1/network",
        headers={"origin": f"http://localhost:{world.gateway.port}",
                 "access-control-request-method": "GET"},
    )  # fmt: skip
    assert preflight.status_code == 200, preflight.text
    return {"id": accepted.json()["id"], "state": state}


def _scrape(world: World) -> Scrape:
    answer = httpx.get(world.gateway.url + "/metrics", timeout=30)
    assert answer.status_code == 200
    return Scrape(answer.text)


def test_http_requests_are_counted_by_route_template_and_status(
    world: World, traffic: dict[str, object]
) -> None:
    scrape = _scrape(world)
    total = "dongne_http_requests_total"
    assert (scrape.value(total, method="POST", route="/v1/requests", status="202") or 0) >= 1
    assert (scrape.value(total, method="POST", route="/v1/requests", status="422") or 0) >= 1
    polled = scrape.value(total, method="GET", route="/v1/requests/{request_id}", status="200")
    assert (polled or 0) >= 1
    assert (scrape.value(total, route="<unmatched>", status="404") or 0) >= 1
    assert (scrape.value(total, method="GET", route="/openapi.json", status="200") or 0) >= 1
    # Nothing answered 200 without a route: a CORS preflight is counted as <preflight>.
    assert (scrape.value(total, method="OPTIONS", route="<preflight>", status="200") or 0) >= 1
    assert scrape.value(total, route="<unmatched>", status="200") is None
    # Bounded label values: no raw path (a request id, an address) is ever a label.
    routes = {s.labels.get("route", "") for s in scrape.samples if s.name == total}
    assert not [r for r in routes if re.search(r"0x[0-9a-fA-F]{8}", r)], routes
    latency = "dongne_http_request_duration_seconds_count"
    assert (scrape.value(latency, method="POST", route="/v1/requests") or 0) >= 1


def test_relayer_metrics_follow_a_request_to_its_end(
    world: World, traffic: dict[str, object]
) -> None:
    scrape = _scrape(world)
    assert (scrape.value("dongne_relay_intake_seconds_count", outcome="accepted") or 0) >= 1
    assert (scrape.value("dongne_relay_intake_seconds_count", outcome="refused") or 0) >= 1
    final = scrape.value("dongne_relay_time_to_final_seconds_count", status="succeeded")
    assert (final or 0) >= 1
    assert (scrape.value("dongne_relay_time_to_final_seconds_sum", status="succeeded") or 0) > 0
    assert (scrape.value("dongne_relay_batch_size_count") or 0) >= 1
    assert (scrape.value("dongne_relay_succeeded_total") or 0) >= 1
    keys = {s.labels["key"] for s in scrape.samples if s.name == "dongne_relay_queue_depth"}
    assert keys == {a.address for a in _relayer_keys(world)}
    assert scrape.value("dongne_relay_relaying") == 1


def test_indexer_rpc_and_build_metrics(world: World, traffic: dict[str, object]) -> None:
    scrape = _scrape(world)
    until(lambda: _scrape(world).value("dongne_indexer_head_lag_blocks") == 0, "index at head")
    lag = scrape.value("dongne_indexer_head_lag_seconds")
    assert lag is not None
    assert 0 <= lag < 30
    assert (scrape.value("dongne_indexer_events_total") or 0) >= 1
    calls = "dongne_rpc_calls_total"
    methods = ("eth_call", "eth_sendRawTransaction", "eth_getTransactionReceipt", "eth_getLogs")
    for method in methods:
        assert (scrape.value(calls, method=method) or 0) >= 1, method
    # The refused payment's simulation: the node answered eth_call with a revert.
    assert (scrape.value("dongne_rpc_errors_total", method="eth_call", kind="rpc") or 0) >= 1
    assert (scrape.value("dongne_rpc_duration_seconds_count", method="eth_call") or 0) >= 1
    assert scrape.value("dongne_build_info", version="0.1.0") == 1
    assert scrape.value("dongne_db_errors_total", kind="OperationalError") is not None
    assert (scrape.value("process_cpu_seconds_total") or 0) > 0
    assert scrape.value("python_info") == 1


def test_the_dashboard_queries_only_metrics_the_gateway_exports(
    world: World, traffic: dict[str, object]
) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queried = {
        name
        for expr in exprs
        for name in re.findall(r"\b((?:dongne|process|python)_[a-z0-9_]+)\b", expr)
    }
    assert len(queried) >= 20, queried
    exported = _scrape(world).names()
    assert sorted(queried - exported) == []
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("route", "error", "intake", "queue", "batch size", "time to final",
                  "indexer lag", "json-rpc latency", "key balances"):  # fmt: skip
        assert topic in titles, topic


def test_readyz_fails_while_the_node_does_not_answer_and_recovers(world: World) -> None:
    http = httpx.Client(base_url=world.gateway.url, timeout=30)
    until(lambda: http.get("/readyz").status_code == 200, "ready")
    ready = http.get("/readyz").json()
    assert ready["checks"] == {"node": True, "database": True, "indexer": True}
    node = world.net.node
    assert node is not None
    node.freeze()
    try:
        # The stop signal lands asynchronously: an answer already on its way may still be 200.
        until(lambda: http.get("/readyz").status_code == 503, "not ready while frozen")
        body = http.get("/readyz").json()
        assert body["ready"] is False
        assert body["checks"]["node"] is False
        assert body["checks"]["database"] is True
        assert http.get("/healthz").status_code == 200  # alive all along
    finally:
        node.thaw()
    until(lambda: http.get("/readyz").status_code == 200, "ready again")
    assert http.get("/readyz").json()["checks"]["node"] is True


def _relayer_keys(world: World) -> list[LocalAccount]:
    return [Account.from_key(k) for k in world.net.relayer_keys]
