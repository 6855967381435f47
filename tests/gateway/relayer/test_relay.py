"""The relayer over real HTTP against anvil (interval mining), on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from chain.protocol.calls import encode_gift, encode_pay
from gateway.devnet.localnet import LocalNetwork
from gateway.devnet.process import GatewayProcess
from tests.fixtures.wallets import new_wallet

from .conftest import People, executions, wait_final


def balance_of(people: People, token: str, holder: str) -> int:
    data = keccak(text="balanceOf(address)")[:4] + abi_encode(["address"], [holder])
    raw = people.network.operator.rpc.eth_call({"to": token, "data": "0x" + data.hex()})
    (value,) = abi_decode(["uint256"], raw)
    return int(value)


def test_pay_is_relayed_and_reaches_success(gateway: GatewayProcess, people: People) -> None:
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[0]
    answer = client.post("/v1/requests", json=people.pay(citizen, 30_000, 0))
    assert answer.status_code == 202, answer.text
    state = wait_final(client, answer.json()["id"])
    assert state["status"] == "succeeded", state
    assert str(state["tx_hash"]).startswith("0x")
    assert int(str(state["block_number"])) > 0
    assert balance_of(people, people.token, people.merchant) == 30_000
    # 100,000 - 30,000 + 10% cashback (tier-0 merchant)
    assert balance_of(people, people.token, citizen.address) == 73_000


def test_same_request_twice_gets_one_id_and_runs_once(
    gateway: GatewayProcess, people: People
) -> None:
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[0]
    body = people.pay(citizen, 10_000, 0)
    first = client.post("/v1/requests", json=body).json()
    second = client.post("/v1/requests", json=body).json()
    assert first["id"] == second["id"]
    wait_final(client, first["id"])
    third = client.post("/v1/requests", json=body)
    assert third.json()["id"] == first["id"]
    assert third.json()["status"] == "succeeded"
    assert executions(people, citizen.address) == [(0, True)]


def test_pipelined_nonces_all_execute_in_order(gateway: GatewayProcess, people: People) -> None:
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[1]
    nonce = int(client.get(f"/v1/nonces/{citizen.address}").json()["nonce"])
    ids = [
        client.post("/v1/requests", json=people.pay(citizen, 1_000, nonce + i)).json()["id"]
        for i in range(5)
    ]
    assert int(client.get(f"/v1/nonces/{citizen.address}").json()["nonce"]) == nonce + 5
    states = [wait_final(client, rid) for rid in ids]
    assert [s["status"] for s in states] == ["succeeded"] * 5
    assert executions(people, citizen.address) == [(nonce + i, True) for i in range(5)]


def test_on_chain_failure_is_the_final_status_with_its_custom_error(
    gateway: GatewayProcess, people: People
) -> None:
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[2]
    # The first spends almost everything; the second (pipelined, not simulated) cannot pay.
    ok = client.post("/v1/requests", json=people.pay(citizen, 95_000, 0)).json()
    short = client.post("/v1/requests", json=people.pay(citizen, 50_000, 1)).json()
    assert wait_final(client, ok["id"])["status"] == "succeeded"
    state = wait_final(client, short["id"])
    assert state["status"] == "failed"
    error = state["error"]
    assert isinstance(error, dict)
    assert error["code"] == "VoucherInsufficientBalance"
    assert error["args"]["needed"] == 50_000


def problem(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == response.status_code
    return response.status_code, str(body["code"])


def test_rejections_carry_precise_codes(gateway: GatewayProcess, people: People) -> None:
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[3]
    post = lambda body: client.post("/v1/requests", json=body)  # noqa: E731

    # Wrong region: a Seongnam merchant is not a merchant of Siheung's token.
    wrong_region = encode_pay(people.other_merchant, 1_000, secrets.token_bytes(32))
    assert problem(post(people.sign(citizen, wrong_region, 0))) == (422, "VoucherNotMerchant")
    # Expired.
    expired = people.pay(citizen, 1_000, 0, deadline=int(time.time()) - 1)
    assert problem(post(expired)) == (400, "RequestExpired")
    # Tampered: amount changed after signing.
    tampered = people.pay(citizen, 1_000, 0)
    tampered["data"] = tampered["data"][:-2] + ("00" if tampered["data"][-2:] != "00" else "01")
    assert problem(post(tampered)) == (401, "InvalidSignature")
    # Unregistered signer.
    stranger = new_wallet()
    assert problem(post(people.pay(stranger, 1_000, 0))) == (403, "SignerUnregistered")
    # Unknown selector, and a target outside the manifest.
    approve = keccak(text="approve(address,uint256)")[:4] + abi_encode(
        ["address", "uint256"], [people.merchant, 1]
    )
    assert problem(post(people.sign(citizen, approve, 0))) == (403, "SelectorNotAllowed")
    elsewhere = people.sign(citizen, encode_gift(people.merchant, 1), 0, to=people.merchant)
    assert problem(post(elsewhere)) == (403, "TargetNotAllowed")
    # Rule rejection at acceptance: more than the holding.
    assert problem(post(people.pay(citizen, 10_000_000, 0))) == (422, "VoucherInsufficientBalance")
    # Replayed: a used nonce in a new request.
    done = post(people.pay(citizen, 1_000, 0)).json()
    assert wait_final(client, done["id"])["status"] == "succeeded"
    assert problem(post(people.pay(citizen, 2_000, 0))) == (409, "NonceTooLow")
    # Nonce held by another request in flight is a conflict; malformed bodies are 400/413.
    assert problem(client.post("/v1/requests", content=b"{")) == (400, "InvalidRequest")
    assert problem(post({"from": citizen.address})) == (400, "InvalidRequest")
    assert problem(client.post("/v1/requests", content=b"[" * 100_000)) == (413, "PayloadTooLarge")
    assert problem(client.get("/v1/requests/0x" + "00" * 32)) == (404, "NotFound")


def test_killed_mid_batch_loses_nothing_and_runs_nothing_twice(
    network: LocalNetwork, database_url: str, people: People, tmp_path: Path
) -> None:
    # Slow batching so that requests are accepted, batched and in flight when the kill lands.
    env = network.gateway_env(database_url, batch_interval_ms="300", poll_interval_s="0.1")
    wallets = people.citizens
    accepted: list[str] = []
    with GatewayProcess(env, log_path=tmp_path / "gw1.log") as first:
        client = httpx.Client(base_url=first.url)
        for n in range(6):
            for w in wallets:
                answer = client.post("/v1/requests", json=people.pay(w, 500, n))
                assert answer.status_code == 202, answer.text
                accepted.append(answer.json()["id"])
        time.sleep(0.35)  # the first batch is on its way
        first.kill()
    with GatewayProcess(env, log_path=tmp_path / "gw2.log") as second:
        client = httpx.Client(base_url=second.url)
        states = [wait_final(client, rid, timeout=60) for rid in accepted]
    assert [s["status"] for s in states] == ["succeeded"] * len(accepted)
    for w in wallets:
        assert executions(people, w.address) == [(n, True) for n in range(6)]
    assert balance_of(people, people.token, people.merchant) == 500 * 6 * len(wallets)
