"""The distribution and audit routers on a minimal app (these routers and the problem
handlers) over a live chain; each class runs on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from chain.protocol.calls import ProgramParams
from chain.protocol.merkle import Leaf, MerkleTree
from gateway.audit.ledger import check_trailer
from gateway.http.problems import MEDIA_TYPE
from gateway.http.routes import distribution as distribution_api
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import DAY, City

NOBODY = "0x" + "12" * 20


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body: dict[str, object] = response.json()
    assert body["code"] == code
    return body


class ApiTests:
    def test_distribution_from_upload_to_pushed_grants(
        self, city: City, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        people = city.citizens(3)
        city.index(engine)  # the municipality must be known
        rows = "address,amount\n" + "".join(
            f"{p.address},{(i + 1) * 10_000}\n" for i, p in enumerate(people)
        )
        url = f"/v1/distributions?token={city.token}"
        made = client.post(url, content=rows, headers={"content-type": "text/csv"})
        assert made.status_code == 201, made.text
        job = made.json()
        assert (job["count"], job["total"], job["status"]) == (3, 60_000, "built")
        form = client.post(url, files={"file": ("youth.csv", rows.encode(), "text/csv")})
        assert form.json()["root"] == job["root"]
        _problem(client.post(url, content="0xnope,1\n"), 400, "InvalidRequest")
        _problem(client.post(f"/v1/distributions?token={NOBODY}", content=rows), 404, "NotFound")

        settings = client.app.state.settings  # type: ignore[attr-defined]
        settings.distribution_key = None
        _problem(client.post(f"/v1/distributions/{job['id']}/push"), 503, "NotReady")
        settings.distribution_key = SecretStr(city.pusher.key.hex())
        _problem(
            client.post(f"/v1/distributions/{job['id']}/push"), 409, "DistributionNotCommitted"
        )

        now = city.now()
        params = ProgramParams(bytes.fromhex(job["root"][2:]), 60_000, now - 10, now + DAY)
        program_id = city.op.create_program(city.token, params)
        city.index(engine)
        assert client.post(f"/v1/distributions/{job['id']}/push").status_code == 202
        deadline = time.monotonic() + 30
        while (status := client.get(f"/v1/distributions/{job['id']}").json())["status"] != "done":
            assert status["status"] != "failed", status
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        report = client.get(f"/v1/distributions/{job['id']}/report").json()
        assert (report["job"]["pushed"], report["job"]["program_id"]) == (3, program_id)
        assert len(report["tx_hashes"]) == 1
        listed = client.get("/v1/distributions", params={"token": city.token}).json()
        assert [j["id"] for j in listed] == [job["id"], form.json()["id"]]

        city.index(engine)
        proof = client.get(f"/v1/programs/{city.token}/{program_id}/proofs/2").json()
        leaf = Leaf(2, people[2].address, 30_000)
        assert (proof["recipient"], proof["amount"], proof["claimed"]) == (
            people[2].address,
            30_000,
            True,
        )
        nodes = [bytes.fromhex(node[2:]) for node in proof["proof"]]
        assert MerkleTree.verify(leaf, nodes, bytes.fromhex(job["root"][2:]))
        mine = client.get(
            f"/v1/programs/{city.token}/{program_id}/recipients/{people[0].address}/proofs"
        )
        assert [(p["index"], p["amount"]) for p in mine.json()] == [(0, 10_000)]
        _problem(client.get(f"/v1/programs/{city.token}/{program_id}/proofs/3"), 404, "NotFound")
        _problem(
            client.get(f"/v1/programs/{city.token}/9/recipients/{NOBODY}/proofs"), 404, "NotFound"
        )
        _problem(client.get(f"/v1/distributions/{'0' * 32}"), 404, "NotFound")

        verified = client.get(f"/v1/audit/{city.token}/programs/{program_id}/verify").json()
        assert (verified["ok"], verified["list_source"], verified["grants"]) == (
            True,
            "saved_tree",
            3,
        )
        posted = client.post(f"/v1/audit/{city.token}/programs/{program_id}/verify", content=rows)
        assert posted.json()["list_source"] == "uploaded_list"
        assert posted.json()["ok"]

    def test_audit_endpoints(self, city: City, client: TestClient, engine: Engine) -> None:
        shop = city.merchant()
        buyer, friend = city.citizens(2)
        city.issue(buyer, 200_000)
        city.pay(buyer, shop, 170_000)  # 85% of it at once
        city.gift(buyer, friend, 10_000)
        city.warp(60)
        since = city.now()
        city.redeem(shop, 40_000)
        city.warp(60)
        until = city.now()
        city.warp(60)
        city.index(engine)
        base = f"/v1/audit/{city.token}"

        report = client.get(f"{base}/reconcile").json()
        assert report["ok"]
        assert report["holders_checked"] == 3
        assert client.get(f"{base}/reconcile", params={"sample": 1, "seed": 3}).json()["sampled"]
        _problem(client.get(f"/v1/audit/{NOBODY}/reconcile"), 404, "NotFound")
        _problem(client.get("/v1/audit/0x12/reconcile"), 400, "InvalidRequest")

        ledger = client.get(f"{base}/ledger")
        assert ledger.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in ledger.headers["content-disposition"]
        assert ledger.text.splitlines()[0].startswith("block_number,log_index,block_time")
        lines = client.get(f"{base}/ledger", params={"format": "jsonl", "since": since}).text
        assert client.get(f"{base}/ledger", params={"format": "jsonl"}).headers["content-type"] == (
            "application/x-ndjson"
        )
        *rows, trailer = lines.splitlines()  # the last line is the trailer (rows, SHA-256)
        assert [line.count('"kind":"redemption"') for line in rows] == [1]
        assert check_trailer(lines) == 1
        assert '"trailer"' in trailer

        default = client.get(f"{base}/thresholds").json()
        default["round_amount_burst"]["min_count"] = 7
        assert (
            client.put(f"{base}/thresholds", json=default).json()["round_amount_burst"]["min_count"]
            == 7
        )
        assert client.get(f"{base}/thresholds").json() == default
        _problem(
            client.put(f"{base}/thresholds", json={"buy_then_pay": {"min_share_bps": 0}}),
            400,
            "InvalidRequest",
        )
        links = [{"wallet": buyer.address, "relation": "family", "note": "spouse"}]
        declared = client.put(f"{base}/merchants/{shop.address}/links", json=links).json()
        assert declared == [
            {
                "merchant": shop.address,
                "wallet": buyer.address,
                "relation": "family",
                "note": "spouse",
            }
        ]
        assert client.get(f"{base}/links").json() == declared
        flags = client.get(
            f"{base}/fraud", params={"since": until - 30 * DAY, "until": until + 3_600}
        ).json()
        assert [f["rule"] for f in flags] == ["buy_then_pay", "linked_wallet_payment"]
        _problem(
            client.get(f"{base}/fraud", params={"since": 5, "until": 5}), 400, "InvalidRequest"
        )

        window = {"since": since, "until": until}
        preview = client.get(f"{base}/settlements/preview", params=window).json()
        assert (preview["total"], preview["reconciled"], preview["issued_at"]) == (
            40_000,
            True,
            None,
        )
        issued = client.post(f"{base}/settlements", json=window)
        assert issued.status_code == 201, issued.text
        reference = issued.json()["reference"]
        _problem(client.post(f"{base}/settlements", json=window), 409, "SettlementOverlap")
        _problem(
            client.post(f"{base}/settlements", json={"since": until, "until": until + DAY}),
            409,
            "SettlementWindowOpen",
        )
        assert [b["reference"] for b in client.get(f"{base}/settlements").json()] == [reference]
        bank = client.get(f"{base}/settlements/{reference}", params={"format": "csv"})
        assert bank.headers["content-type"] == "text/csv; charset=utf-8"
        assert bank.text.splitlines()[-1].startswith(f"T,{reference},")
        assert client.get(f"{base}/settlements/{reference}").json()["issued_total"] == 40_000
        _problem(client.get(f"{base}/settlements/STL-nope"), 404, "NotFound")

    def test_an_upload_streams_to_disk_and_is_removed(
        self, city: City, client: TestClient, engine: Engine
    ) -> None:
        """Issue 12, item 11: a recipients list arrives in chunks (no Content-Length), goes to a
        file line by line, and the file is gone once the job exists or the list is refused."""
        city.index(engine)
        people = [f"0x{i:040x}" for i in range(1, 20_001)]

        def chunks() -> Iterator[bytes]:
            yield b"address,amount\n"
            for start in range(0, len(people), 1_000):
                yield "".join(f"{a},{1_000}\n" for a in people[start : start + 1_000]).encode()

        url = f"/v1/distributions?token={city.token}"
        made = client.post(url, content=chunks(), headers={"content-type": "text/csv"})
        assert made.status_code == 201, made.text
        assert (made.json()["count"], made.json()["total"]) == (20_000, 20_000_000)
        broken = b"address,amount\n" + f"{people[0]},1\n".encode() + b"\xff\xfe,2\n"
        refused = _problem(client.post(url, content=broken), 400, "InvalidRequest")
        assert refused["args"] == {"line": 3}  # decoded per line: the bad row is named
        settings = client.app.state.settings  # type: ignore[attr-defined]
        uploads = distribution_api.distribution.trees_dir(settings) / "uploads"
        assert list(uploads.iterdir()) == []


class TestApiSQLite(SQLiteBackend, ApiTests):
    pass


class TestApiPostgres(PostgresBackend, ApiTests):
    pass
