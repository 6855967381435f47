"""The query API on a minimal app (this router and the problem handlers) over an index of the
scenario; each class runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gateway.http.problems import MEDIA_TYPE, install_problem_handlers
from gateway.http.routes.queries import router
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import Net

NOBODY = "0x" + "12" * 20


def _client(engine: Engine) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    install_problem_handlers(app)
    app.state.engine = engine
    return TestClient(app)


def _problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == MEDIA_TYPE
    body: dict[str, object] = response.json()
    assert body["code"] == code
    return body


class ApiTests:
    @pytest.fixture(scope="class")
    @classmethod
    def client(cls, built_chain: Net, class_engine: Engine) -> Iterator[TestClient]:
        built_chain.indexer(class_engine).sync_once()
        with _client(class_engine) as client:
            yield client

    def test_tokens_and_dashboard(self, built_chain: Net, client: TestClient) -> None:
        token = built_chain.token.address
        assert [t["token"] for t in client.get("/v1/tokens").json()] == [token]
        board = client.get(f"/v1/tokens/{token.lower()}/dashboard").json()
        assert board["circulating"] == built_chain.view("totalSupply")
        assert board["symbol"] == "SHG"
        _problem(client.get(f"/v1/tokens/{NOBODY}/dashboard"), 404, "NotFound")
        body = _problem(client.get("/v1/tokens/0x1234/dashboard"), 400, "InvalidRequest")
        assert (body["args"]["field"], body["args"]["value"]) == ("token", "0x1234")

    def test_programs(self, built_chain: Net, client: TestClient) -> None:
        token = built_chain.token.address
        listed = client.get(f"/v1/tokens/{token}/programs").json()
        assert [(p["program_id"], p["granted"], p["progress_pct"]) for p in listed] == [
            (1, 40_000, 40.0),
            (2, 8_000, 80.0),
            (3, 13_500, 27.0),  # the reward program
        ]
        assert client.get(f"/v1/tokens/{token}/programs/2").json()["returned"] == 4_000
        _problem(client.get(f"/v1/tokens/{token}/programs/9"), 404, "NotFound")
        _problem(client.get(f"/v1/tokens/{token}/programs/0"), 400, "InvalidRequest")
        _problem(client.get(f"/v1/tokens/{token}/programs/x"), 400, "InvalidRequest")
        _problem(client.get(f"/v1/tokens/{NOBODY}/programs"), 404, "NotFound")

    def test_wallet_balances(self, built_chain: Net, client: TestClient) -> None:
        c3 = built_chain.wallets["c3"].address
        (balance,) = client.get(f"/v1/wallets/{c3}/balances").json()
        assert balance["general"] == built_chain.view("balanceOf", c3)
        assert [(p["program_id"], p["amount"]) for p in balance["pockets"]] == [
            (2, 2_000),
            (1, 5_000),
        ]
        assert balance["total"] == balance["general"] + 7_000
        filtered = client.get(f"/v1/wallets/{c3}/balances", params={"token": NOBODY}).json()
        assert filtered == []
        _problem(client.get("/v1/wallets/nobody/balances"), 400, "InvalidRequest")
        _problem(
            client.get(f"/v1/wallets/{c3}/balances", params={"token": "x"}), 400, "InvalidRequest"
        )

    def test_wallet_history_pages(self, built_chain: Net, client: TestClient) -> None:
        c1 = built_chain.wallets["c1"].address
        url = f"/v1/wallets/{c1}/history"
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get(url, params=params).json()
            seen.extend((i["block_number"], i["log_index"]) for i in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(set(seen), reverse=True)
        assert len(seen) == 7
        c6 = built_chain.wallets["c6"].address
        kinds = {i["kind"] for i in client.get(f"/v1/wallets/{c6}/history").json()["items"]}
        assert kinds == {"sale", "payment", "cancellation", "reward"}
        item = client.get(url, params={"limit": 1}).json()["items"][0]
        assert item["kind"] == "gift"
        assert item["counterparty"] == built_chain.wallets["c2"].address
        _problem(client.get(url, params={"cursor": "!!"}), 400, "InvalidRequest")
        _problem(client.get(url, params={"limit": 0}), 400, "InvalidRequest")
        _problem(client.get(url, params={"limit": 1000}), 400, "InvalidRequest")

    def test_merchant_sales(self, built_chain: Net, client: TestClient) -> None:
        m1 = built_chain.wallets["m1"].address
        (sales,) = client.get(f"/v1/merchants/{m1}/sales").json()
        assert (sales["payments"], sales["cancelled"], sales["redeemed"]) == (6, 31_000, 20_000)
        # Year 2099 is a time (no sales yet); year 36812 is no time at all (a 400).
        far = client.get(f"/v1/merchants/{m1}/sales", params={"since": 2**40})
        assert (far.status_code, far.json()["code"]) == (400, "InvalidRequest")
        later = client.get(f"/v1/merchants/{m1}/sales", params={"since": "2099-01-01"}).json()
        assert later == []

    def test_payment_requests_and_invoices(self, built_chain: Net, client: TestClient) -> None:
        w = built_chain.wallets
        ids = {name: "0x" + value.hex() for name, value in built_chain.facts["invoices"].items()}
        url = f"/v1/wallets/{w['c6'].address}/payment-requests"
        body = client.get(url).json()
        assert [i["invoice_id"] for i in body["items"]] == [ids["C"], ids["B"], ids["A"]]
        assert body["next_cursor"] is None
        (paid,) = client.get(url, params={"status": "paid"}).json()["items"]
        assert (paid["invoice_id"], paid["payer"], paid["paid_seq"]) == (
            ids["A"],
            w["c6"].address,
            0,
        )
        first = client.get(url, params={"limit": 1}).json()
        assert first["next_cursor"] is not None
        rest = client.get(url, params={"cursor": first["next_cursor"]}).json()
        assert [i["invoice_id"] for i in rest["items"]] == [ids["B"], ids["A"]]
        invoices = f"/v1/merchants/{w['m4'].address}/invoices"
        cancelled = client.get(invoices, params={"status": "cancelled"}).json()["items"]
        assert [i["invoice_id"] for i in cancelled] == [ids["B"]]
        assert client.get(invoices, params={"token": NOBODY}).json()["items"] == []
        _problem(client.get(url, params={"status": "late"}), 400, "InvalidRequest")
        _problem(client.get(url, params={"cursor": "!!"}), 400, "InvalidRequest")
        _problem(client.get(invoices, params={"limit": 0}), 400, "InvalidRequest")
        _problem(client.get("/v1/merchants/nobody/invoices"), 400, "InvalidRequest")

    def test_funding(self, built_chain: Net, client: TestClient) -> None:
        token = built_chain.token.address
        body = client.get(f"/v1/tokens/{token}/funding").json()
        assert (body["subsidy_total"], body["cashback_total"]) == tuple(
            built_chain.view("fundingTotals")
        )
        assert [v["version"] for v in body["versions"]] == [1, 2]
        assert [f["name"] for f in body["funders"]] == ["state", "siheung", "gyeonggi"]
        _problem(client.get(f"/v1/tokens/{NOBODY}/funding"), 404, "NotFound")
        _problem(client.get("/v1/tokens/0x12/funding"), 400, "InvalidRequest")

    def test_indexer_status(self, built_chain: Net, client: TestClient) -> None:
        status = client.get("/v1/indexer/status").json()
        assert (status["block_number"], status["head"], status["lag"]) == (
            built_chain.facts["head"],
            built_chain.facts["head"],
            0,
        )


class TestApiSQLite(ApiTests, SQLiteBackend):
    pass


class TestApiPostgres(ApiTests, PostgresBackend):
    pass


def test_status_before_anything_is_indexed(sqlite_engine: Engine) -> None:
    with _client(sqlite_engine) as client:
        body = _problem(client.get("/v1/indexer/status"), 503, "NotReady")
        assert body["retryable"] is True
        assert client.get("/v1/tokens").json() == []
