"""chain.protocol.forwarder and chain.protocol.errors against the deployed contracts on a live node.

One network is deployed for the module; tests that change state run inside evm_snapshot /
evm_revert so the scenarios below see the state the fixture built, whatever the test order.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.deploy import LOCAL_RECOVERY_DELAY
from chain.operator import Operator, role_id
from chain.protocol.calls import (
    SIGNATURES,
    FundingShare,
    PaymentRecord,
    ProgramParams,
    Reward,
    RewardParams,
    default_rules,
    encode_activate_funding_plan,
    encode_call,
    encode_cancel_invoice,
    encode_cancel_payment,
    encode_cancel_recovery,
    encode_claim,
    encode_claim_reward,
    encode_create_invoice,
    encode_create_program,
    encode_create_reward_program,
    encode_finalize_recovery,
    encode_gift,
    encode_issue,
    encode_pay,
    encode_pay_as_employee,
    encode_pay_through_platform,
    encode_propose_funding_plan,
    encode_propose_rules,
    encode_recover_wallet,
    encode_refund,
    encode_register_merchant,
    encode_set_employee,
    encode_set_excluded_category,
    encode_set_extra_discount,
    encode_set_institution_limits,
    encode_start_recovery,
    encode_sync_merchant_exclusion,
    funder_id,
)
from chain.protocol.contracts import encode_function, event_topic
from chain.protocol.errors import ERROR_CODES, ContractRevert, decode_rpc_error
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    SignedRequest,
    encode_execute,
    recover_signer,
    sign_request,
)
from chain.protocol.merkle import Leaf, MerkleTree
from chain.protocol.rewards import reward_digest, sign_reward
from chain.protocol.signed_payments import (
    SIGNED_PAYMENT_TYPEHASH,
    SignedPayment,
    encode_pay_by_sig,
    encode_pay_by_sig_batch,
    recover_payer,
    sign_payment,
    token_domain,
)
from chain.rpc import JSONObject, RpcClient, RpcError
from chain.sender import TransactionFailed
from chain.toolchain import ToolchainMissingError, tool_path
from gateway.devnet.localnet import SIHEUNG, LocalNetwork, MunicipalitySpec, start_local_network

ZERO = "0x0000000000000000000000000000000000000000"
DAY = 86_400
RESTAURANT = 56_111
GROCERY = 47_111
BLOCKED = 91_249  # a category the city blocks for institution wallets
SUSPENDED, CANCELLED = 2, 3  # IVoucherTypes.MerchantStatus
CITIZEN, MERCHANT = 1, 2  # IIdentityRegistry.Kind

# A national voucher (region 0) with a small holding cap and gifts off, and a city whose gift
# receive cap is below its send cap: each makes one more rule reachable without time travel.
NATIONAL = MunicipalitySpec(
    0, "Onnuri", "ONN", replace(default_rules(), gift_enabled=False, holding_cap=50_000)
)
BUSAN = MunicipalitySpec(
    26_000, "Dongbaekjeon", "DBJ", replace(default_rules(), gift_receive_cap=10)
)

_RULES_TYPE = SIGNATURES["proposeRules"].removeprefix("proposeRules(").removesuffix(")")
_REQUEST_TYPE = "(address,address,uint256,uint256,uint48,bytes,bytes)"
VERIFY_SELECTOR = keccak(text=f"verify({_REQUEST_TYPE})")[:4]
EXECUTED_TOPIC = "0x" + keccak(text="ExecutedForwardRequest(address,uint256,bool)").hex()
PAID_TOPIC = event_topic("Paid")  # a payment that names no pockets

# Errors no call to the deployed contracts can raise, and why. Everything else in ERROR_CODES
# must have a scenario below.
UNREACHABLE: Mapping[str, str] = {
    "ProgramInsufficientPocket": (
        "declared in IVoucherBase but thrown nowhere: a payment drains each named pocket as far"
        " as it goes and takes the rest from the general pocket"
    ),
    "InvalidAccountNonce": "Nonces._useCheckedNonce; the forwarder only uses unchecked _useNonce",
    "NotInitializing": "onlyInitializing guards internal __*_init calls made only in initialize",
    "InsufficientBalance": (
        "Address.sendValue in executeBatch's refund, always covered by the msg.value it checked"
    ),
    "InvalidShortString": "ShortStrings decoding; EIP712 stores the short name without it",
    "StringTooLong": "ShortStrings.toShortString; EIP712 uses the non-reverting fallback",
}


def sig(signature: str, *args: object) -> bytes:
    """Calldata for ``signature`` (flat types, or tuples via chain.protocol.calls types)."""
    inner = signature[signature.index("(") + 1 : -1]
    types, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            types.append(inner[start:i])
            start = i + 1
    if inner:
        types.append(inner[start:])
    return keccak(text=signature)[:4] + abi_encode(types, list(args))


def word(text: str) -> str:
    """A Solidity bytes32 string literal as decode_revert renders it."""
    return "0x" + text.encode().ljust(32, b"\0").hex()


def new_account() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


@dataclass(frozen=True)
class Call:
    sender: str
    to: str
    data: bytes
    value: int = 0

    def tx(self) -> dict[str, str]:
        tx = {"from": self.sender, "to": self.to, "data": "0x" + self.data.hex()}
        if self.value:
            tx["value"] = hex(self.value)
        return tx


@dataclass(frozen=True)
class Scenario:
    call: Call
    args: Mapping[str, object]
    # State the revert needs that the other scenarios must not see; run in a snapshot.
    prepare: Callable[[World], None] | None = None


@dataclass
class World:
    net: LocalNetwork
    rpc: RpcClient
    op: Operator
    domain: ForwarderDomain
    token: str  # Siheung, default rules
    national: str
    busan: str
    start: int  # block time when the fixture ran
    citizen: LocalAccount  # holds ₩100,000 bought in Siheung; claimed program 1's leaf 0
    other: LocalAccount  # a citizen holding nothing; signs the forwarder scenarios
    institution: str
    institution_key: LocalAccount  # signs the institution's relayed calls (setEmployee)
    merchant: str  # Siheung, grocery, tier 0
    merchant_key: LocalAccount  # signs the merchant's relayed calls (invoices)
    big_merchant: str  # Siheung, tier 3 (over the revenue cap)
    suspended: str
    banned: str
    blocked: str  # Siheung, in a category blocked for institutions
    outsider: str  # a merchant wallet no municipality registered
    stranger: str  # unregistered
    frozen: str
    tree: MerkleTree
    effective_at: int  # of the rules pending in the national token

    @property
    def operator(self) -> str:
        return self.op.address

    def view(self, to: str, data: bytes) -> bytes:
        return self.rpc.eth_call({"to": to, "data": "0x" + data.hex()})

    def request(self, signer: LocalAccount, to: str, data: bytes, **changes: int) -> SignedRequest:
        nonce = int.from_bytes(self.view(self.net.manifest.forwarder, nonces(signer)))
        fields: dict[str, int] = {"value": 0, "gas": 300_000, "deadline": self.start + 30 * DAY}
        fields.update(changes)
        request = ForwardRequest(from_=signer.address, to=to, nonce=nonce, data=data, **fields)
        return sign_request(bytes(signer.key), self.domain, request)


def nonces(account: LocalAccount | str) -> bytes:
    address = account if isinstance(account, str) else account.address
    return sig("nonces(address)", address)


def time_travel(w: World, seconds: int) -> None:
    assert w.net.node is not None
    w.rpc.call("evm_increaseTime", [seconds])
    w.net.node.mine()


def pin_time(w: World, timestamp: int) -> None:
    """Sets the next block's time, so that a deadline the chain derives from it is known."""
    w.rpc.call("evm_setNextBlockTimestamp", [timestamp])


def relay_as(w: World, signer: LocalAccount, data: bytes) -> None:
    """``signer``'s call to the Siheung token, signed in Python and relayed by the operator."""
    w.op.send(w.net.manifest.forwarder, encode_execute(w.request(signer, w.token, data)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    net = start_local_network(tmp_path_factory.mktemp("onchain"), (SIHEUNG, NATIONAL, BUSAN))
    try:
        yield _build_world(net)
    finally:
        net.stop()


def _build_world(net: LocalNetwork) -> World:
    m, op = net.manifest, net.operator
    assert net.node is not None
    citizen: LocalAccount = Account.from_key(net.node.dev_accounts()[5].private_key)
    other = new_account()
    keys = {name: new_account() for name in ("inst", "m", "m3", "ms", "mb", "mc", "mx")}
    people = {name: key.address for name, key in keys.items()}
    stranger, frozen = new_account().address, new_account().address
    token, national = m.token(SIHEUNG.region), m.token(0)
    start = int(str(op.rpc.get_block()["timestamp"]), 16)  # type: ignore[index]

    op.register(m.registry, [citizen.address, other.address, frozen], "citizen")
    op.register(m.registry, [people["inst"]], "institution")
    merchants = [people[k] for k in ("m", "m3", "ms", "mb", "mc", "mx")]
    op.register(m.registry, merchants, "merchant")
    op.set_frozen(m.registry, frozen, True)
    region = SIHEUNG.region
    tree = MerkleTree([Leaf(0, citizen.address, 1_000), Leaf(1, other.address, 2_000)])
    calls = [
        (token, encode_register_merchant(people["m"], region, GROCERY, 0)),
        (token, encode_register_merchant(people["m3"], region, RESTAURANT, 3)),
        (token, encode_register_merchant(people["ms"], region, RESTAURANT, 0)),
        (token, encode_register_merchant(people["mb"], region, RESTAURANT, 0)),
        (token, encode_register_merchant(people["mc"], region, BLOCKED, 0)),
        (token, sig("setMerchantStatus(address,uint8,uint40)", people["ms"], SUSPENDED, 0)),
        (
            token,
            sig(
                "setMerchantStatus(address,uint8,uint40)",
                people["mb"],
                CANCELLED,
                start + 365 * DAY,
            ),
        ),
        (token, sig("setInstitutionCategory(uint24,bool)", BLOCKED, True)),
        (token, encode_issue(citizen.address, 100_000, 90_000)),
        # Program 1: restaurants and groceries, budget below its leaves' total; program 2 starts
        # later.
        (
            token,
            encode_create_program(
                ProgramParams(
                    tree.root, 1_500, 0, start + 30 * DAY, categories=(RESTAURANT, GROCERY)
                )
            ),
        ),
        (
            token,
            encode_create_program(
                ProgramParams(secrets.token_bytes(32), 1_000, start + 10 * DAY, start + 20 * DAY)
            ),
        ),
        (national, encode_propose_rules(default_rules())),
    ]
    receipts = op.send_calls(calls, "world")
    proposed = op.rpc.get_block(int(str(receipts[-1]["blockNumber"]), 16))
    assert proposed is not None
    Operator(op.rpc, citizen, m.chain_id).send(token, encode_claim(1, 0, 1_000, tree.proof(0)))
    return World(
        net=net,
        rpc=op.rpc,
        op=op,
        domain=ForwarderDomain(m.chain_id, m.forwarder),
        token=token,
        national=national,
        busan=m.token(BUSAN.region),
        start=start,
        citizen=citizen,
        other=other,
        institution=people["inst"],
        institution_key=keys["inst"],
        merchant=people["m"],
        merchant_key=keys["m"],
        big_merchant=people["m3"],
        suspended=people["ms"],
        banned=people["mb"],
        blocked=people["mc"],
        outsider=people["mx"],
        stranger=stranger,
        frozen=frozen,
        tree=tree,
        effective_at=int(str(proposed["timestamp"]), 16) + default_rules().change_delay,
    )


@pytest.fixture
def snapshot(world: World) -> Iterator[None]:
    """Undo whatever the test changes."""
    assert world.net.node is not None
    snapshot_id = world.net.node.snapshot()
    yield
    assert world.net.node.revert(snapshot_id)


# ------------------------------------------------------------------------------------------
# (1) The digest: our EIP-712 digest is the forwarder's


def test_eip712_domain_matches_forwarder_domain(world: World) -> None:
    raw = world.view(world.net.manifest.forwarder, keccak(text="eip712Domain()")[:4])
    fields, name, version, chain_id, contract, salt, extensions = abi_decode(
        ["bytes1", "string", "string", "uint256", "address", "bytes32", "uint256[]"], raw
    )
    assert fields == b"\x0f"  # name, version, chainId, verifyingContract; no salt
    assert (salt, list(extensions)) == (bytes(32), [])
    onchain = {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(contract),
    }
    assert onchain == world.domain.as_dict()


def verify_on_chain(world: World, signed: SignedRequest) -> bool:
    data = VERIFY_SELECTOR + encode_execute(signed)[4:]
    (valid,) = abi_decode(["bool"], world.view(world.net.manifest.forwarder, data))
    return bool(valid)


@settings(max_examples=25, deadline=None)
@given(
    key=st.integers(min_value=1, max_value=2**255),
    national=st.booleans(),
    value=st.integers(min_value=0, max_value=2**256 - 1),
    gas=st.integers(min_value=0, max_value=2**256 - 1),
    ttl=st.integers(min_value=3_600, max_value=2**40),
    data=st.binary(max_size=300),
)
def test_forwarder_accepts_exactly_our_digest(
    world: World, key: int, national: bool, value: int, gas: int, ttl: int, data: bytes
) -> None:
    """verify() is true iff the signature recovers `from` over the forwarder's own digest for its
    current nonce: a true answer means the two digests agree, and signing for any other nonce
    (a different digest) must be refused."""
    signer: LocalAccount = Account.from_key(key.to_bytes(32, "big"))
    fields = {"value": value, "gas": gas, "deadline": world.start + ttl}
    signed = world.request(signer, world.national if national else world.token, data, **fields)
    assert verify_on_chain(world, signed)
    stale = replace(signed.request, nonce=signed.request.nonce + 1)
    assert not verify_on_chain(world, sign_request(bytes(signer.key), world.domain, stale))


@settings(max_examples=10, deadline=None)
@given(
    program_id=st.integers(min_value=0, max_value=2**256 - 1),
    attestation=st.binary(min_size=32, max_size=32),
    amount=st.integers(min_value=0, max_value=2**256 - 1),
)
def test_reward_digest_matches_services_module(
    world: World, program_id: int, attestation: bytes, amount: int
) -> None:
    """A REWARDER signs chain.protocol.rewards' digest; the token verifies its own."""
    reward = Reward(attestation, world.other.address, amount)
    data = sig("rewardDigest(uint256,(bytes32,address,uint256))", program_id, reward.as_tuple())
    expected = reward_digest(world.net.manifest.chain_id, world.token, program_id, reward)
    assert world.view(world.token, data) == expected


# ------------------------------------------------------------------------------------------
# (2) A request signed in Python executes on chain


def events(receipt: JSONObject, topic: str) -> list[tuple[list[str], bytes]]:
    """(topics, data) of the receipt's logs whose first topic is ``topic``."""
    found = []
    for log in cast(list[dict[str, object]], receipt["logs"]):
        topics = [str(t) for t in cast(list[object], log["topics"])]
        if topics and topics[0] == topic:
            found.append((topics, bytes.fromhex(str(log["data"])[2:])))
    return found


def topic_of(address: str) -> str:
    return "0x" + bytes(12).hex() + address[2:].lower()


def test_signed_request_executes_through_the_forwarder(world: World, snapshot: None) -> None:
    m = world.net.manifest
    payment_id = secrets.token_bytes(32)
    signed = world.request(
        world.citizen, world.token, encode_pay(world.merchant, 1_000, payment_id)
    )
    relayer: LocalAccount = Account.from_key(world.net.relayer_keys[0])
    receipt = Operator(world.rpc, relayer, m.chain_id).send(m.forwarder, encode_execute(signed))

    [(topics, data)] = events(receipt, EXECUTED_TOPIC)
    assert topics[1] == topic_of(world.citizen.address)  # the signer the forwarder recovered
    assert abi_decode(["uint256", "bool"], data) == (signed.request.nonce, True)
    [(topics, _)] = events(receipt, PAID_TOPIC)
    payer, merchant = topic_of(world.citizen.address), topic_of(world.merchant)
    assert topics[1:] == [payer, merchant, "0x" + payment_id.hex()]


def next_payment_seq(w: World, payer: str) -> int:
    raw = w.view(w.token, encode_function("accountOf", [payer]))
    return int.from_bytes(raw[-32:], "big")  # nextPaymentSeq, the last field


def test_signed_payment_typehash_is_the_tokens(world: World) -> None:
    """The type string derived from the ABI hashes to the token's own type hash."""
    raw = world.view(world.token, encode_function("SIGNED_PAYMENT_TYPEHASH", []))
    assert raw == SIGNED_PAYMENT_TYPEHASH


def test_signed_payment_pays_and_a_tampered_one_recovers_another(
    world: World, snapshot: None
) -> None:
    """chain.protocol.signed_payments signs what payBySig accepts, alone and in a batch; a
    field changed after signing recovers someone else (the token refuses it)."""
    m = world.net.manifest
    domain = token_domain(m.chain_id, world.token)
    payer = world.citizen
    pid = secrets.token_bytes(32)
    nonce = next_payment_seq(world, payer.address)
    payment = SignedPayment(payer.address, world.merchant, 1_000, pid, (), nonce, world.start + DAY)
    signature = sign_payment(bytes(payer.key), domain, payment)
    assert recover_payer(domain, payment, signature) == payer.address
    tampered = replace(payment, amount=1_001)
    assert recover_payer(domain, tampered, signature) != payer.address
    relayer: LocalAccount = Account.from_key(world.net.relayer_keys[0])
    sender = Operator(world.rpc, relayer, m.chain_id)
    with pytest.raises(TransactionFailed) as refused:
        sender.send(world.token, encode_pay_by_sig(tampered, signature))
    assert refused.value.revert is not None
    assert refused.value.revert.name == "VoucherInvalidPaymentSignature"
    receipt = sender.send(world.token, encode_pay_by_sig(payment, signature))
    [(topics, data)] = events(receipt, PAID_TOPIC)
    assert topics[1:] == [topic_of(payer.address), topic_of(world.merchant), "0x" + pid.hex()]
    assert abi_decode(["uint256"], data[:32]) == (nonce,)
    # The next nonce in a batch, beside a replay of the one just paid (skipped, not paid).
    second = replace(payment, nonce=nonce + 1, payment_id=secrets.token_bytes(32))
    batch = [(second, sign_payment(bytes(payer.key), domain, second)), (payment, signature)]
    receipt = sender.send(world.token, encode_pay_by_sig_batch(batch))
    assert len(events(receipt, PAID_TOPIC)) == 1
    [(topics, data)] = events(receipt, event_topic("SignedPaymentSkipped"))
    assert topics[1] == topic_of(payer.address)
    assert next_payment_seq(world, payer.address) == nonce + 2


# ------------------------------------------------------------------------------------------
# (3) Every custom error decodes from a real revert


def scenarios(w: World) -> dict[str, Scenario]:
    """Error name -> a call that reverts with it and the arguments it must decode to."""
    m = w.net.manifest
    token, a, b = w.token, w.citizen.address, w.other.address
    pid = bytes(32)
    rules = default_rules().as_tuple()
    deploy = f"deployMunicipality(uint32,string,string,address,{_RULES_TYPE})"
    beacon = m.address("UpgradeableBeacon")
    issuer = "0x" + role_id("ISSUER_ROLE").hex()
    expiry = w.start + 30 * DAY
    bad_sig = w.request(w.other, token, encode_gift(a, 1))
    tampered = replace(bad_sig, request=replace(bad_sig.request, data=encode_gift(a, 2)))
    record = PaymentRecord(a, 5, pid, 10, 10, 0)

    def by(sender: str, to: str, data: bytes, value: int = 0) -> Call:
        return Call(sender, to, data, value)

    # A signed payment by a wallet nobody registered, signed by nobody (65 zero bytes).
    stranger = new_account().address

    def pay_by_sig(payer: str, *, nonce: int, deadline: int) -> bytes:
        payment: tuple[object, ...] = (payer, w.merchant, 10, pid, [], nonce, deadline)
        return encode_function("payBySig", [payment, (bytes(32), bytes(32))])

    def relay(signed: SignedRequest, value: int = 0) -> Call:
        return by(w.operator, m.forwarder, encode_execute(signed), value)

    def paused(w: World) -> None:
        w.op.send(w.token, sig("setPaused(bool)", True))

    # A payment of 80% of what the citizen bought, then their refund: the payment is closed.
    next_seq = abi_decode(["uint256"] * 7, w.view(token, sig("accountOf(address)", a)))[6]
    r = default_rules()
    cashback = min(80_000, r.cashback_monthly_base) * r.cashback_bps_tier0 // 10_000
    spent = PaymentRecord(a, next_seq, pid, 80_000, 80_000, cashback)

    def paid_then_refunded(w: World) -> None:
        for data in (encode_pay(w.merchant, 80_000, pid), encode_refund()):
            w.op.send(m.forwarder, encode_execute(w.request(w.citizen, token, data)))

    # The timelock that owns the beacon (issue 12, item 14).
    timelock = m.address("DongneTimelock")
    upgrade = sig("upgradeTo(address)", m.address("VoucherToken"))
    salt, pred, delay = b"\x01" * 32, b"\x02" * 32, 60

    def tl(function: str, *args: object) -> bytes:
        return encode_function(function, list(args), "DongneTimelock")

    def scheduled(data: bytes, predecessor: bytes) -> Callable[[World], None]:
        def prepare(w: World) -> None:
            w.op.send(timelock, tl("schedule", beacon, 0, data, predecessor, salt, delay))
            time_travel(w, delay + 1)

        return prepare

    def op_id(data: bytes, predecessor: bytes = bytes(32)) -> str:
        encoded = abi_encode(["address", "uint256", "bytes", "bytes32", "bytes32"],
                             [beacon, 0, data, predecessor, salt])  # fmt: skip
        return "0x" + keccak(encoded).hex()

    def closed(w: World) -> None:
        time_travel(w, 31 * DAY)
        w.op.send(w.token, sig("closeProgram(uint256)", 1))

    # ---- Money rules (issue 13)
    # A block time some prepares pin, so that the deadlines the chain derives from it are known
    # (well before the relayed requests' deadline at start + 30 days).
    pinned = w.start + DAY
    registry = m.registry

    # Wallet recovery: the other citizen's wallet is lost and recovered to the citizen's.
    def recovery_started(w: World) -> None:
        w.op.send(registry, encode_start_recovery(b, a))

    def recovery_started_pinned(w: World) -> None:
        pin_time(w, pinned)
        recovery_started(w)

    def recovery_finalised(w: World) -> None:
        recovery_started(w)
        time_travel(w, LOCAL_RECOVERY_DELAY + 1)
        w.op.send(registry, encode_finalize_recovery(b))

    # Invoices: one id, opened (or paid) in each scenario's own snapshot; the merchant signs.
    invoice = keccak(text="invoice 1")
    invoice_args = {"merchant": w.merchant, "invoiceId": "0x" + invoice.hex()}

    def invoice_opened(
        payer: str = ZERO, amount: int = 0, expiry: int = 0, then: bytes | None = None
    ) -> Callable[[World], None]:
        def prepare(w: World) -> None:
            relay_as(w, w.merchant_key, encode_create_invoice(invoice, payer, amount, expiry))
            if then is not None:
                relay_as(w, w.merchant_key, then)

        return prepare

    def invoice_paid(w: World) -> None:
        relay_as(w, w.citizen, encode_pay(w.merchant, 10, invoice))

    def invoice_expired(w: World) -> None:
        invoice_opened(expiry=w.start + DAY)(w)
        time_travel(w, 2 * DAY)

    # A payment of ₩1,000, then the merchant cancels ₩600 of it: ₩400 is left to cancel.
    small = PaymentRecord(
        a,
        next_seq,
        pid,
        1_000,
        1_000,
        min(1_000, r.cashback_monthly_base) * r.cashback_bps_tier0 // 10_000,
    )

    def paid_then_partly_cancelled(w: World) -> None:
        relay_as(w, w.citizen, encode_pay(w.merchant, 1_000, pid))
        relay_as(w, w.merchant_key, encode_cancel_payment(small, 600))

    # Purchased money is barred at grocery stores (the merchant's flag synced by anyone).
    def groceries_excluded(w: World) -> None:
        w.op.send(token, encode_set_excluded_category(GROCERY, True))
        w.op.send(token, encode_sync_merchant_exclusion([w.merchant]))

    # Institutions: a monthly limit; an employee (the citizen) allowed ₩100 a month.
    def institution_limited(w: World) -> None:
        w.op.send(token, encode_set_institution_limits(w.institution, 0, 1_000))

    def employee_set(w: World) -> None:
        w.op.send(token, encode_issue(w.institution, 10_000, 9_000))
        relay_as(w, w.institution_key, encode_set_employee(a, 100))

    # Funding plans: each share's basis points must add up to 100%.
    plan = [
        FundingShare(funder_id("state"), 5_000, 5_000),
        FundingShare(funder_id("siheung"), 5_000, 5_000),
    ]

    def plan_proposed(w: World) -> None:
        pin_time(w, pinned)
        w.op.send(token, encode_propose_funding_plan(plan))

    # Reward programs: program 3 (the fixture created 1 and 2), a ₩100 budget, attestations
    # signed by a REWARDER key of the test's own; the citizen's first reward spends the budget.
    rewarder, forger = new_account(), new_account()
    reward_program = 3
    walk, walk_again = Reward(keccak(text="walk 1"), a, 100), Reward(keccak(text="walk 2"), a, 50)

    def signed(reward: Reward, signer: LocalAccount = rewarder) -> bytes:
        return sign_reward(bytes(signer.key), m.chain_id, token, reward_program, reward)

    def rewards(*paid: Reward) -> Callable[[World], None]:
        def prepare(w: World) -> None:
            grant = sig("grantRole(bytes32,address)", role_id("REWARDER_ROLE"), rewarder.address)
            w.op.send(token, grant)
            w.op.send(token, encode_create_reward_program(RewardParams(100, 0, expiry)))
            for reward in paid:  # anyone may submit a signed reward; the operator pays the gas
                w.op.send(token, encode_claim_reward(reward_program, reward, signed(reward)))

        return prepare

    return {
        # IdentityRegistry
        "IdentityZeroAddress": Scenario(
            by(w.operator, m.registry, sig("register(address,uint8)", ZERO, CITIZEN)), {}
        ),
        "IdentityInvalidKind": Scenario(
            by(w.operator, m.registry, sig("register(address,uint8)", w.stranger, 0)),
            {"account": w.stranger},
        ),
        "IdentityAlreadyRegistered": Scenario(
            by(w.operator, m.registry, sig("register(address,uint8)", a, MERCHANT)),
            {"account": a, "kind": CITIZEN},
        ),
        "IdentityUnregistered": Scenario(
            by(w.operator, m.registry, sig("setFrozen(address,bool)", w.stranger, True)),
            {"account": w.stranger},
        ),
        # IdentityRegistry: wallet recovery
        "IdentityRecoveryInvalid": Scenario(
            by(w.operator, registry, encode_start_recovery(a, w.merchant)),
            {"lost": a, "field": word("kind")},
        ),
        "IdentityRecoveryPending": Scenario(
            by(w.operator, registry, encode_start_recovery(b, a)), {"lost": b}, recovery_started
        ),
        "IdentityNoRecovery": Scenario(by(a, registry, encode_finalize_recovery(b)), {"lost": b}),
        "IdentityRecoveryNotYetEffective": Scenario(
            by(a, registry, encode_finalize_recovery(b)),
            {"lost": b, "effectiveAt": pinned + LOCAL_RECOVERY_DELAY},
            recovery_started_pinned,
        ),
        # A finalised recovery's lost wallet stays frozen for good.
        "IdentityRecovered": Scenario(
            by(w.operator, registry, sig("setFrozen(address,bool)", b, False)),
            {"lost": b, "to": a},
            recovery_finalised,
        ),
        # Only a registrar or the lost wallet itself may cancel a recovery.
        "IdentityNotAuthorized": Scenario(
            by(a, registry, encode_cancel_recovery(b)), {"caller": a}, recovery_started
        ),
        # VoucherFactory
        "FactoryInvalidRegion": Scenario(
            by(w.operator, m.factory, sig(deploy, 5, "X", "X", w.operator, rules)), {"region": 5}
        ),
        "FactoryZeroAdmin": Scenario(
            by(w.operator, m.factory, sig(deploy, 11_000, "X", "X", ZERO, rules)), {}
        ),
        "FactoryRegionTaken": Scenario(
            by(w.operator, m.factory, sig(deploy, SIHEUNG.region, "X", "X", w.operator, rules)),
            {"region": SIHEUNG.region, "token": token},
        ),
        # Identity and edges
        "VoucherUnregistered": Scenario(
            by(w.operator, token, encode_issue(w.stranger, 100, 90)), {"account": w.stranger}
        ),
        "VoucherFrozen": Scenario(
            by(w.operator, token, encode_issue(w.frozen, 100, 90)), {"account": w.frozen}
        ),
        "VoucherEdgeNotAllowed": Scenario(
            by(w.operator, token, encode_issue(w.merchant, 100, 90)),
            {"from": ZERO, "to": w.merchant},
        ),
        "VoucherUnsupported": Scenario(
            by(a, token, sig("approve(address,uint256)", b, 1)), {"selector": "0x095ea7b3"}
        ),
        "VoucherPaused": Scenario(by(a, token, encode_pay(w.merchant, 10, pid)), {}, paused),
        "VoucherInvalidAmount": Scenario(
            by(w.operator, token, encode_issue(a, 0, 0)), {"amount": 0}
        ),
        "VoucherInsufficientBalance": Scenario(
            by(a, token, encode_pay(w.merchant, 200_000, pid)),
            {"holder": a, "balance": 100_000, "needed": 200_000},
        ),
        # Merchants
        "VoucherNotMerchant": Scenario(by(a, token, encode_pay(b, 10, pid)), {"account": b}),
        "VoucherRegionMismatch": Scenario(
            by(w.operator, token, encode_register_merchant(w.outsider, 11_000, GROCERY, 0)),
            {"expected": SIHEUNG.region, "actual": 11_000},
        ),
        "VoucherMarketRequired": Scenario(
            by(w.operator, w.national, encode_register_merchant(w.outsider, 11_000, GROCERY, 0)),
            {"merchant": w.outsider},
        ),
        "VoucherMerchantInactive": Scenario(
            by(a, token, encode_pay(w.suspended, 10, pid)),
            {"merchant": w.suspended, "status": SUSPENDED},
        ),
        "VoucherMerchantBanned": Scenario(
            by(w.operator, token, encode_register_merchant(w.banned, SIHEUNG.region, GROCERY, 0)),
            {"merchant": w.banned, "bannedUntil": w.start + 365 * DAY},
        ),
        "VoucherMerchantAlreadyRegistered": Scenario(
            by(w.operator, token, encode_register_merchant(w.merchant, SIHEUNG.region, 1, 0)),
            {"merchant": w.merchant},
        ),
        "VoucherMerchantOverRevenueCap": Scenario(
            by(a, token, encode_pay(w.big_merchant, 10, pid)),
            {"merchant": w.big_merchant, "tier": 3, "capTier": 3},
        ),
        "VoucherCategoryBlocked": Scenario(
            by(w.institution, token, encode_pay(w.blocked, 10, pid)),
            {"merchant": w.blocked, "category": BLOCKED},
        ),
        "VoucherInstitutionPaymentCapExceeded": Scenario(
            by(w.institution, token, encode_pay(w.merchant, 600_000, pid)),
            {"amount": 600_000, "cap": 500_000},
        ),
        "VoucherPaymentNotFound": Scenario(
            by(w.merchant, token, encode_cancel_payment(record)), {"payer": a, "seq": 5}
        ),
        # Caps and rules
        "VoucherDiscountOutOfBounds": Scenario(
            by(w.operator, token, encode_issue(a, 100, 101)),
            {"face": 100, "paid": 101, "minBps": 0, "maxBps": 1_000},
        ),
        "VoucherMonthlyPurchaseCapExceeded": Scenario(
            by(w.operator, token, encode_issue(a, 600_001, 600_001)),
            {"buyer": a, "wouldBe": 700_001, "cap": 700_000},
        ),
        "VoucherHoldingCapExceeded": Scenario(
            by(w.operator, w.national, encode_issue(a, 60_000, 60_000)),
            {"holder": a, "wouldBe": 60_000, "cap": 50_000},
        ),
        "VoucherGiftDisabled": Scenario(by(a, w.national, encode_gift(b, 1)), {}),
        "VoucherGiftSendCapExceeded": Scenario(
            by(a, token, encode_gift(b, 500_001)),
            {"sender": a, "wouldBe": 500_001, "cap": 500_000},
        ),
        "VoucherGiftReceiveCapExceeded": Scenario(
            by(a, w.busan, encode_gift(b, 11)), {"receiver": b, "wouldBe": 11, "cap": 10}
        ),
        "VoucherRefundThresholdNotMet": Scenario(
            by(a, token, encode_refund()), {"holder": a, "spentBps": 0, "requiredBps": 8_000}
        ),
        "VoucherNothingToRefund": Scenario(by(b, token, encode_refund()), {"holder": b}),
        "VoucherInvalidRule": Scenario(
            by(w.operator, token, encode_propose_rules(replace(default_rules(), holding_cap=0))),
            {"rule": word("holdingCap")},
        ),
        "VoucherNoPendingRules": Scenario(by(a, token, sig("activateRules()")), {}),
        "VoucherRulesNotYetEffective": Scenario(
            by(a, w.national, sig("activateRules()")), {"effectiveAt": w.effective_at}
        ),
        # Programs
        "ProgramUnknown": Scenario(
            by(a, token, encode_pay(w.merchant, 10, pid, [99])), {"programId": 99}
        ),
        "ProgramInvalidParams": Scenario(
            by(w.operator, token, encode_create_program(ProgramParams(pid, 1, 0, expiry))),
            {"field": word("root")},
        ),
        "ProgramNotStarted": Scenario(
            by(a, token, encode_pay(w.merchant, 10, pid, [2])),
            {"programId": 2, "start": w.start + 10 * DAY},
        ),
        "ProgramExpired": Scenario(
            by(a, token, encode_pay(w.merchant, 10, pid, [1])),
            {"programId": 1, "expiry": expiry},
            lambda w: time_travel(w, 31 * DAY),
        ),
        "ProgramNotExpired": Scenario(
            by(w.operator, token, sig("closeProgram(uint256)", 1)),
            {"programId": 1, "expiry": expiry},
        ),
        "ProgramAlreadyClosed": Scenario(
            by(w.operator, token, sig("closeProgram(uint256)", 1)), {"programId": 1}, closed
        ),
        "ProgramInvalidProof": Scenario(
            by(a, token, encode_claim(1, 1, 2_000, [])), {"programId": 1}
        ),
        "ProgramAlreadyClaimed": Scenario(
            by(a, token, encode_claim(1, 0, 1_000, w.tree.proof(0))), {"programId": 1, "index": 0}
        ),
        "ProgramBudgetExceeded": Scenario(
            by(b, token, encode_claim(1, 1, 2_000, w.tree.proof(1))),
            {"programId": 1, "wouldBe": 3_000, "budget": 1_500},
        ),
        "ProgramCategoryNotAllowed": Scenario(
            by(a, token, encode_pay(w.blocked, 10, pid, [1])),
            {"programId": 1, "category": BLOCKED},
        ),
        "ProgramEmptyBatch": Scenario(
            by(a, token, encode_call("grantBatch", (1, [], [bytes(32)], []))), {"programId": 1}
        ),
        "VoucherSelfGift": Scenario(by(a, token, encode_gift(a, 1)), {"account": a}),
        "VoucherUnknownRulesVersion": Scenario(
            by(a, token, sig("rulesAt(uint256)", 99)), {"version": 99}
        ),
        "VoucherPaymentClosedByRefund": Scenario(
            by(w.merchant, token, encode_cancel_payment(spent)),
            {"payer": a, "seq": next_seq, "refundedAtSeq": next_seq + 1},
            paid_then_refunded,
        ),
        "ProgramDuplicatePocket": Scenario(
            by(a, token, encode_pay(w.merchant, 10, pid, [1, 1])), {"programId": 1}
        ),
        # Money rules (issue 13): invoices, single use per merchant
        "VoucherInvoiceAlreadyPaid": Scenario(
            by(a, token, encode_pay(w.merchant, 10, invoice)), invoice_args, invoice_paid
        ),
        "VoucherInvoiceCancelled": Scenario(
            by(a, token, encode_pay(w.merchant, 10, invoice)),
            invoice_args,
            invoice_opened(then=encode_cancel_invoice(invoice)),
        ),
        "VoucherInvoiceExpired": Scenario(
            by(a, token, encode_pay(w.merchant, 10, invoice)),
            {**invoice_args, "expiry": w.start + DAY},
            invoice_expired,
        ),
        "VoucherInvoiceAmountMismatch": Scenario(
            by(a, token, encode_pay(w.merchant, 10, invoice)),
            {**invoice_args, "expected": 500, "actual": 10},
            invoice_opened(amount=500),
        ),
        # A remote payment request names its payer.
        "VoucherInvoiceWrongPayer": Scenario(
            by(a, token, encode_pay(w.merchant, 10, invoice)),
            {**invoice_args, "payer": a},
            invoice_opened(payer=b),
        ),
        "VoucherInvoiceExists": Scenario(
            by(w.merchant, token, encode_create_invoice(invoice)), invoice_args, invoice_opened()
        ),
        "VoucherInvoiceNotOpen": Scenario(
            by(w.merchant, token, encode_cancel_invoice(invoice)), invoice_args
        ),
        # Money rules: cancellations, terms, platforms, excluded categories
        "VoucherCancelExceedsPayment": Scenario(
            by(w.merchant, token, encode_cancel_payment(replace(small, cancelled=600), 500)),
            {"payer": a, "seq": next_seq, "wouldBe": 1_100, "amount": 1_000},
            paid_then_partly_cancelled,
        ),
        "VoucherInvalidTerms": Scenario(
            by(w.merchant, token, encode_set_extra_discount(5_001)), {"field": word("extraBps")}
        ),
        # A merchant that is not a platform cannot take a brokerage.
        "VoucherNotPlatform": Scenario(
            by(a, token, encode_pay_through_platform(w.big_merchant, w.merchant, 10, pid)),
            {"account": w.big_merchant},
        ),
        "VoucherCategoryExcluded": Scenario(
            by(a, token, encode_pay(w.merchant, 10, pid)),
            {"merchant": w.merchant, "category": GROCERY},
            groceries_excluded,
        ),
        # Money rules: institutions and their employees
        "VoucherNotInstitution": Scenario(
            by(a, token, encode_set_employee(b, 100)), {"account": a}
        ),
        "VoucherInstitutionMonthlyCapExceeded": Scenario(
            by(w.institution, token, encode_pay(w.merchant, 1_001, pid)),
            {"institution": w.institution, "wouldBe": 1_001, "cap": 1_000},
            institution_limited,
        ),
        "VoucherNotEmployee": Scenario(
            by(a, token, encode_pay_as_employee(w.institution, w.merchant, 10)),
            {"employee": a, "institution": w.institution},
        ),
        "VoucherEmployeeLimitExceeded": Scenario(
            by(a, token, encode_pay_as_employee(w.institution, w.merchant, 101)),
            {"employee": a, "wouldBe": 101, "limit": 100},
            employee_set,
        ),
        # Money rules: funding plans
        "VoucherInvalidFundingPlan": Scenario(
            by(
                w.operator,
                token,
                encode_propose_funding_plan([replace(plan[0], cashback_bps=4_000), plan[1]]),
            ),
            {"field": word("cashbackBps")},
        ),
        "VoucherNoPendingFundingPlan": Scenario(by(a, token, encode_activate_funding_plan()), {}),
        "VoucherFundingPlanNotYetEffective": Scenario(
            by(a, token, encode_activate_funding_plan()),
            {"effectiveAt": pinned + r.change_delay},
            plan_proposed,
        ),
        # Money rules: recovery moves money only once the registry finalised it
        "VoucherNotRecovered": Scenario(by(a, token, encode_recover_wallet(b)), {"lost": b}),
        # Money rules: reward programs
        "RewardNotRewardProgram": Scenario(
            by(a, token, encode_claim_reward(1, walk, signed(walk))), {"programId": 1}
        ),
        "RewardInvalidSignature": Scenario(
            by(a, token, encode_claim_reward(reward_program, walk, signed(walk, forger))),
            {"programId": reward_program, "attestationId": "0x" + walk.attestation_id.hex()},
            rewards(),
        ),
        "RewardAlreadyPaid": Scenario(
            by(a, token, encode_claim_reward(reward_program, walk, signed(walk))),
            {"programId": reward_program, "attestationId": "0x" + walk.attestation_id.hex()},
            rewards(walk),
        ),
        # The first reward spent the budget: the second would pay nothing.
        "RewardCapReached": Scenario(
            by(a, token, encode_claim_reward(reward_program, walk_again, signed(walk_again))),
            {"programId": reward_program, "recipient": a},
            rewards(walk),
        ),
        # Signed payments (payBySig): deadline, then nonce (the payer's payment sequence),
        # then signature, all before any rule of the payment itself; a stranger's wallet has
        # sequence 0.
        "VoucherSignedPaymentExpired": Scenario(
            by(a, token, pay_by_sig(stranger, nonce=0, deadline=1)),
            {"payer": stranger, "deadline": 1},
        ),
        "VoucherInvalidPaymentNonce": Scenario(
            by(a, token, pay_by_sig(stranger, nonce=7, deadline=expiry)),
            {"payer": stranger, "expected": 0, "given": 7},
        ),
        "VoucherInvalidPaymentSignature": Scenario(
            by(a, token, pay_by_sig(stranger, nonce=0, deadline=expiry)), {"payer": stranger}
        ),
        "VoucherBatchLengthMismatch": Scenario(
            by(a, token, encode_function("payBySigBatch", [[], [(bytes(32), bytes(32))]])),
            {"payments": 0, "signatures": 1},
        ),
        "MerkleProofInvalidMultiproof": Scenario(
            by(
                a,
                token,
                encode_call("grantBatch", (1, [(0, a, 1_000)], [], [True, True])),
            ),
            {},
        ),
        # OpenZeppelin: access control, initializers, the beacon
        "AccessControlUnauthorizedAccount": Scenario(
            by(a, token, encode_issue(a, 100, 90)), {"account": a, "neededRole": issuer}
        ),
        "AccessControlBadConfirmation": Scenario(
            by(a, token, sig("renounceRole(bytes32,address)", role_id("ISSUER_ROLE"), b)), {}
        ),
        "InvalidInitialization": Scenario(
            by(
                w.operator,
                token,
                sig(
                    f"initialize(uint32,string,string,address,{_RULES_TYPE})",
                    1,
                    "X",
                    "X",
                    a,
                    rules,
                ),
            ),
            {},
        ),
        # The operator's own key cannot upgrade the beacon: only the timelock owns it.
        "OwnableUnauthorizedAccount": Scenario(
            by(w.operator, beacon, upgrade), {"account": w.operator}
        ),
        "OwnableInvalidOwner": Scenario(
            by(timelock, beacon, sig("transferOwnership(address)", ZERO)), {"owner": ZERO}
        ),
        "BeaconInvalidImplementation": Scenario(
            by(timelock, beacon, sig("upgradeTo(address)", b)), {"implementation": b}
        ),
        # The log anchor: anchors only extend a log.
        "AnchorNotForward": Scenario(
            by(
                w.operator,
                m.address("DongneAnchor"),
                encode_function("anchor", [bytes(32), bytes(32), 0], "DongneAnchor"),
            ),
            {"log": "0x" + "00" * 32, "entries": 0, "anchored": 0},
        ),
        # OpenZeppelin: the timelock
        "TimelockUnexpectedOperationState": Scenario(
            by(w.operator, timelock, tl("execute", beacon, 0, upgrade, bytes(32), salt)),
            {"operationId": op_id(upgrade), "expectedStates": "0x" + (4).to_bytes(32).hex()},
        ),
        "TimelockInsufficientDelay": Scenario(
            by(w.operator, timelock, tl("schedule", beacon, 0, upgrade, bytes(32), salt, 0)),
            {"delay": 0, "minDelay": delay},
        ),
        "TimelockUnauthorizedCaller": Scenario(
            by(w.operator, timelock, tl("updateDelay", 0)), {"caller": w.operator}
        ),
        "TimelockInvalidOperationLength": Scenario(
            by(
                w.operator,
                timelock,
                tl("scheduleBatch", [beacon], [0, 0], [upgrade], bytes(32), salt, delay),
            ),
            {"targets": 1, "payloads": 1, "values": 2},
        ),
        "TimelockUnexecutedPredecessor": Scenario(
            by(w.operator, timelock, tl("execute", beacon, 0, upgrade, pred, salt)),
            {"predecessorId": "0x" + pred.hex()},
            scheduled(upgrade, pred),
        ),
        # OpenZeppelin: the forwarder
        "ERC2771ForwarderInvalidSigner": Scenario(
            relay(tampered),
            # The forwarder names whom it recovered over its digest of the tampered request,
            # which must be whom Python recovers over ours.
            {"signer": recover_signer(w.domain, tampered), "from": w.other.address},
        ),
        "ERC2771ForwarderExpiredRequest": Scenario(
            relay(w.request(w.other, token, encode_gift(a, 1), deadline=1)), {"deadline": 1}
        ),
        "ERC2771ForwarderMismatchedValue": Scenario(
            relay(w.request(w.other, token, encode_gift(a, 1)), value=1),
            {"requestedValue": 0, "msgValue": 1},
        ),
        # The registry trusts the forwarder since issue 13 (a lost key cancels its recovery);
        # the factory does not.
        "ERC2771UntrustfulTarget": Scenario(
            relay(w.request(w.other, m.factory, encode_gift(a, 1))),
            {"target": m.factory, "forwarder": m.forwarder},
        ),
        # The relayed call itself reverts (the other citizen holds nothing); the forwarder
        # drops its data, which is why the gateway simulates calls before relaying them.
        "FailedCall": Scenario(relay(w.request(w.other, token, encode_gift(a, 1))), {}),
    }


@pytest.fixture(scope="module")
def scenario_table(world: World) -> dict[str, Scenario]:
    return scenarios(world)


def revert_of(rpc: RpcClient, method: str, call: Call) -> ContractRevert:
    params: list[object] = [call.tx(), "latest"] if method == "eth_call" else [call.tx()]
    with pytest.raises(RpcError) as info:
        rpc.call(method, params)
    error = info.value
    decoded = decode_rpc_error({"code": error.code, "message": error.message, "data": error.data})
    assert decoded is not None, f"{method}: the error carries no revert data: {error}"
    return decoded


def test_every_error_has_a_scenario_or_a_reason(scenario_table: dict[str, Scenario]) -> None:
    covered = scenario_table.keys()
    assert not covered & UNREACHABLE.keys()
    assert sorted(ERROR_CODES - covered - UNREACHABLE.keys()) == []
    assert sorted((covered | UNREACHABLE.keys()) - ERROR_CODES) == []


@pytest.mark.parametrize("name", sorted(ERROR_CODES - UNREACHABLE.keys()))
def test_error_decodes_from_a_real_revert(
    world: World, scenario_table: dict[str, Scenario], name: str
) -> None:
    scenario = scenario_table[name]
    assert world.net.node is not None
    snapshot_id = world.net.node.snapshot() if scenario.prepare else None
    try:
        if scenario.prepare:
            scenario.prepare(world)
        for method in ("eth_call", "eth_estimateGas"):
            revert = revert_of(world.rpc, method, scenario.call)
            assert (revert.name, revert.args) == (name, dict(scenario.args)), method
    finally:
        if snapshot_id is not None:
            assert world.net.node.revert(snapshot_id)


# ------------------------------------------------------------------------------------------
# (4) The same smoke test on anvil and on ganache


def _ganache_installed() -> bool:
    try:
        tool_path("ganache")
    except ToolchainMissingError:
        return False
    return True


@pytest.mark.parametrize(
    "kind",
    [
        "anvil",
        pytest.param(
            "ganache",
            marks=[
                pytest.mark.ganache,
                pytest.mark.skipif(not _ganache_installed(), reason="ganache is not installed"),
            ],
        ),
    ],
)
def test_smoke_deploy_sell_pay(kind: str, tmp_path: Path) -> None:
    net = start_local_network(tmp_path, (SIHEUNG,), kind=kind)
    try:
        m, op = net.manifest, net.operator
        token = m.token(SIHEUNG.region)
        citizen, merchant = new_account(), new_account()
        op.register(m.registry, [citizen.address], "citizen")
        op.register(m.registry, [merchant.address], "merchant")
        op.register_merchant(token, merchant.address, SIHEUNG.region, RESTAURANT, 0, False)
        op.issue(token, citizen.address, 50_000, 45_000)

        now = int(str(op.rpc.get_block()["timestamp"]), 16)  # type: ignore[index]
        request = ForwardRequest(
            from_=citizen.address,
            to=token,
            value=0,
            gas=300_000,
            nonce=0,
            deadline=now + 600,
            data=encode_pay(merchant.address, 20_000, secrets.token_bytes(32)),
        )
        signed = sign_request(bytes(citizen.key), ForwarderDomain(m.chain_id, m.forwarder), request)
        relayer: LocalAccount = Account.from_key(net.relayer_keys[0])
        Operator(op.rpc, relayer, m.chain_id).send(m.forwarder, encode_execute(signed), "execute")

        def read(data: bytes) -> int:
            raw = op.rpc.eth_call({"to": token, "data": "0x" + data.hex()})
            return int.from_bytes(raw, "big")

        # 10% cashback on general spending at a tier-0 merchant.
        assert read(sig("balanceOf(address)", citizen.address)) == 50_000 - 20_000 + 2_000
        assert read(sig("balanceOf(address)", merchant.address)) == 20_000
        assert read(sig("totalSupply()")) == 50_000 + 2_000
        nonce = op.rpc.eth_call({"to": m.forwarder, "data": "0x" + nonces(citizen.address).hex()})
        assert int.from_bytes(nonce, "big") == 1
    finally:
        net.stop()
