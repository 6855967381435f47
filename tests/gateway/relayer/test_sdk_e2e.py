"""The wallet SDK over real HTTP against a gateway process and anvil (interval mining).

The first test runs on both databases through the shared ``gateway`` fixture; the others
share one SQLite gateway for this module: they exercise the SDK, not the relayer's storage,
and a gateway process takes seconds to start.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from chain.operator import PROGRAM_CREATED
from chain.protocol.calls import (
    PAID_EVENTS,
    PaymentRecord,
    ProgramParams,
    encode_create_program,
    encode_pay,
)
from chain.protocol.calls import paid_record as chain_paid_record
from chain.protocol.contracts import event_topic
from chain.protocol.merkle import Leaf, MerkleTree
from chain.rpc import RpcClient
from gateway.devnet.localnet import SIHEUNG, LocalNetwork
from gateway.devnet.process import GatewayProcess
from tests.fixtures.wallets import Wallet, new_wallet
from wallet_sdk import exceptions as x
from wallet_sdk.client import AsyncDongneClient, DongneClient, RequestState
from wallet_sdk.exceptions.base import InvoiceExpiredError
from wallet_sdk.keys import LocalKey
from wallet_sdk.qr import PaymentRequest

from .conftest import RESTAURANT, People

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sdk_gateway(
    network: LocalNetwork, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("sdk-gateway")
    env = network.gateway_env(
        f"sqlite:///{workdir / 'gateway.db'}", batch_interval_ms="100", poll_interval_s="0.1"
    )
    with GatewayProcess(env, log_path=workdir / "gateway.log") as process:
        yield process


def client_for(gateway: GatewayProcess, wallet: Wallet | LocalKey) -> DongneClient:
    key = wallet if isinstance(wallet, LocalKey) else LocalKey(wallet.key)
    return DongneClient(gateway.url, key, poll_interval_s=0.1)


def view(people: People, signature: str, types: list[str], args: list[object]) -> int:
    data = keccak(text=signature)[:4] + abi_encode(types, args)
    raw = people.network.operator.rpc.eth_call({"to": people.token, "data": "0x" + data.hex()})
    (value,) = abi_decode(["uint256"], raw)
    return int(value)


def balance_of(people: People, holder: str) -> int:
    return view(people, "balanceOf(address)", ["address"], [holder])


def pocket_of(people: People, program_id: int, holder: str) -> int:
    return view(people, "pocketOf(uint256,address)", ["uint256", "address"], [program_id, holder])


def new_merchant(people: People) -> Wallet:
    """A merchant of Siheung whose key the test holds (the fixture keeps only addresses)."""
    merchant = new_wallet()
    op = people.network.operator
    op.register(people.network.manifest.registry, [merchant.address], "merchant")
    op.register_merchant(people.token, merchant.address, SIHEUNG.region, RESTAURANT, 0, False)
    return merchant


def paid_record(people: People, state: RequestState, payer: str) -> PaymentRecord:
    """The PaymentRecord of the payment made by ``state``'s transaction, from its Paid log."""
    assert state.block_number is not None
    with RpcClient(people.network.rpc_url) as rpc:
        logs = rpc.get_logs(
            {
                "address": people.token,
                "fromBlock": hex(state.block_number),
                "toBlock": hex(state.block_number),
                "topics": [
                    [event_topic(name) for name in PAID_EVENTS],
                    "0x" + "00" * 12 + payer[2:].lower(),
                ],
            }
        )
    (log,) = [entry for entry in logs if entry["transactionHash"] == state.tx_hash]
    topics = log["topics"]
    assert isinstance(topics, list)
    record = chain_paid_record([str(t) for t in topics], bytes.fromhex(str(log["data"])[2:]))
    assert record is not None
    return replace(record, payer=payer)


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Polls ``check()`` (the indexer follows the chain a little behind) until it is true."""
    give_up = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < give_up, "condition not met in time"
        time.sleep(0.2)


# ------------------------------------------------------------------------------ paying


def test_citizen_pays_merchant_sync_and_async(gateway: GatewayProcess, people: People) -> None:
    first, second = people.citizens[:2]
    with client_for(gateway, first) as client:
        assert client.network().chain_id == people.network.manifest.chain_id
        payment = client.pay(people.token, people.merchant, 30_000)
        assert payment.status == "queued"
        state = client.wait(payment, timeout=30)
        assert state.status == "succeeded"
        assert state.tx_hash is not None
        assert state.block_number is not None

    async def pay_async() -> RequestState:
        async with AsyncDongneClient(
            gateway.url, LocalKey(second.key), poll_interval_s=0.1
        ) as client:
            payment = await client.pay(people.token, people.merchant, 20_000)
            return await client.wait(payment.id, timeout=30)

    assert asyncio.run(pay_async()).status == "succeeded"
    assert balance_of(people, people.merchant) == 50_000
    # 100,000 - payment + 10% cashback (tier-0 merchant)
    assert balance_of(people, first.address) == 73_000
    assert balance_of(people, second.address) == 82_000


def test_pay_by_scanning_a_dynamic_invoice(
    sdk_gateway: GatewayProcess, people: People, tmp_path: Path
) -> None:
    chain_id = people.network.manifest.chain_id
    invoice = PaymentRequest(
        token=people.token,
        chain_id=chain_id,
        merchant=people.merchant,
        amount=12_000,
        invoice_id=secrets.token_bytes(32),
        expiry=int(time.time()) + 120,
        label="동네 식당",
    )
    shown = tmp_path / "invoice.png"
    invoice.render_png(shown)
    assert shown.read_bytes().startswith(PNG_SIGNATURE)
    # The wallet's scanner reads the URI the code carries.
    scanned = PaymentRequest.parse(invoice.to_uri())
    assert scanned == invoice
    rescanned = tmp_path / "scanned.png"
    scanned.render_png(rescanned)
    assert rescanned.read_bytes() == shown.read_bytes()

    citizen = people.citizens[0]
    with client_for(sdk_gateway, citizen) as client:
        payment = client.pay_invoice(scanned)
        assert payment.payment_id == invoice.invoice_id
        state = client.wait(payment, timeout=30)
        assert paid_record(people, state, citizen.address).payment_id == invoice.invoice_id
        assert balance_of(people, people.merchant) == 12_000
        # An invoice is paid once (issue 13: the same code paid twice used to pay twice).
        with pytest.raises(x.VoucherInvoiceAlreadyPaid) as twice:
            client.pay_invoice(scanned)
        assert twice.value.invoice_id == invoice.invoice_id

        late = PaymentRequest(
            people.token, chain_id, people.merchant, 5_000, secrets.token_bytes(32), 1_000, None
        )
        with pytest.raises(InvoiceExpiredError):
            PaymentRequest.parse(late.to_uri())
        with pytest.raises(InvoiceExpiredError) as info:
            client.pay_invoice(late)
        assert info.value.expiry == 1_000
    assert balance_of(people, people.merchant) == 12_000


def test_rejections_raise_their_typed_exceptions(
    sdk_gateway: GatewayProcess, people: People
) -> None:
    citizen = people.citizens[1]
    with client_for(sdk_gateway, citizen) as client:
        # Wrong region: a Seongnam merchant is not a merchant of Siheung's token.
        with pytest.raises(x.VoucherNotMerchant) as wrong_region:
            client.pay(people.token, people.other_merchant, 1_000)
        assert wrong_region.value.account == people.other_merchant
        assert (wrong_region.value.status, wrong_region.value.code) == (422, "VoucherNotMerchant")
        assert isinstance(wrong_region.value, PermissionError)

        # Replayed: the same signed request is the same request (run once); a new request
        # with a used nonce is refused.
        signed = client.prepare(people.token, encode_pay(people.merchant, 1_000, b"\x01" * 32))
        done = client.submit_signed(signed)
        assert client.wait(done, timeout=30).status == "succeeded"
        again = client.submit_signed(signed)
        assert (again.id, again.status) == (done.id, "succeeded")
        replay = client.prepare(
            people.token,
            encode_pay(people.merchant, 2_000, b"\x02" * 32),
            nonce=signed.request.nonce,
        )
        with pytest.raises(x.NonceTooLow) as replayed:
            client.submit_signed(replay)
        assert replayed.value.nonce == signed.request.nonce
        assert replayed.value.next_nonce == signed.request.nonce + 1
        assert replayed.value.status == 409

        # Expired before it was sent.
        with pytest.raises(x.RequestExpired):
            client.submit_signed(
                client.prepare(
                    people.token,
                    encode_pay(people.merchant, 1_000, b"\x03" * 32),
                    deadline=int(time.time()) - 1,
                )
            )
        # The local nonce counter survived the refusals: the next payment goes through.
        assert client.wait(client.pay(people.token, people.merchant, 500), 30).status == (
            "succeeded"
        )

    stranger = LocalKey.create()
    with (
        client_for(sdk_gateway, stranger) as client,
        pytest.raises(x.SignerUnregistered) as unregistered,
    ):
        client.pay(people.token, people.merchant, 1_000)
    assert unregistered.value.signer == stranger.address
    assert unregistered.value.status == 403


def test_a_pipelined_request_that_must_revert_is_never_sent(
    sdk_gateway: GatewayProcess, people: People
) -> None:
    """Issue 12, item 1: nonce n+1 accepted while n is in flight used to be sent unsimulated
    and fail on chain at the relayer's expense. It is simulated once n has run, and ends
    failed with its custom error without a transaction; the wallet's next request works."""
    citizen = people.citizens[2]
    with client_for(sdk_gateway, citizen) as client:
        first = client.pay(people.token, people.merchant, 95_000, pockets=[])
        second = client.pay(people.token, people.merchant, 50_000, pockets=[])
        assert second.nonce == first.nonce + 1
        assert client.wait(first, timeout=30).status == "succeeded"
        with pytest.raises(x.VoucherInsufficientBalance) as info:
            client.wait(second, timeout=30)
        error = info.value
        assert (error.holder, error.needed) == (citizen.address, 50_000)
        assert error.request_id == second.id
        assert error.tx_hash is None  # never sent: the relayer paid nothing for it
        assert isinstance(error, ValueError)
        # Its nonce was not used: the SDK signs the next request with it, and it runs.
        third = client.pay(people.token, people.merchant, 1_000, pockets=[])
        assert third.nonce == second.nonce
        assert client.wait(third, timeout=30).status == "succeeded"


def test_merchant_cancels_a_payment(sdk_gateway: GatewayProcess, people: People) -> None:
    citizen = people.citizens[3]
    merchant = new_merchant(people)
    with client_for(sdk_gateway, citizen) as client:
        state = client.wait(client.pay(people.token, merchant.address, 10_000), timeout=30)
    assert balance_of(people, citizen.address) == 91_000  # 10% cashback
    record = paid_record(people, state, citizen.address)
    assert (record.amount, record.from_general, record.cashback) == (10_000, 10_000, 1_000)

    with client_for(sdk_gateway, merchant) as shop:
        # The merchant's app can rebuild the same record from its indexed history.
        def indexed() -> bool:
            return any(i.kind == "payment" for i in shop.history(limit=10).items)

        eventually(indexed)
        (entry,) = [i for i in shop.history(limit=10).items if i.kind == "payment"]
        assert entry.payment_record() == record
        cancelled = shop.wait(shop.cancel_payment(people.token, record), timeout=30)
        assert cancelled.status == "succeeded"
        with pytest.raises(x.VoucherPaymentNotFound):
            shop.cancel_payment(people.token, record)  # a record is cancelled once
    # The payer gets back what left the general pocket less the cashback it earned.
    assert balance_of(people, citizen.address) == 100_000
    assert balance_of(people, merchant.address) == 0


def new_citizen(people: People, bought: int) -> Wallet:
    citizen = new_wallet()
    op = people.network.operator
    op.register(people.network.manifest.registry, [citizen.address], "citizen")
    op.issue(people.token, citizen.address, bought, bought * 9 // 10)
    return citizen


def test_a_remote_payment_request_is_paid_once_and_cancelled_in_parts(
    sdk_gateway: GatewayProcess, people: People
) -> None:
    """An academy asks a parent for a month's fee; the parent sees the request in the app and
    pays it once; the academy later refunds part of it, then the rest (issue 13)."""
    parent = new_citizen(people, 100_000)
    academy = new_merchant(people)
    with client_for(sdk_gateway, academy) as shop, client_for(sdk_gateway, parent) as client:
        expiry = int(time.time()) + 3_600
        sent, invoice_id = shop.create_invoice(
            people.token, payer=parent.address, amount=30_000, expiry=expiry
        )
        shop.wait(sent, timeout=30)

        def requested() -> bool:
            return len(client.payment_requests("open")) == 1

        eventually(requested)
        (request,) = client.payment_requests("open")
        assert (request.merchant, request.invoice_id, request.amount) == (
            academy.address,
            invoice_id,
            30_000,
        )
        assert (request.payer, request.expiry) == (parent.address, expiry)
        state = client.wait(client.pay_request(request), timeout=30)
        assert balance_of(people, academy.address) == 30_000
        with pytest.raises(x.VoucherInvoiceAlreadyPaid):
            client.pay_request(request)  # the app's stale copy still says open

        def paid() -> bool:
            return [r.status for r in shop.invoices()] == ["paid"]

        eventually(paid)
        record = paid_record(people, state, parent.address)
        assert record.cashback == 3_000

        def indexed(cancelled: int) -> Callable[[], bool]:
            def check() -> bool:
                items = [i for i in shop.history(limit=10).items if i.kind == "payment"]
                return [i.payment_record().cancelled for i in items] == [cancelled]

            return check

        eventually(indexed(0))
        shop.wait(shop.cancel_payment(people.token, record, 10_000), timeout=30)
        # 10,000 of general money back less its share of the cashback (1,000).
        assert balance_of(people, parent.address) == 100_000 - 30_000 + 3_000 + 9_000
        eventually(indexed(10_000))
        (entry,) = [i for i in shop.history(limit=10).items if i.kind == "payment"]
        rest = entry.payment_record()
        assert (rest.remaining, rest.cancelled) == (20_000, 10_000)
        with pytest.raises(x.VoucherPaymentNotFound):
            shop.cancel_payment(people.token, record)  # the record before the first part
        shop.wait(shop.cancel_payment(people.token, rest), timeout=30)
    assert balance_of(people, parent.address) == 100_000
    assert balance_of(people, academy.address) == 0


# ------------------------------------------------------------------------------ pockets


def create_programs(people: People, specs: list[tuple[int, int, tuple[int, ...]]]) -> list[int]:
    """Programs granting ``people.citizens[0]`` one leaf each: (start, expiry, categories)
    -> program ids, in order."""
    recipient = people.citizens[0].address
    root = MerkleTree([Leaf(0, recipient, 10_000)]).root
    op = people.network.operator
    calls = [
        (
            people.token,
            encode_create_program(ProgramParams(root, 10_000, start, expiry, False, categories)),
        )
        for start, expiry, categories in specs
    ]
    ids = []
    for receipt in op.send_calls(calls, "createProgram"):
        logs = receipt["logs"]
        assert isinstance(logs, list)
        for entry in logs:
            assert isinstance(entry, dict)
            topics = entry["topics"]
            assert isinstance(topics, list)
            if topics[0] == PROGRAM_CREATED:
                ids.append(int(str(topics[1]), 16))
    return ids


def test_auto_pockets_spend_the_soonest_expiring_first(
    sdk_gateway: GatewayProcess, people: People
) -> None:
    now = int(time.time())
    day = 86_400
    later, sooner, not_started, other_category = create_programs(
        people,
        [
            (now - 60, now + 2 * day, ()),
            (now - 60, now + day, ()),
            (now + day, now + 3 * day, ()),
            (now - 60, now + day // 2, (RESTAURANT + 1,)),  # expires first; not for restaurants
        ],
    )
    citizen = people.citizens[0]
    programs = {later, sooner, not_started, other_category}
    with client_for(sdk_gateway, citizen) as client:
        # Each program's list is the one leaf (0, citizen, 10,000): the proof is empty.
        claims = [client.claim(people.token, pid, 0, 10_000, []) for pid in sorted(programs)]
        assert [client.wait(c, timeout=30).status for c in claims] == ["succeeded"] * 4

        def indexed() -> bool:
            pockets = client.balances(people.token).of(people.token).pockets
            return programs <= {p.program_id for p in pockets}

        eventually(indexed)
        pockets = client.balances(people.token).of(people.token).pockets
        mine = [p.program_id for p in pockets if p.program_id in programs]
        assert mine == [other_category, sooner, later, not_started]  # by expiry

        # Auto names other_category first (soonest), the token refuses it for a restaurant,
        # and the SDK pays again without it; not_started is never named.
        payment = client.pay(people.token, people.merchant, 15_000)
        assert payment.program_ids == (sooner, later)
        assert client.wait(payment, timeout=30).status == "succeeded"
    assert pocket_of(people, sooner, citizen.address) == 0
    assert pocket_of(people, later, citizen.address) == 5_000
    assert pocket_of(people, not_started, citizen.address) == 10_000
    assert pocket_of(people, other_category, citizen.address) == 10_000
    assert balance_of(people, people.merchant) == 15_000
    assert balance_of(people, citizen.address) == 100_000  # nothing left the general pocket


def test_signed_payment_sync_and_async_with_typed_refusals(
    sdk_gateway: GatewayProcess, people: People
) -> None:
    """pay_signed: a token-native signed payment (payBySig) beside the forwarder's pay."""
    citizen = people.citizens[2]
    with client_for(sdk_gateway, citizen) as client:
        paid = client.pay_signed(people.token, people.merchant, 4_000)
        assert paid.nonce == 0
        state = client.wait(paid, timeout=30)
        assert state.status == "succeeded"
        assert state.target == people.token
        # The forwarder's pay still works, and uses up the payment sequence too.
        assert client.wait(client.pay(people.token, people.merchant, 1_000), 30).status == (
            "succeeded"
        )
        with pytest.raises(x.VoucherInsufficientBalance) as broke:
            client.pay_signed(people.token, people.merchant, 10_000_000)
        assert broke.value.status == 422
        # Signed by the SDK with the nonce of a payment already made (the client's
        # operations directly: pay_signed always asks the nonce): the token's own code.
        stale_nonce = (people.token, people.merchant, 1_000, 0)
        payment, signature = client._run(
            client._ops.sign_payment(*stale_nonce, payment_id=None, program_ids=(), deadline=None)
        )
        with pytest.raises(x.VoucherInvalidPaymentNonce) as stale:
            client._run(client._ops.submit_payment(people.token, payment, signature))
        assert (stale.value.status, stale.value.expected, stale.value.given) == (409, 2, 0)

    async def pay_async() -> RequestState:
        async with AsyncDongneClient(
            sdk_gateway.url, LocalKey(citizen.key), poll_interval_s=0.1
        ) as client:
            paid = await client.pay_signed(people.token, people.merchant, 500)
            assert paid.nonce == 2
            return await client.wait(paid, timeout=30)

    assert asyncio.run(pay_async()).status == "succeeded"
    assert balance_of(people, people.merchant) == 5_500
