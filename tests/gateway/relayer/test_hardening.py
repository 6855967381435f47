"""Issue 12 (relayer): each attack replayed against a real gateway on anvil, and the harm absent.

Item 1 (pipelined requests sent unsimulated) is replayed in test_sdk_e2e.py
(``test_a_pipelined_request_that_must_revert_is_never_sent``).
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from chain.protocol.calls import encode_issue, encode_pay
from chain.protocol.contracts import encode_function
from chain.rpc_async import AsyncRpc
from gateway.devnet.localnet import LocalNetwork
from gateway.devnet.process import GatewayProcess
from gateway.errors import GatewayError
from gateway.relayer.batcher import Pending
from gateway.relayer.chainview import ChainView
from gateway.relayer.intake import RateLimiter
from gateway.settings import Settings
from tests.fixtures.wallets import new_wallet

from .conftest import People, wait_final
from .test_relay import executions, problem


def test_a_request_signed_with_too_little_gas_is_refused_at_intake(
    gateway: GatewayProcess, people: People
) -> None:
    """Item 7: gas=21000 used to be accepted and run out of gas on chain, burning the nonce."""
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[0]
    for gas in (21_000, 60_000):  # the node says "out of gas"; an inner call runs dry
        starved = people.pay(citizen, 1_000, 0, gas=gas)
        assert problem(client.post("/v1/requests", json=starved)) == (400, "GasTooLow")
    fed = client.post("/v1/requests", json=people.pay(citizen, 1_000, 0)).json()
    assert wait_final(client, fed["id"])["status"] == "succeeded"  # the nonce was not burnt


def test_strangers_get_no_staff_function_relayed(gateway: GatewayProcess, people: People) -> None:
    """Item 2: issue/setPaused from a key holding no role used to be relayed (and revert on
    chain at the relayer's expense); now they are refused at intake with the contract's error."""
    client = httpx.Client(base_url=gateway.url)
    stranger, citizen = new_wallet(), people.citizens[1]
    mint = encode_issue(stranger.address, 1_000_000, 0)
    for who, data in ((stranger, mint), (citizen, encode_function("setPaused", [True]))):
        status, code = problem(client.post("/v1/requests", json=people.sign(who, data, 0)))
        assert (status, code) == (422, "AccessControlUnauthorizedAccount")


def test_gas_and_calldata_are_capped_per_function(gateway: GatewayProcess, people: People) -> None:
    """Item 3: one key sent requests of 1M gas and 32 KB each; a payment may now ask for at
    most 400k gas and 4 KiB of calldata."""
    client = httpx.Client(base_url=gateway.url)
    citizen = people.citizens[2]
    greedy = people.pay(citizen, 1_000, 0, gas=1_000_000)
    assert problem(client.post("/v1/requests", json=greedy)) == (400, "InvalidRequest")
    bloated = encode_pay(people.merchant, 1_000, secrets.token_bytes(32)) + bytes(32_000)
    assert problem(client.post("/v1/requests", json=people.sign(citizen, bloated, 0))) == (
        413,
        "PayloadTooLarge",
    )


def test_bloated_requests_never_make_a_whole_batch_revert(
    gateway: GatewayProcess, people: People
) -> None:
    """Item 5 replayed: requests with the most calldata a payment may carry used to make the
    whole batch run out of gas (the estimate ignored the calldata's memory), and the batch was
    requeued again and again - 72 reverted transactions from one fresh key in 90 s. Now every
    request is simulated with its own gas before it is batched and the batch's gas counts its
    calldata: every request runs once, and no relayer transaction reverts."""
    client = httpx.Client(base_url=gateway.url, timeout=30)
    wallets = people.citizens
    accepted = []
    for n in range(3):
        for w in wallets:
            data = encode_pay(people.merchant, 100, secrets.token_bytes(32)) + bytes(3_800)
            answer = client.post("/v1/requests", json=people.sign(w, data, n))
            assert answer.status_code == 202, answer.text
            accepted.append(answer.json()["id"])
    states = [wait_final(client, rid) for rid in accepted]
    assert {s["status"] for s in states} == {"succeeded"}
    rpc = people.network.operator.rpc
    transactions = {str(s["tx_hash"]) for s in states}
    receipts = [rpc.get_receipt(tx) for tx in transactions]
    assert all(r is not None and r["status"] == "0x1" for r in receipts)  # none reverted
    assert len(transactions) <= len(accepted)
    for w in wallets:
        assert executions(people, w.address) == [(0, True), (1, True), (2, True)]


def test_deadlines_far_ahead_are_refused(gateway: GatewayProcess, people: People) -> None:
    """Item 6: requests parked with deadlines of 2**48-1 were held for good."""
    client = httpx.Client(base_url=gateway.url)
    forever = people.pay(people.citizens[3], 1_000, 5, deadline=2**48 - 1)
    assert problem(client.post("/v1/requests", json=forever)) == (400, "DeadlineTooFar")


def test_gas_budget_and_held_requests_are_bounded(
    network: LocalNetwork, database_url: str, people: People, tmp_path: Path
) -> None:
    """Items 3 and 6: a signer's gas per window, and requests held in total, are capped."""
    env = network.gateway_env(
        database_url, signer_gas_budget="700000", max_held_requests="3",
        batch_interval_ms="100000",  # nothing leaves the queue during the test
    )  # fmt: skip
    with GatewayProcess(env, log_path=tmp_path / "gw.log") as gateway:
        client = httpx.Client(base_url=gateway.url)
        citizen, other = people.citizens[0], people.citizens[1]
        base = int(client.get(f"/v1/nonces/{citizen.address}").json()["nonce"])
        for i in range(2):  # 2 x 300k within 700k
            made = client.post(
                "/v1/requests", json=people.pay(citizen, 1_000, base + i, gas=300_000)
            )
            assert made.status_code == 202, made.text
        over = people.pay(citizen, 1_000, base + 2, gas=300_000)
        assert problem(client.post("/v1/requests", json=over)) == (429, "SignerThrottled")
        other_base = int(client.get(f"/v1/nonces/{other.address}").json()["nonce"])
        held = client.post("/v1/requests", json=people.pay(other, 1_000, other_base, gas=300_000))
        assert held.status_code == 202, held.text
        full = people.pay(other, 1_000, other_base + 1, gas=300_000)
        assert problem(client.post("/v1/requests", json=full)) == (503, "RelayerBusy")


def test_node_down_during_simulation_is_503_node_unavailable(network: LocalNetwork) -> None:
    """Item 12: a dead node during simulation answered a plain-text 500 (which the SDK took
    as permanent); it is the retryable NodeUnavailable."""
    from gateway.relayer.intake import Intake, LoneRouter, NonceBook

    async def scenario() -> GatewayError:
        dead = AsyncRpc("http://127.0.0.1:9")  # nothing listens on the discard port
        view = ChainView(dead, network.manifest)
        intake = Intake(Settings(), view, None, NonceBook(), LoneRouter())  # type: ignore[arg-type]
        people_signed = new_wallet()
        from chain.protocol.forwarder import ForwardRequest, SignedRequest

        request = ForwardRequest(people_signed.address, network.manifest.token(41390), 0,
                                 100_000, 0, int(time.time()) + 60, b"\x00" * 4)  # fmt: skip
        try:
            await intake._simulate(SignedRequest(request, b"\x00" * 65))
        except GatewayError as exc:
            return exc
        finally:
            await dead.close()
        raise AssertionError("no error")

    error = asyncio.run(scenario())
    assert (error.code, error.status, error.retryable) == ("NodeUnavailable", 503, True)


def test_per_address_state_is_bounded() -> None:
    """Item 8: the rate limiter forgot nobody; idle signers are now pruned."""
    limiter = RateLimiter(limit=10, window_s=1.0)
    for i in range(5_000):
        assert limiter.allow(f"0x{i:040x}", now=0.0)
    assert len(limiter) == 5_000
    assert limiter.allow("0x" + "ff" * 20, now=5.0)  # a window later: the idle ones go
    assert len(limiter) == 1
    budget = RateLimiter(limit=1_000, window_s=60.0)
    assert budget.allow("a", 0.0, 600)
    assert not budget.allow("a", 1.0, 600)
    assert budget.allow("a", 61.0, 600)


@pytest.mark.parametrize("data_bytes", [100, 4_096])
def test_batches_stay_under_the_byte_cap(data_bytes: int) -> None:
    """Item 4: a 1.1 MB batch was refused by the node after its key nonce was taken. The
    batcher sizes each request's share of executeBatch and stops below batch_max_bytes."""
    from chain.protocol.forwarder import ForwardRequest, SignedRequest, encode_execute_batch

    wallet = new_wallet()
    items = [
        Pending(str(i), SignedRequest(ForwardRequest(wallet.address, wallet.address, 0, 1, i,
                                                     1, bytes(data_bytes)), bytes(65)))
        for i in range(40)
    ]  # fmt: skip
    estimate = 4 + 64 + 32 + sum(p.encoded_size for p in items)
    actual = len(encode_execute_batch([p.signed for p in items], wallet.address))
    assert actual <= estimate < actual + 64  # the estimate never undercounts


def test_unfunded_relayer_keys_fail_readiness_and_refuse_requests(
    network: LocalNetwork, database_url: str, people: People, tmp_path: Path
) -> None:
    """Item 13: keys out of funds used to leave the gateway answering 202 and /healthz ok."""
    env = network.gateway_env(database_url, relayer_min_balance_wei=str(10**30))
    with GatewayProcess(env, log_path=tmp_path / "gw.log") as gateway:
        client = httpx.Client(base_url=gateway.url)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["ready"] is False
        assert len(body["unfunded"]) == len(body["key_balances"]) > 0
        assert client.get("/healthz").status_code == 200  # alive, not ready
        refused = client.post("/v1/requests", json=people.pay(people.citizens[0], 1_000, 0))
        assert problem(refused) == (503, "NotReady")
        assert "dongne_relayer_key_balance_wei" in client.get("/metrics").text
    with GatewayProcess(network.gateway_env(database_url), log_path=tmp_path / "ok.log") as ok:
        assert httpx.get(f"{ok.url}/readyz").json()["ready"] is True


def test_a_success_never_turns_into_anything_else(db_engine: Engine) -> None:
    """Item 10: with two replicas, a payment that succeeded on chain was later written
    `failed RequestExpired` by the other replica. Final writes are now guarded: a success is
    never overwritten, and off-chain failures only land on unfinished requests."""
    from gateway.relayer.store import Outcome, RequestStore, StoredBatch

    store = RequestStore(db_engine, 31337)
    wallet = new_wallet()
    row = {"id": "0x" + "11" * 32, "chain_id": 31337, "signer": wallet.address,
           "target": wallet.address, "selector": "0x12345678", "nonce": 0, "deadline": 2**40,
           "gas": 100_000, "data": b"\x12\x34\x56\x78", "signature": bytes(65),
           "status": "queued", "tx_hash": None, "block_number": None, "error_code": None,
           "error_args": None, "created_at": 1.0, "updated_at": 1.0}  # fmt: skip
    store.insert_requests([row])
    rid, tx = str(row["id"]), "0x" + "22" * 32
    store.record_batch(StoredBatch(tx, wallet.address, 0, b"raw", [rid], 1.0))
    store.finish_batch(tx, status="mined", block_number=5, gas_used=1, outcomes=[
        Outcome.succeeded(rid, tx, 5)])  # fmt: skip
    store.fail_requests([Outcome.failed(rid, "RequestExpired", {"deadline": 1})])
    late = Outcome.failed(rid, "ForwardedCallFailed", tx_hash=tx, block=6)
    store.finish_batch(tx, status="mined", block_number=6, gas_used=1, outcomes=[late],
                       requeued=[rid])  # fmt: skip
    stored = store.get(rid)
    assert stored is not None
    assert (stored.status, stored.block_number, stored.error_code) == ("succeeded", 5, None)


def test_a_locked_database_loses_no_accepted_request(
    network: LocalNetwork, people: People, tmp_path: Path
) -> None:
    """Item 9 replayed: the gateway's database is locked for longer than its writers wait (a
    large upload did it). Accepted requests used to be dropped from memory before their new
    state was written, stuck `queued` and wedging their signer until a restart. Now nothing
    accepted is lost, a submission during the lock is a retryable 503 (not a silent accept),
    and every signer carries on without a restart."""
    db = tmp_path / "gateway.db"
    env = network.gateway_env(f"sqlite:///{db}", batch_interval_ms="100", poll_interval_s="0.1")
    with GatewayProcess(env, log_path=tmp_path / "gateway.log") as gateway:
        client = httpx.Client(base_url=gateway.url, timeout=60)
        accepted = []
        for citizen in people.citizens:
            answer = client.post("/v1/requests", json=people.pay(citizen, 1_000, 0))
            assert answer.status_code == 202, answer.text
            accepted.append(answer.json()["id"])
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # every write of the gateway waits, then fails
        try:
            during = client.post("/v1/requests", json=people.pay(people.citizens[0], 1_000, 1))
            assert problem(during) == (503, "DatabaseUnavailable")
            assert during.json()["retryable"] is True
            time.sleep(3)  # the batcher's writes are failing meanwhile
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        for request_id in accepted:
            assert wait_final(client, request_id, timeout=60)["status"] == "succeeded"
        for citizen in people.citizens:  # no signer is wedged: its next nonce goes through
            again = client.post("/v1/requests", json=people.pay(citizen, 1_000, 1))
            assert again.status_code == 202, again.text
            assert wait_final(client, again.json()["id"])["status"] == "succeeded"


def test_replicas_share_the_shards_and_a_killed_ones_are_taken_over(
    network: LocalNetwork, database_url: str, people: People, tmp_path: Path
) -> None:
    """Item 10 replayed, then issue 17: two replicas on one database once both took up every
    unfinished request and overwrote each other's outcomes; then one relayed and the other
    stood by. Now both accept, each batches the shards it holds, the same request sent to both
    is stored and run once, and a killed replica's shards are taken over from the database:
    nothing accepted is lost and nothing runs twice."""
    env = network.gateway_env(database_url, batch_interval_ms="100", poll_interval_s="0.1",
                              relayer_lease_ttl_s="2")  # fmt: skip
    wallets = people.citizens
    with (
        GatewayProcess({**env, "DONGNE_REPLICA_ID": "replica-a"}, log_path=tmp_path / "a.log") as a,
        GatewayProcess({**env, "DONGNE_REPLICA_ID": "replica-b"}, log_path=tmp_path / "b.log") as b,
    ):
        first, second = httpx.Client(base_url=a.url), httpx.Client(base_url=b.url)
        everything = list(range(len(network.relayer_keys)))
        deadline = time.monotonic() + 15
        while True:  # both relay, and the shards are all held (a handover takes a turn)
            held = [first.get("/readyz").json()["shards"], second.get("/readyz").json()["shards"]]
            if all(held) and sorted(held[0] + held[1]) == everything:
                break
            assert time.monotonic() < deadline, f"the replicas never shared the shards: {held}"
            time.sleep(0.2)
        accepted = []
        for i, w in enumerate(wallets):
            signed = people.pay(w, 500, 0)
            answers = [client.post("/v1/requests", json=signed) for client in (first, second)]
            assert [r.status_code for r in answers] == [202, 202], [r.text for r in answers]
            assert answers[0].json()["id"] == answers[1].json()["id"]  # one request, stored once
            accepted.append(answers[i % 2].json()["id"])
        a.kill()  # mid-work: some of these may still be queued or in flight
        deadline = time.monotonic() + 20
        while len(second.get("/readyz").json()["shards"]) < len(network.relayer_keys):
            assert time.monotonic() < deadline, "replica b never took the shards over"
            time.sleep(0.2)
        for w in wallets:
            answer = second.post("/v1/requests", json=people.pay(w, 500, 1))
            assert answer.status_code == 202, answer.text
            accepted.append(answer.json()["id"])
        states = [wait_final(second, rid, timeout=60) for rid in accepted]
    assert [s["status"] for s in states] == ["succeeded"] * len(accepted)
    for w in wallets:
        assert executions(people, w.address) == [(0, True), (1, True)]


def test_a_deposed_lease_holder_writes_nothing(db_engine: Engine) -> None:
    """The fencing token: once another replica has taken the expired lease, the old holder's
    next write is refused inside its own transaction and nothing of it lands."""
    from gateway.relayer.lease import Lease, LeaseLostError
    from gateway.relayer.store import RequestStore, StoredBatch

    old = Lease(db_engine, "replica-a", ttl_s=5, name="shard:0")
    new = Lease(db_engine, "replica-b", ttl_s=5, name="shard:0")
    assert old.acquire(now=1_000.0)
    assert not new.acquire(now=1_001.0)  # held and fresh
    assert old.acquire(now=1_003.0)  # renewed
    assert new.acquire(now=1_009.0)  # expired: taken, with the next epoch
    assert (old.epoch, new.epoch) == (1, 2)
    store = RequestStore(db_engine, 31337)
    store.fence = old.check
    batch = StoredBatch("0x" + "ab" * 32, "0x" + "11" * 20, 0, b"raw", [], 1_009.0)
    with pytest.raises(LeaseLostError):
        store.record_batch(batch)
    assert not old.held
    assert store.pending_batches() == []
    store.fence = new.check
    store.record_batch(batch)
    assert [b.tx_hash for b in store.pending_batches()] == [batch.tx_hash]


def test_batch_room_goes_round_robin_between_signers() -> None:
    """Issue 17, fairness: the batcher takes one request per signer and batch, and a signer
    served goes to the back of the line; signers that always have more queued used to keep
    the front of every batch while the ones behind them waited."""
    from eth_account import Account

    from chain.protocol.forwarder import ForwardRequest, SignedRequest
    from gateway.relayer.batcher import Batcher, RelayerKey
    from gateway.relayer.intake import NonceBook

    settings = Settings(simulate=False, batch_max_requests=2)
    nonces = NonceBook()
    batcher = Batcher(settings, None, None, None, nonces, None, RelayerKey(Account.create()))  # type: ignore[arg-type]
    signers = [new_wallet().address for _ in range(3)]
    for signer in signers:
        nonces.chain_next[signer] = 0
        for n in range(5):
            request = ForwardRequest(signer, signer, 0, 50_000, n, 2**40, b"\x00" * 4)
            batcher._enqueue(Pending(f"{signer}-{n}", SignedRequest(request, bytes(65))))

    async def two_batches() -> list[list[str]]:
        batches = []
        for _ in range(2):
            taken = await batcher._take(batcher.keys[0], settings.batch_max_requests)
            for p in taken:  # mined: the signer's next nonce is due
                nonces.chain_next[p.signer] = p.nonce + 1
            batches.append([p.signer for p in taken])
        return batches

    first, second = asyncio.run(two_batches())
    assert first == signers[:2]
    assert second == [signers[2], signers[0]]
