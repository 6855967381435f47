"""Token-native signed payments (POST /v1/payments, payBySigBatch) over real HTTP against
anvil (interval mining), on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest

from chain.protocol.contracts import event_topic
from chain.protocol.signed_payments import (
    PAY_BY_SIG_BATCH_SELECTOR,
    SignedPayment,
    encode_pay_by_sig,
    payment_from_json,
    payment_to_json,
    sign_payment,
    token_domain,
)
from chain.rpc import JSONObject
from gateway.devnet.localnet import LocalNetwork
from gateway.devnet.process import GatewayProcess
from tests.fixtures.wallets import Wallet

from .conftest import People, wait_final
from .test_relay import balance_of

PAID = event_topic("Paid")
SKIPPED = event_topic("SignedPaymentSkipped")


def signed(
    people: People,
    wallet: Wallet,
    amount: int,
    nonce: int,
    *,
    payment_id: bytes | None = None,
    program_ids: tuple[int, ...] = (),
) -> dict[str, object]:
    payment = SignedPayment(
        wallet.address,
        people.merchant,
        amount,
        payment_id or secrets.token_bytes(32),
        program_ids,
        nonce,
        int(time.time()) + 300,
    )
    domain = token_domain(people.network.manifest.chain_id, people.token)
    return payment_to_json(people.token, payment, sign_payment(wallet.key, domain, payment))


def receipt_of(people: People, tx_hash: str) -> JSONObject:
    receipt = people.network.operator.rpc.call("eth_getTransactionReceipt", [tx_hash])
    assert isinstance(receipt, dict)
    return receipt


def logs_with(receipt: JSONObject, topic: str) -> list[JSONObject]:
    logs = cast(list[JSONObject], receipt["logs"])
    return [log for log in logs if cast(list[str], log["topics"])[0] == topic]


def paid_count(people: People, payer: str, topic: str = PAID) -> int:
    """``payer``'s Paid logs on the token (or another event's, by ``topic``)."""
    logs = people.network.operator.rpc.get_logs(
        {
            "address": people.token,
            "fromBlock": "0x0",
            "toBlock": "latest",
            "topics": [topic, "0x" + "00" * 12 + payer[2:].lower()],
        }
    )
    return len(logs)


def batching_env(network: LocalNetwork, database_url: str, size: int) -> dict[str, str]:
    """One shard (one batcher for every payer) that sends a batch once ``size`` requests
    wait, not before (or after 30 s): a test acts on the chain between a payment's
    acceptance and its batch, then releases the batch with more payments."""
    return network.gateway_env(
        database_url, relayer_shards="1", batch_interval_ms="30000",
        batch_max_requests=str(size), poll_interval_s="0.1",
    )  # fmt: skip


@pytest.fixture
def pair_gateway(
    network: LocalNetwork, database_url: str, tmp_path: Path
) -> Iterator[GatewayProcess]:
    env = batching_env(network, database_url, 2)
    with GatewayProcess(env, log_path=tmp_path / "gateway.log") as process:
        yield process


def test_signed_payment_ends_final_and_pays_once(gateway: GatewayProcess, people: People) -> None:
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[0]
    ask = client.get(f"/v1/nonces/{citizen.address}", params={"token": people.token})
    assert ask.json()["nonce"] == "0"
    body = signed(people, citizen, 30_000, 0)
    answer = client.post("/v1/payments", json=body)
    assert answer.status_code == 202, answer.text
    rid = answer.json()["id"]
    assert client.post("/v1/payments", json=body).json()["id"] == rid  # same id, held
    state = wait_final(client, rid)
    assert state["status"] == "succeeded", state
    assert state["kind"] == "payment"
    assert state["signer"] == citizen.address
    assert state["target"] == people.token
    assert balance_of(people, people.token, people.merchant) == 30_000
    assert balance_of(people, people.token, citizen.address) == 73_000  # 10% cashback
    again = client.post("/v1/payments", json=body)
    assert again.json() == {"id": rid, "status": "succeeded"}
    assert paid_count(people, citizen.address) == 1
    ask = client.get(f"/v1/nonces/{citizen.address}", params={"token": people.token})
    assert ask.json()["nonce"] == "1"
    # The forwarder nonce is another sequence: a forwarded pay still starts at 0.
    forwarded = client.post("/v1/requests", json=people.pay(citizen, 1_000, 0))
    assert wait_final(client, forwarded.json()["id"])["status"] == "succeeded"


def test_several_wallets_payments_go_in_one_pay_by_sig_batch(
    network: LocalNetwork, database_url: str, people: People, tmp_path: Path
) -> None:
    env = batching_env(network, database_url, 4)  # the four payments, together
    ids = []
    with GatewayProcess(env, log_path=tmp_path / "gateway.log") as gateway:
        client = httpx.Client(base_url=gateway.url)
        for wallet in people.citizens:
            answer = client.post("/v1/payments", json=signed(people, wallet, 2_000, 0))
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
        states = [wait_final(client, rid) for rid in ids]
    assert [s["status"] for s in states] == ["succeeded"] * len(ids)
    [tx_hash] = {str(s["tx_hash"]) for s in states}
    tx = people.network.operator.rpc.call("eth_getTransactionByHash", [tx_hash])
    assert isinstance(tx, dict)
    assert str(tx["to"]).lower() == people.token.lower()
    assert str(tx["input"]).startswith("0x" + PAY_BY_SIG_BATCH_SELECTOR.hex())
    receipt = receipt_of(people, tx_hash)
    assert len(logs_with(receipt, PAID)) == len(ids)
    assert not logs_with(receipt, SKIPPED)
    assert balance_of(people, people.token, people.merchant) == 2_000 * len(ids)


def test_replay_is_refused_and_a_forced_one_is_read_as_paid_once(
    pair_gateway: GatewayProcess, people: People
) -> None:
    client = httpx.Client(base_url=pair_gateway.url)
    citizen = people.citizens[0]
    body = signed(people, citizen, 5_000, 0)
    answer = client.post("/v1/payments", json=body)
    assert answer.status_code == 202, answer.text
    rid = answer.json()["id"]
    # Someone pays the same signed payment first, straight to the token, before the relayer's
    # batch: the batch's copy is skipped (nonce used), and that skip is this payment's success
    # (its Paid log is on chain), not a failure, and nothing is paid twice.
    token, payment, signature = payment_from_json(body)
    front = people.network.operator.send(token, encode_pay_by_sig(payment, signature))
    other = client.post("/v1/payments", json=signed(people, people.citizens[1], 5_000, 0))
    assert other.status_code == 202, other.text  # the second of the pair: the batch leaves
    assert wait_final(client, other.json()["id"])["status"] == "succeeded"
    state = wait_final(client, rid)
    assert state["status"] == "succeeded", state
    assert state["tx_hash"] == front["transactionHash"]
    assert paid_count(people, citizen.address) == 1
    assert balance_of(people, people.token, people.merchant) == 10_000
    batches = {
        str(log["transactionHash"])
        for log in people.network.operator.rpc.get_logs(
            {"address": people.token, "fromBlock": "0x0", "toBlock": "latest",
             "topics": [SKIPPED, "0x" + "00" * 12 + citizen.address[2:].lower()]}
        )
    }  # fmt: skip
    assert len(batches) == 1  # the relayer's batch skipped it
    # A replay of a used nonce (another payment signed with it) is refused at intake.
    replay = client.post("/v1/payments", json=signed(people, citizen, 5_000, 0))
    assert replay.status_code == 409, replay.text
    problem = replay.json()
    assert problem["code"] == "VoucherInvalidPaymentNonce"
    assert (problem["args"]["expected"], problem["args"]["given"]) == (1, 0)


def test_bad_signature_and_expired_are_refused_with_typed_problems(
    gateway: GatewayProcess, people: People
) -> None:
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[1]
    body = signed(people, citizen, 1_000, 0)
    answer = client.post("/v1/payments", json=body | {"amount": "1001"})
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "VoucherInvalidPaymentSignature"
    assert answer.json()["args"] == {"payer": citizen.address}
    other = signed(people, people.citizens[2], 1_000, 0)
    answer = client.post("/v1/payments", json=body | {"signature": other["signature"]})
    assert answer.json()["code"] == "VoucherInvalidPaymentSignature"
    token, payment, _ = payment_from_json(body)
    domain = token_domain(people.network.manifest.chain_id, token)
    past = SignedPayment(
        payment.payer, payment.merchant, 1_000, payment.payment_id, (), 0, int(time.time()) - 1
    )
    answer = client.post(
        "/v1/payments", json=payment_to_json(token, past, sign_payment(citizen.key, domain, past))
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "VoucherSignedPaymentExpired"
    answer = client.post("/v1/payments", json=signed(people, citizen, 1_000, 3))
    assert answer.status_code == 409
    assert answer.json()["code"] == "VoucherInvalidPaymentNonce"
    answer = client.post("/v1/payments", json=signed(people, citizen, 10**9, 0))
    assert answer.status_code == 422  # simulated: the token's own refusal
    assert answer.json()["code"].startswith("Voucher")


def test_payer_frozen_after_acceptance_ends_failed_with_voucher_frozen(
    pair_gateway: GatewayProcess, people: People
) -> None:
    client = httpx.Client(base_url=pair_gateway.url)
    citizen = people.citizens[3]
    answer = client.post("/v1/payments", json=signed(people, citizen, 1_000, 0))
    assert answer.status_code == 202, answer.text
    people.network.operator.set_frozen(people.network.manifest.registry, citizen.address, True)
    other = client.post("/v1/payments", json=signed(people, people.citizens[0], 1_000, 0))
    assert other.status_code == 202, other.text  # the batch leaves with both
    state = wait_final(client, answer.json()["id"])
    assert state["status"] == "failed", state
    error = cast(dict[str, object], state["error"])
    assert error["code"] == "VoucherFrozen", state
    assert paid_count(people, citizen.address) == 0
    receipt = receipt_of(people, str(state["tx_hash"]))
    assert len(logs_with(receipt, SKIPPED)) == 1


def test_accepted_payment_survives_a_relayer_restart(
    network: LocalNetwork, database_url: str, people: People, tmp_path: Path
) -> None:
    # No batch before the kill: the payments are only stored when the first process dies.
    env = batching_env(network, database_url, 100)
    ids = []
    with GatewayProcess(env, log_path=tmp_path / "gw1.log") as first:
        client = httpx.Client(base_url=first.url)
        for wallet in people.citizens[:2]:
            answer = client.post("/v1/payments", json=signed(people, wallet, 700, 0))
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
        first.kill()
    env = network.gateway_env(database_url, batch_interval_ms="100", poll_interval_s="0.1")
    with GatewayProcess(env, log_path=tmp_path / "gw2.log") as second:
        client = httpx.Client(base_url=second.url)
        states = [wait_final(client, rid, timeout=60) for rid in ids]
    assert [s["status"] for s in states] == ["succeeded"] * len(ids)
    for wallet in people.citizens[:2]:
        assert paid_count(people, wallet.address) == 1
    assert balance_of(people, people.token, people.merchant) == 700 * len(ids)


def test_the_payment_nonce_of_an_address_that_is_no_city_token_is_refused(
    gateway: GatewayProcess, people: People
) -> None:
    """Asked for any address, the route answered 0 and kept a nonce-book entry per (payer,
    address): a stranger could grow the relayer's memory at will (review finding)."""
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[0]
    answer = client.get(f"/v1/nonces/{citizen.address}", params={"token": people.merchant})
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "TargetNotAllowed"
    assert client.get(f"/v1/nonces/{citizen.address}").status_code == 200  # forwarder nonce
