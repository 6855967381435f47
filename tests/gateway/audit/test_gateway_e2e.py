"""The whole gateway process: a distribution uploaded, committed by the manager, picked up by
the gateway's own indexer, pushed, verified and proven over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from chain.protocol.calls import ProgramParams
from gateway.devnet.process import GatewayProcess
from tests.fixtures.signin import sign_in

from .conftest import DAY, City


def _until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_distribution_through_the_gateway(city: City, tmp_path: Path) -> None:
    env = city.network.gateway_env(f"sqlite:///{tmp_path / 'gateway.db'}", poll_interval_s="0.1")
    env["DONGNE_DISTRIBUTION_KEY"] = city.pusher.key.hex()
    people = city.citizens(4)
    rows = "".join(f"{p.address},{25_000}\n" for p in people)
    with GatewayProcess(env, log_path=tmp_path / "gateway.log") as gateway:
        client = httpx.Client(base_url=gateway.url, timeout=10)

        def token_known() -> bool:
            return client.get(f"/v1/tokens/{city.token}/dashboard").status_code == 200

        _until(token_known, "the municipality to be indexed")
        # The operator is Siheung's program manager and auditor: it signs in with its key.
        client.headers.update(sign_in(client, bytes(city.op.account.key)))
        made = client.post(
            "/v1/distributions", params={"token": city.token}, content=rows,
            headers={"content-type": "text/csv"},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        job = made.json()
        now = city.now()
        root = bytes.fromhex(job["root"][2:])
        program_id = city.op.create_program(
            city.token, ProgramParams(root, 100_000, now, now + DAY)
        )
        url = f"/v1/distributions/{job['id']}"
        _until(lambda: client.get(url).json()["program_id"] == program_id, "the commit")
        assert client.post(f"{url}/push").status_code == 202
        _until(lambda: client.get(url).json()["status"] == "done", "the push")
        token = city.token
        verified = f"/v1/audit/{token}/programs/{program_id}/verify"
        _until(lambda: client.get(verified).json()["grants"] == 4, "the grants to be indexed")
        assert client.get(verified).json()["ok"]
        proof = client.get(f"/v1/programs/{token}/{program_id}/proofs/3").json()
        assert (proof["recipient"], proof["claimed"]) == (people[3].address, True)
        assert client.get(f"/v1/audit/{token}/reconcile").json()["ok"]
