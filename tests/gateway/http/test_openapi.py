"""Issue 11: the OpenAPI document tells the truth, and tools that trust it work.

- every answer documented with its real schema, every problem code under its status;
- Swagger UI and ReDoc load nothing from the internet;
- schemathesis drives the whole document against the real gateway on anvil with every check;
- a client generated from the document (openapi-python-client) calls the gateway.

This file runs last in the package on purpose (the fuzzer writes thresholds, links, API keys
and settlement batches into the shared world).
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain.protocol.errors import ERROR_CODES, GENERIC_REVERT_NAMES
from chain.protocol.staff import OPERATIONS
from gateway.errors import GATEWAY_CODES, status_of
from gateway.http.access import staff_path
from gateway.http.docs import ASSETS
from tests.fixtures.signin import sign_in

from .conftest import World

BIN = Path(sys.executable).parent
KNOWN_CODES = set(GATEWAY_CODES) | ERROR_CODES | GENERIC_REVERT_NAMES


def _document(world: World) -> dict[str, Any]:
    answer = httpx.get(world.gateway.url + "/openapi.json", timeout=30)
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


def test_every_answer_is_documented_with_its_schema_and_codes(world: World) -> None:
    doc = _document(world)
    operations = [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 45
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for method, path, op in operations:
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        successes = [s for s in responses if s.startswith("2")]
        assert successes, where
        for status in successes:
            for media, body in responses[status].get("content", {}).items():
                if media == "application/json":  # a model, never the old {"type": "string"}
                    assert body["schema"] not in ({}, {"type": "string"}), where
        documented = op["x-dongne-codes"]
        # 422 is a contract rule's refusal (never FastAPI's validation answer): relaying, and
        # the routes that simulate a sale first (purchase orders, the sale discount).
        rules = any(status_of(code) == 422 for code in documented)
        assert "422" not in responses or path == "/v1/requests" or rules, where
        for code in documented:
            assert code in KNOWN_CODES, (where, code)
            answer = responses[str(status_of(code))]
            problem = answer["content"]["application/problem+json"]
            assert code in problem["schema"]["allOf"][1]["properties"]["code"]["enum"], where
        if op.get("parameters") or op.get("requestBody"):
            assert "InvalidRequest" in documented, where
        if op["security"]:
            assert {"AuthRequired", "AuthInvalid"} <= set(documented), where
    signed = doc["paths"]["/v1/requests"]["post"]["requestBody"]["content"]["application/json"]
    fields = signed["schema"]["properties"]
    assert "from" in fields  # the wire's spelling
    assert "from_" not in fields
    addresses = [
        p for _m, _p, op in operations for p in op.get("parameters", []) if p["name"] == "token"
    ]
    assert addresses
    assert all("pattern" in p["schema"] or "anyOf" in p["schema"] for p in addresses)


_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_nothing_from_outside(world: World, page: str) -> None:
    http = world.client("anonymous")
    html = http.get(page)
    assert html.status_code == 200
    assert "text/html" in html.headers["content-type"]
    urls = [a or b for a, b in _URL.findall(html.text)]
    assert any(u.endswith(".js") for u in urls), urls
    for url in urls:  # every script, style, icon and the document itself: this gateway's
        assert not re.match(r"^(https?:)?//", url), url
        assert http.get(url).status_code == 200, url
    assert "cdn." not in html.text
    assert "googleapis" not in html.text
    for name in ASSETS:
        assert int(http.get(f"/docs/assets/{name}").headers["content-length"]) > 100, name
    assert http.get("/docs/assets/package.json").status_code == 400  # a whitelist, not a dir


def test_schemathesis_finds_nothing_over_the_whole_document(world: World, tmp_path: Path) -> None:
    # Its own session: the fuzzer must not sign out the fixture's admin (logout is excluded).
    anonymous = world.client("anonymous")
    admin = sign_in(anonymous, bytes(world.accounts["admin"].key))["authorization"]
    config = tmp_path / "schemathesis.toml"
    staff_calls = ", ".join(f'"POST {staff_path(op)}"' for op in OPERATIONS)
    config.write_text(
        f"""
seed = 20261204
checks.enabled = true  # every check schemathesis has
workers = 1  # hypothesis describes lambdas with ast.parse, which is not thread-safe on 3.11
generation.database = "none"
generation.max-examples = 30
headers = {{ Authorization = "{admin}" }}
parameters = {{ "path.token" = "{world.siheung}" }}
[phases.stateful]
enabled = false

[[operations]]
include-path = "/v1/auth/logout"
enabled = false  # would close the session the run signs its requests with

[[operations]]
include-name = [
  "POST /v1/requests", "GET /v1/wallets/{{address}}/history", "GET /v1/audit/{{token}}/fraud",
  "GET /v1/audit/{{token}}/ledger", "GET /v1/audit/{{token}}/settlements/preview",
  "POST /v1/audit/{{token}}/settlements", "GET /v1/audit/{{token}}/funders",
  "GET /v1/merchants/{{address}}/sales",
  "GET /v1/wallets/{{address}}/payment-requests", "GET /v1/merchants/{{address}}/invoices",
  "POST /v1/tokens/{{token}}/staff-actions", {staff_calls},
  "GET /v1/tokens/{{token}}/directory", "POST /v1/tokens/{{token}}/merchant-applications"
]
# Validity these schemas cannot state, rightly refused with 400 when a schema-valid value
# breaks it: a signed request's deadline, signature and nonce are the chain's; a window's
# since must be before its until (and the window within the cap); a cursor is one the gateway
# made; a staff operation's values are its contract's types and the chain's state (a pending
# rule set to cancel), and a staff transaction is one the chain shows; a directory search's
# point is in Korea, and a business number's tenth digit is its checksum.
checks.positive_data_acceptance.enabled = false
"""
    )
    report = tmp_path / "report.json"
    run = subprocess.run(
        [str(BIN / "st"), "--config-file", str(config), "--no-color", "run",
         f"{world.gateway.url}/openapi.json",
         "--report", "json", "--report-json-path", str(report)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    (tmp_path / "st.log").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[-8000:]
    figures = json.loads(report.read_text())
    cases, operations = figures["test_cases"], figures["operations"]
    assert figures["failures"] == []
    assert operations["tested"] >= 45
    assert cases["generated"] > 1500
    print(f"schemathesis: {operations['tested']} operations, {cases['generated']} cases")


def test_a_generated_client_calls_the_gateway(world: World, tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(_document(world)))
    generate = subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(spec),
         "--output-path", str(tmp_path / "client"), "--meta", "none"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert generate.returncode == 0, generate.stdout[-3000:] + generate.stderr[-3000:]
    sys.path.insert(0, str(tmp_path))
    try:
        client_pkg = importlib.import_module("client")
        network_api = importlib.import_module("client.api.relay.network_v1_network_get")
        tokens_api = importlib.import_module("client.api.query.list_tokens_v1_tokens_get")
        me_api = importlib.import_module("client.api.access.me_v1_me_get")
        anonymous = client_pkg.Client(base_url=world.gateway.url)
        network = network_api.sync(client=anonymous)
        assert network.chain_id == world.net.manifest.chain_id
        assert {t.region for t in network.tokens} >= {41390, 41130}
        tokens = tokens_api.sync(client=anonymous)
        assert any(t.token.lower() == world.siheung for t in tokens)
        token = world.headers["auditor"]["authorization"].split(" ", 1)[1]
        signed_in = client_pkg.AuthenticatedClient(base_url=world.gateway.url, token=token)
        me = me_api.sync(client=signed_in)
        assert me.address == world.accounts["auditor"].address.lower()
        refused = me_api.sync_detailed(client=anonymous)
        assert refused.status_code == 401
        assert json.loads(refused.content)["code"] == "AuthRequired"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "client" or m.startswith("client.")]:
            del sys.modules[name]
