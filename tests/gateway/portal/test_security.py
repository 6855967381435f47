"""The portal's own defences, in process (no node, no browser): the demo wallets need the
run's secret and a direct loopback caller, and every portal answer carries its security
headers (CSP, nosniff, no referrer)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.http.app import create_app
from gateway.settings import Settings

SECRET = "s3cret-of-this-run"
KEY = "0x" + "11" * 32


def _client(tmp_path: Path, **settings: object) -> TestClient:
    keys = tmp_path / "portal-demo-keys.json"
    keys.write_text(json.dumps([{"role": "citizen", "name": "Citizen 1", "region": 41390,
                                 "address": "0x" + "ab" * 20, "private_key": KEY}]))  # fmt: skip
    values: dict[str, object] = {
        "portal_demo_keys": keys,
        "portal_demo_secret": SECRET,
        "rpc_url": "http://alice:hunter2@127.0.0.1:8545/rpc",
        **settings,
    }
    settings = Settings(**values)  # type: ignore[arg-type]
    app = create_app(settings)
    # Not used as a context manager: the lifespan (node, database) does not run, and the
    # portal routes need these two only.
    app.state.settings = settings
    app.state.manifest = SimpleNamespace(chain_id=31337)
    return TestClient(app, base_url="http://127.0.0.1:8000", client=("127.0.0.1", 50000))


@pytest.fixture
def demo(tmp_path: Path) -> TestClient:
    return _client(tmp_path)


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 404
    assert answer.json()["code"] == "RouteNotFound"


def test_the_demo_wallets_need_the_runs_secret(demo: TestClient) -> None:
    answer = demo.get("/portal/demo/wallets", headers={"x-dongne-demo": SECRET})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [w["private_key"] for w in body["wallets"]] == [KEY]
    # The browser gets the node's endpoint, never the credentials in the gateway's setting.
    assert body["rpc_url"] == "http://127.0.0.1:8545/rpc"
    assert answer.headers["cache-control"] == "no-store"
    _refused(demo.get("/portal/demo/wallets"))
    _refused(demo.get("/portal/demo/wallets", headers={"x-dongne-demo": ""}))
    _refused(demo.get("/portal/demo/wallets", headers={"x-dongne-demo": SECRET + "x"}))
    _refused(demo.get("/portal/demo/wallets", params={"demo": SECRET}))  # header only


@pytest.mark.parametrize(
    "header",
    ["Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP", "Via"],
)
def test_no_demo_wallets_through_a_proxy(demo: TestClient, header: str) -> None:
    # nginx's proxy_pass to 127.0.0.1 keeps every loopback check true; its headers do not.
    headers = {"x-dongne-demo": SECRET, header: "203.0.113.7"}
    _refused(demo.get("/portal/demo/wallets", headers=headers))
    assert 'id="demo"' not in demo.get("/portal", headers={header: "203.0.113.7"}).text
    assert 'id="demo"' in demo.get("/portal").text


def test_no_demo_wallets_without_a_secret_or_off_loopback(tmp_path: Path) -> None:
    headers = {"x-dongne-demo": SECRET}
    unset = _client(tmp_path, portal_demo_secret=None)
    _refused(unset.get("/portal/demo/wallets", headers=headers))
    assert 'id="demo"' not in unset.get("/portal").text
    published = _client(tmp_path, public_url="http://dongne.example:8000")
    _refused(published.get("/portal/demo/wallets", headers=headers))
    app = _client(tmp_path).app
    remote = TestClient(app, base_url="http://127.0.0.1:8000", client=("10.0.0.9", 1))
    _refused(remote.get("/portal/demo/wallets", headers=headers))


def test_the_slash_redirect_keeps_the_demo_query(demo: TestClient) -> None:
    answer = demo.get("/portal/", params={"demo": SECRET}, follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == f"/portal?demo={SECRET}"


def test_every_portal_answer_carries_the_security_headers(tmp_path: Path) -> None:
    client = _client(tmp_path, portal_demo_keys=None, portal_demo_secret=None)
    answers = {
        path: client.get(path)
        for path in ("/portal", "/portal/officer/dashboard", "/portal/static/portal.js",
                     "/portal/static/portal.css", "/portal/vendor/echarts.min.js")
    }  # fmt: skip
    for path, answer in answers.items():
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert csp == (
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' "
            "'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors "
            "'none'; base-uri 'none'; object-src 'none'"
        ), path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
    qr = client.get("/portal/qr.svg", params={"token": "0x" + "12" * 20,
                                               "merchant": "0x" + "34" * 20})  # fmt: skip
    assert qr.status_code == 200, qr.text
    assert qr.headers["content-security-policy"].startswith("default-src 'none'")
    assert qr.headers["x-content-type-options"] == "nosniff"


def test_the_demo_page_may_call_the_demo_node_only(demo: TestClient) -> None:
    csp = demo.get("/portal").headers["content-security-policy"]
    assert "connect-src 'self' http://127.0.0.1:8545;" in csp
    assert "hunter2" not in csp
