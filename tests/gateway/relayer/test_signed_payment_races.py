"""Signed payments against the chain's other paths: pocket payments (PaidWithPockets), a
forwarded pay taking the sequence, a payer's pipeline bound, payments behind a skipped one
(review of branch sigwire, findings 0-3)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import httpx

from chain.protocol.calls import encode_pay
from chain.protocol.contracts import event_topic
from gateway.devnet.localnet import LocalNetwork
from gateway.devnet.process import GatewayProcess

from .conftest import People, wait_final
from .test_sdk_e2e import client_for, create_programs, pocket_of
from .test_signed_payments import batching_env, paid_count, pair_gateway, signed

__all__ = ["pair_gateway"]  # the fixture, imported

PAID_WITH_POCKETS = event_topic("PaidWithPockets")


def test_payment_naming_a_pocket_ends_succeeded_once(
    gateway: GatewayProcess, people: People
) -> None:
    """A payment naming a program pocket logs PaidWithPockets, not Paid: read as paid, not
    requeued and then failed for its own nonce."""
    now = int(time.time())
    (program,) = create_programs(people, [(now - 60, now + 86_400, ())])
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[1]  # no grant in the program: 0 from the pocket, all general
    answer = client.post(
        "/v1/payments", json=signed(people, citizen, 2_000, 0, program_ids=(program,))
    )
    assert answer.status_code == 202, answer.text
    state = wait_final(client, answer.json()["id"])
    assert state["status"] == "succeeded", state
    assert paid_count(people, citizen.address, PAID_WITH_POCKETS) == 1
    assert paid_count(people, citizen.address) == 0
    time.sleep(1.0)  # a requeue would have resent it by now and ended it otherwise
    again = client.get(f"/v1/requests/{answer.json()['id']}").json()
    assert again["status"] == "succeeded", again
    assert again["tx_hash"] == state["tx_hash"]


def test_forwarded_pay_taking_the_sequence_is_not_read_as_the_signed_payment(
    pair_gateway: GatewayProcess, people: People
) -> None:
    """Two purchases of the same price at the same shop, both plain QR (paymentId 0): a
    forwarded pay, then a signed payment carrying the nonce GET /v1/nonces?token= gave while
    the forwarded pay was in flight. The forwarded pay takes the payment sequence; the signed
    payment is skipped (nonce) and must not be read as paid by the forwarded pay's Paid log."""
    client = httpx.Client(base_url=pair_gateway.url)
    citizen = people.citizens[0]
    forwarded = client.post(
        "/v1/requests", json=people.sign(citizen, encode_pay(people.merchant, 4_000, bytes(32)), 0)
    )
    assert forwarded.status_code == 202, forwarded.text
    ask = client.get(f"/v1/nonces/{citizen.address}", params={"token": people.token})
    nonce = int(ask.json()["nonce"])  # 0: the forwarded pay in flight is not counted
    body = signed(people, citizen, 4_000, nonce, payment_id=bytes(32))
    answer = client.post("/v1/payments", json=body)
    assert answer.status_code == 202, answer.text
    states = [wait_final(client, forwarded.json()["id"]), wait_final(client, answer.json()["id"])]
    succeeded = sum(s["status"] == "succeeded" for s in states)
    # Every request read as succeeded moved money once: as many Paid logs as successes.
    assert succeeded == paid_count(people, citizen.address), states
    if states[1]["status"] == "failed":  # the race: typed, the wallet signs again
        error = cast(dict[str, object], states[1]["error"])
        assert error["code"] == "VoucherInvalidPaymentNonce", states


def test_payment_behind_a_skipped_one_ends_nonce_gap(
    network: LocalNetwork, database_url: str, people: People, tmp_path: Path
) -> None:
    """A payer's payment 0 is skipped in its batch (frozen after acceptance); its payment 1,
    accepted behind it, ends NonceGap at once (as the simulation path ends it), not parked
    behind the gap until its deadline."""
    env = batching_env(network, database_url, 3)
    with GatewayProcess(env, log_path=tmp_path / "gateway.log") as gw:
        client = httpx.Client(base_url=gw.url)
        a, b = people.citizens[0], people.citizens[1]
        first = client.post("/v1/payments", json=signed(people, a, 1_000, 0))
        second = client.post("/v1/payments", json=signed(people, a, 1_000, 1))
        assert first.status_code == 202, first.text
        assert second.status_code == 202, second.text
        registry = people.network.manifest.registry
        people.network.operator.set_frozen(registry, a.address, True)
        other = client.post("/v1/payments", json=signed(people, b, 1_000, 0))
        assert other.status_code == 202, other.text  # the batch leaves: a's 0 and b's 0
        state = wait_final(client, first.json()["id"])
        assert cast(dict[str, object], state["error"])["code"] == "VoucherFrozen"
        people.network.operator.set_frozen(registry, a.address, False)
        # Well before batch_interval_ms (30 s) brings another round.
        state = wait_final(client, second.json()["id"], timeout=10)
        assert state["status"] == "failed", state
        error = cast(dict[str, object], state["error"])
        assert error["code"] == "NonceGap", state
        assert error["args"] == {"nonce": 1, "failed_nonce": 0}, state


def test_a_payer_cannot_queue_payments_without_bound(
    network: LocalNetwork, database_url: str, people: People, tmp_path: Path
) -> None:
    """Forwarder requests stop MAX_PIPELINE (16) past the signer's next nonce (NonceTooHigh);
    signed payments too: max_held_requests and NonceBook._recount assume the bound."""
    env = batching_env(network, database_url, 1000)  # no batch leaves during the test
    with GatewayProcess(env, log_path=tmp_path / "gateway.log") as gw:
        client = httpx.Client(base_url=gw.url)
        citizen = people.citizens[0]
        answers = [
            client.post("/v1/payments", json=signed(people, citizen, 1, n)) for n in range(18)
        ]
    assert [a.status_code for a in answers[:17]] == [202] * 17
    assert answers[17].status_code == 409, answers[17].text
    assert answers[17].json()["code"] == "NonceTooHigh", answers[17].text


def test_payment_naming_many_pockets_gets_the_gas_they_cost(
    gateway: GatewayProcess, people: People
) -> None:
    """Ten pockets, each taken from: about 320k of work (PER_POCKET_GAS's measurement), more
    than the flat 150k a payment once granted. Simulation passes (it has all the gas); the
    batch must not run it out of gas inside its try/catch (an empty-reason skip)."""
    now = int(time.time())
    programs = create_programs(people, [(now - 60, now + 86_400, ())] * 10)
    citizen = people.citizens[0]
    with client_for(gateway, citizen) as sdk:
        claims = [sdk.claim(people.token, pid, 0, 10_000, []) for pid in programs]
        assert [sdk.wait(c, timeout=30).status for c in claims] == ["succeeded"] * 10
    client = httpx.Client(base_url=gateway.url)
    amount = 10_000 * 9 + 1_000  # every pocket pays its part
    body = signed(people, citizen, amount, 0, program_ids=tuple(programs))
    answer = client.post("/v1/payments", json=body)
    assert answer.status_code == 202, answer.text
    state = wait_final(client, answer.json()["id"])
    assert state["status"] == "succeeded", state
    assert [pocket_of(people, pid, citizen.address) for pid in programs] == [0] * 9 + [9_000]


def test_payment_requeued_too_often_is_looked_for_before_it_ends(
    network: LocalNetwork, people: People
) -> None:
    """A signed payment requeued MAX_ATTEMPTS times ends with a payment's code, not the
    forwarder's ForwarderSkipped; and not failed at all when a transaction carrying its
    signature paid it meanwhile (someone submitted the signature directly)."""
    import asyncio

    from eth_account import Account

    from chain.protocol.signed_payments import payment_from_json
    from chain.rpc_async import AsyncRpc
    from gateway.relayer.batcher import MAX_ATTEMPTS, Batcher, RelayerKey
    from gateway.relayer.intake import NonceBook
    from gateway.relayer.payment_batches import PendingPayment
    from gateway.settings import Settings

    token, payment, signature = payment_from_json(signed(people, people.citizens[2], 1_000, 0))
    p = PendingPayment("p", token, payment, signature, attempts=MAX_ATTEMPTS - 1)

    async def exhausted() -> tuple[str, str | None]:
        rpc = AsyncRpc(network.rpc_url)
        try:
            batcher = Batcher(
                Settings(), None, rpc, None, NonceBook(), None,  # type: ignore[arg-type]
                RelayerKey(Account.create()),
            )  # fmt: skip
            outcome = await batcher._exhausted(p)
            return outcome.status, outcome.error_code
        finally:
            await rpc.close()

    assert asyncio.run(exhausted()) == ("failed", "PaymentSkipped")
    network.operator.send_calls([(token, p.calldata)], "payBySig")
    assert asyncio.run(exhausted()) == ("succeeded", None)
