"""Fixtures of the indexer suites: a chain with every kind of activity, and both databases.

One anvil per session carries the network, a municipality and a scenario touching every event
the index keeps; tests that change the chain get it through ``chain``, which reverts to the
scenario's snapshot afterwards. Database fixtures are per test: a SQLite file, or a fresh
PostgreSQL schema dropped afterwards. Test classes are written once and mixed with
:class:`SQLiteBackend` or :class:`PostgresBackend`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import Engine, select, text
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from chain.artifacts import ArtifactMissingError, forge_build, load_artifact
from chain.deploy import deploy_municipality, deploy_network
from chain.manifest import Manifest
from chain.node import LocalNode
from chain.protocol.abi import load_abi
from chain.protocol.calls import (
    PAID_EVENTS,
    FundingShare,
    PaymentRecord,
    Reward,
    RewardParams,
    default_rules,
    encode_activate_funding_plan,
    encode_cancel_invoice,
    encode_cancel_payment,
    encode_cancel_recovery,
    encode_claim_reward,
    encode_create_invoice,
    encode_create_reward_program,
    encode_finalize_recovery,
    encode_pay_as_employee,
    encode_pay_through_platform,
    encode_propose_funding_plan,
    encode_recover_wallet,
    encode_reward_batch,
    encode_set_employee,
    encode_set_excluded_category,
    encode_set_extra_discount,
    encode_set_institution_blocked_category,
    encode_set_institution_limits,
    encode_set_platform,
    encode_start_recovery,
    encode_sync_merchant_exclusion,
    funder_id,
)
from chain.protocol.forwarder import ForwarderDomain, ForwardRequest, encode_execute, sign_request
from chain.protocol.merkle import Leaf, MerkleTree
from chain.protocol.rewards import sign_reward
from gateway.db.tables import index as index_tables
from gateway.indexer import Indexer
from tests.fixtures.wallets import Wallet

# The root conftest's `postgres_schema` fixture: a factory of fresh, migrated schemas.
PostgresSchema = Callable[[], AbstractContextManager[Engine]]


REGION = 41390  # Siheung
OTHER_REGION = 41130  # Seongnam
DAY = 86_400
ZERO = "0x" + "00" * 20

# --------------------------------------------------------------------------- databases


def dump(engine: Engine, chain_id: int = 31337) -> dict[str, list[tuple[object, ...]]]:
    """Every indexed row, sorted: two indexes of one chain must dump equal.

    Recent block hashes and the checkpoint's bookkeeping depend on how the chain was cut into
    ranges, so only the checkpoint's block is compared.
    """
    out: dict[str, list[tuple[object, ...]]] = {}
    with engine.connect() as conn:
        for table in (*index_tables.EVENT_TABLES, *index_tables.STATE_TABLES):
            rows = conn.execute(select(table).where(table.c.chain_id == chain_id)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
        c = index_tables.checkpoints.c
        out["checkpoint"] = [
            tuple(r) for r in conn.execute(select(c.block_number, c.block_hash)).all()
        ]
    return out


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def rows(engine: Engine, table: str, order: str | None = None) -> list[Any]:
    """A table's rows through its SQLAlchemy definition (JSON columns come back decoded),
    in chain order, or by ``order`` (comma-separated columns), or by primary key."""
    definition = index_tables.metadata.tables[table]
    if order is None and "log_index" in definition.c:
        order = "block_number, log_index"
    names = order.split(",") if order else [c.name for c in definition.primary_key]
    columns = [definition.c[name.strip()] for name in names]
    with engine.connect() as conn:
        return list(conn.execute(select(definition).order_by(*columns)).all())


# --------------------------------------------------------------------------- chain


@dataclass
class Net:
    """The session's chain: a node, the deployed network and helpers to act on it."""

    node: LocalNode
    w3: Web3
    manifest: Manifest
    wallets: dict[str, Wallet]
    token: Contract
    registry: Contract
    factory: Contract
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def rpc(self) -> Any:
        return self.node.rpc

    def send(self, who: str, to: str, data: str | bytes, gas: int = 5_000_000) -> Any:
        """Sends a signed transaction from wallet ``who``; automine answers its receipt."""
        wallet = self.wallets[who]
        tx = {
            "to": Web3.to_checksum_address(to),
            "data": data if isinstance(data, str) else "0x" + data.hex(),
            "gas": gas,
            "gasPrice": 10**10,
            "nonce": self.rpc.get_transaction_count(wallet.address, "pending"),
            "chainId": self.manifest.chain_id,
            "value": 0,
        }
        signed = Account.sign_transaction(tx, wallet.key)
        tx_hash = self.rpc.send_raw_transaction(signed.raw_transaction)
        receipt = self.rpc.get_receipt(tx_hash)
        deadline = time.monotonic() + 10
        while receipt is None and time.monotonic() < deadline:  # automine may lag a moment
            time.sleep(0.005)
            receipt = self.rpc.get_receipt(tx_hash)
        assert receipt is not None, f"{who} -> {to} was not mined"
        assert receipt["status"] == "0x1", f"{who} -> {to} reverted"
        return receipt

    def act(self, who: str, fn: str, *args: object, contract: Contract | None = None) -> Any:
        target = self.token if contract is None else contract
        return self.send(who, target.address, target.encode_abi(fn, list(args)))

    def view(self, fn: str, *args: object, contract: Contract | None = None) -> Any:
        target = self.token if contract is None else contract
        return getattr(target.functions, fn)(*args).call()

    def now(self) -> int:
        block = self.rpc.get_block("latest")
        return int(block["timestamp"], 16)

    def head(self) -> int:
        return int(self.rpc.block_number())

    def warp(self, seconds: int) -> None:
        self.rpc.call("evm_increaseTime", [seconds])
        self.node.mine()

    def indexer(self, engine: Engine, **options: Any) -> Indexer:
        return Indexer(engine, self.rpc, self.manifest, **options)

    def municipality(self, region: int, name: str, symbol: str) -> Contract:
        account = Account.from_key(self.wallets["operator"].key)
        made = deploy_municipality(
            self.w3,
            account,
            self.manifest,
            region=region,
            name=name,
            symbol=symbol,
            admin=account.address,
            rules=default_rules().as_tuple(),
        )
        return self.w3.eth.contract(address=made.token, abi=load_abi("VoucherToken"))

    def relay(self, who: str, data: bytes) -> Any:
        """Sends ``data`` to the token as ``who`` through the forwarder (operator pays gas)."""
        wallet = self.wallets[who]
        forwarder = self.w3.eth.contract(
            address=self.manifest.forwarder, abi=load_abi("DongneForwarder")
        )
        nonce = forwarder.functions.nonces(wallet.address).call()
        domain = ForwarderDomain(self.manifest.chain_id, self.manifest.forwarder)
        request = ForwardRequest(
            wallet.address, self.token.address, 0, 500_000, nonce, self.now() + 3600, data
        )
        signed = sign_request(wallet.key, domain, request)
        return self.send("operator", self.manifest.forwarder, encode_execute(signed))


WALLET_NAMES = (
    "operator", "c1", "c2", "c3", "c4", "m1", "m2", "i1", "m3", "c5",
    # money rules: a shop with its own discount, a platform, a payer, an employee, a lost
    # wallet and the wallet it is recovered to
    "m4", "m5", "c6", "c7", "c8", "c9",
)  # fmt: skip


def _ensure_artifacts() -> None:
    try:
        load_artifact("VoucherFactory")
        load_artifact("UpgradeableBeacon", "UpgradeableBeacon.sol")
    except ArtifactMissingError:
        forge_build()


def pid(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _scenario(net: Net) -> None:
    """Every kind of event, with the facts the tests check recorded in ``net.facts``."""
    w = net.wallets
    t = net.token
    reg = net.registry
    citizens = [w[n].address for n in ("c1", "c2", "c3", "c4", "c5")]
    net.act("operator", "registerBatch", citizens, 1, contract=reg)
    for name in ("m1", "m2", "m3"):
        net.act("operator", "register", w[name].address, 2, contract=reg)
    net.act("operator", "register", w["i1"].address, 3, contract=reg)
    net.act("operator", "setFrozen", w["c4"].address, True, contract=reg)
    net.act("operator", "setFrozen", w["c4"].address, False, contract=reg)
    net.act("operator", "setFrozen", w["c5"].address, True, contract=reg)
    operator = w["operator"].address
    for role in ("ISSUER_ROLE", "MERCHANT_REGISTRAR_ROLE", "PROGRAM_MANAGER_ROLE", "PAUSER_ROLE"):
        net.act("operator", "grantRole", net.view(role), operator)
    net.act("operator", "registerMerchant", w["m1"].address, REGION, 5611, 0, False)
    net.act("operator", "registerMerchant", w["m2"].address, REGION, 4711, 1, False)
    net.act("operator", "updateMerchant", w["m2"].address, 4711, 2)
    net.act("operator", "setMerchantStatus", w["m2"].address, 2, 0)  # suspended
    net.act("operator", "setMerchantStatus", w["m2"].address, 1, 0)  # active again
    # Sales at a discount (subsidy = face - paid).
    net.act("operator", "issue", w["c1"].address, 100_000, 90_000)
    net.act("operator", "issue", w["c2"].address, 200_000, 190_000)
    net.act("operator", "issue", w["c3"].address, 50_000, 45_000)
    net.act("operator", "issue", w["i1"].address, 300_000, 300_000)
    # Payments: cashback 10% at tier 0, 5% at tier 2.
    net.act("c1", "pay", w["m1"].address, 30_000, pid(1), [])
    net.act("c2", "pay", w["m2"].address, 20_000, pid(2), [])
    net.act("i1", "pay", w["m1"].address, 40_000, pid(3), [])
    net.act("c2", "gift", w["c1"].address, 10_000)
    # Program 1: a month long, grants by claim and by multiproof batch.
    now = net.now()
    leaves = [
        Leaf(0, w["c1"].address, 20_000),
        Leaf(1, w["c2"].address, 15_000),
        Leaf(2, w["c3"].address, 5_000),
        Leaf(3, w["c2"].address, 1_000),
    ]
    tree = MerkleTree(leaves)
    params = (tree.root, 100_000, now - 10, now + 30 * DAY, False, [], pid(77))
    net.act("operator", "createProgram", params)
    net.act("c1", "claim", 1, 0, 20_000, tree.proof(0))
    multi = tree.multiproof([1, 2])
    grants = [leaf.as_values() for leaf in multi.leaves]
    net.act("operator", "grantBatch", 1, grants, list(multi.proof), list(multi.proof_flags))
    # Pocket payment, then its cancellation (the pocket is restored, program spent drops).
    receipt = net.act("c1", "pay", w["m1"].address, 25_000, pid(4), [1])
    paid = _paid_record(net, receipt)
    net.act("m1", "cancelPayment", paid, 25_000)
    net.act("c2", "pay", w["m1"].address, 10_000, pid(5), [1])
    # Program 2 expires soon; spent from, then closed after expiry; a cancellation after the
    # close only burns (no pocket, no spent change).
    now = net.now()
    tree2 = MerkleTree([Leaf(0, w["c3"].address, 8_000), Leaf(1, w["c1"].address, 2_000)])
    params2 = (tree2.root, 10_000, now - 10, now + 60, True, [5611], pid(78))
    net.act("operator", "createProgram", params2)
    net.act("c3", "claim", 2, 0, 8_000, tree2.proof(0))
    receipt = net.act("c3", "pay", w["m1"].address, 6_000, pid(6), [2])
    paid2 = _paid_record(net, receipt)
    net.warp(120)
    net.act("operator", "closeProgram", 2)
    net.act("m1", "cancelPayment", paid2, 6_000)
    # Redemption, refund (c3 spends past 80% of what it bought), rules, pause, categories.
    net.act("m1", "redeem", 20_000, pid(99))
    net.act("c3", "pay", w["m1"].address, 45_000, pid(7), [])
    net.act("c3", "refund")
    rules = default_rules().as_tuple()
    net.act("operator", "proposeRules", rules)
    net.act("operator", "cancelPendingRules")
    net.act("operator", "proposeRules", rules)
    net.act("operator", "setInstitutionCategory", 7211, True)
    net.act("operator", "setPaused", True)
    net.act("operator", "setPaused", False)
    net.act("operator", "revokeRole", net.view("PAUSER_ROLE"), operator)
    # A relayed gift: ExecutedForwardRequest from the forwarder.
    net.relay("c2", bytes.fromhex(t.encode_abi("gift", [w["c1"].address, 1_000])[2:]))
    net.facts.update(tree1=tree, tree2=tree2, leaves=leaves)
    _money_rules(net)


FUNDING_V1 = (FundingShare(funder_id("state"), 5_000, 4_000),
              FundingShare(funder_id("siheung"), 5_000, 6_000))  # fmt: skip
FUNDING_V2 = (FundingShare(funder_id("state"), 3_333, 2_000),
              FundingShare(funder_id("gyeonggi"), 1_667, 3_001),
              FundingShare(funder_id("siheung"), 5_000, 4_999))  # fmt: skip
FUNDERS = ("state", "gyeonggi", "siheung")
REWARD_PROGRAM = 3


def _money_rules(net: Net) -> None:
    """Issue 13's events: invoices, merchant terms, exclusions, institutions' limits, two
    funding plan versions (and a withdrawn proposal), platform and employee payments, partial
    and repeated cancellations (general and pocket parts), a reward program paid in a batch
    and on a signed attestation, and a lost wallet recovered (a cancellation after that goes
    to the new wallet)."""
    w = net.wallets
    a = {name: w[name].address for name in WALLET_NAMES}
    token = net.token.address
    reg = net.registry

    def call(who: str, data: bytes, to: str | None = None) -> Any:
        return net.send(who, to or token, data)

    net.act("operator", "registerBatch", [a[n] for n in ("c6", "c7", "c8", "c9")], 1, contract=reg)
    for name in ("m4", "m5"):
        net.act("operator", "register", a[name], 2, contract=reg)
    net.act("operator", "registerMerchant", a["m4"], REGION, 5611, 0, False)
    net.act("operator", "registerMerchant", a["m5"], REGION, 6312, 0, False)
    call("operator", encode_set_platform(a["m5"], True, 500))
    call("m4", encode_set_extra_discount(1_000))  # 10% off at m4, which m4 funds itself
    call("operator", encode_set_excluded_category(4711, True))
    call("operator", encode_sync_merchant_exclusion([a["m2"]]))
    call("operator", encode_set_institution_limits(a["i1"], 50_000, 200_000))
    call("operator", encode_set_institution_blocked_category(a["i1"], 7211, True))
    # Funding plan 1 (after a day's delay); sales and a paid invoice under it.
    call("operator", encode_propose_funding_plan(FUNDING_V1))
    net.warp(DAY + 1)
    call("operator", encode_activate_funding_plan())
    net.act("operator", "issue", a["c6"], 100_000, 90_000)
    net.act("operator", "issue", a["c8"], 30_000, 27_000)
    now = net.now()
    invoices = {name: pid(0x1000 + n) for n, name in enumerate("ABCD")}
    call("m4", encode_create_invoice(invoices["A"], a["c6"], 10_000))
    call("m4", encode_create_invoice(invoices["B"], a["c6"]))
    expiry_c = now + 3_600
    call("m4", encode_create_invoice(invoices["C"], a["c6"], 5_000, expiry_c))
    call("m4", encode_create_invoice(invoices["D"]))  # anyone may pay it
    call("m4", encode_cancel_invoice(invoices["B"]))
    net.act("c6", "pay", a["m4"], 10_000, invoices["A"], [])  # 9,000 after m4's discount
    # Plan 2: a withdrawn proposal, then the one activated.
    call("operator", encode_propose_funding_plan(FUNDING_V1))
    net.act("operator", "cancelPendingFundingPlan")
    call("operator", encode_propose_funding_plan(FUNDING_V2))
    net.warp(DAY + 1)
    call("operator", encode_activate_funding_plan())
    net.act("operator", "issue", a["c7"], 50_000, 45_000)
    # Through a platform (5% fee), then cancelled in two parts.
    receipt = call("c6", encode_pay_through_platform(a["m5"], a["m4"], 20_000, pid(0x2000)))
    platform_paid = payment_record(net, receipt)
    call("m4", encode_cancel_payment(platform_paid, 5_000))
    call("m4", encode_cancel_payment(replace(platform_paid, cancelled=5_000), 3_000))
    # A reward program: a batch by the REWARDER, and a reward claimed on its signature.
    net.act("operator", "grantRole", net.view("REWARDER_ROLE"), a["operator"])
    now = net.now()
    params = RewardParams(50_000, now - 10, now + 30 * DAY, daily_cap=10_000, ref=pid(80))
    call("operator", encode_create_reward_program(params))
    batch = [Reward(pid(0x3001), a["c6"], 7_000), Reward(pid(0x3002), a["c8"], 3_000)]
    call("operator", encode_reward_batch(REWARD_PROGRAM, batch))
    claimed = Reward(pid(0x3003), a["c7"], 2_000)
    signature = sign_reward(
        w["operator"].key, net.manifest.chain_id, token, REWARD_PROGRAM, claimed
    )
    call("c7", encode_claim_reward(REWARD_PROGRAM, claimed, signature))
    # Pocket and general money in one payment, cancelled in two parts (general back first).
    receipt = net.act("c6", "pay", a["m4"], 10_000, pid(0x2001), [REWARD_PROGRAM])
    pocket_paid = payment_record(net, receipt)
    call("m4", encode_cancel_payment(pocket_paid, 4_000))
    call("m4", encode_cancel_payment(replace(pocket_paid, cancelled=4_000), 1_000))
    # An employee spends the institution's money.
    call("i1", encode_set_employee(a["c7"], 100_000))
    call("c7", encode_pay_as_employee(a["i1"], a["m4"], 8_000))
    # c8 pays, is rewarded again, loses its key: a recovery is started, withdrawn, started
    # again and finalised; its money and pocket move to c9, and a later cancellation of its
    # payment goes back to c9.
    receipt = net.act("c8", "pay", a["m4"], 10_000, pid(0x2002), [REWARD_PROGRAM])
    lost_paid = payment_record(net, receipt)
    call("operator", encode_reward_batch(REWARD_PROGRAM, [Reward(pid(0x3004), a["c8"], 1_500)]))
    call("operator", encode_start_recovery(a["c8"], a["c9"]), reg.address)
    call("operator", encode_cancel_recovery(a["c8"]), reg.address)
    call("operator", encode_start_recovery(a["c8"], a["c9"]), reg.address)
    net.warp(61)
    call("operator", encode_finalize_recovery(a["c8"]), reg.address)
    call("operator", encode_recover_wallet(a["c8"], [REWARD_PROGRAM]))
    call("m4", encode_cancel_payment(lost_paid))
    net.facts.update(
        invoices=invoices,
        invoice_c_expiry=expiry_c,
        platform_paid=platform_paid,
        pocket_paid=pocket_paid,
        lost_paid=lost_paid,
    )


def payment_record(net: Net, receipt: Any) -> PaymentRecord:
    """The record a payment's events describe (what a merchant presents to cancel it)."""
    full = net.w3.eth.get_transaction_receipt(receipt["transactionHash"])
    events = net.token.events
    paid = [
        e
        for name in PAID_EVENTS
        for e in getattr(events, name)().process_receipt(full, errors=DISCARD)
    ]
    a = paid[0]["args"]
    funded = events.MerchantFunded().process_receipt(full, errors=DISCARD)
    platform = events.PlatformPayment().process_receipt(full, errors=DISCARD)
    return PaymentRecord(
        a["payer"],
        a["seq"],
        a["paymentId"],
        a["amount"],
        a["fromGeneral"],
        a["cashback"],
        tuple(a.get("programIds", ())),
        tuple(a.get("programAmounts", ())),
        extra=funded[0]["args"]["extra"] if funded else 0,
        platform=platform[0]["args"]["platform"] if platform else ZERO,
        fee=platform[0]["args"]["fee"] if platform else 0,
    )


def _paid_record(net: Net, receipt: Any) -> tuple[object, ...]:
    return payment_record(net, receipt).as_tuple()


@pytest.fixture(scope="session")
def built_chain() -> Iterator[Net]:
    _ensure_artifacts()
    with LocalNode(accounts=len(WALLET_NAMES)) as node:
        wallets = {
            name: Wallet.from_key(dev.private_key)
            for name, dev in zip(WALLET_NAMES, node.dev_accounts(), strict=True)
        }
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        operator = Account.from_key(wallets["operator"].key)
        manifest = deploy_network(w3, operator)
        net = Net(node, w3, manifest, wallets, None, None, None)  # type: ignore[arg-type]
        net.token = net.municipality(REGION, "Siheung Voucher", "SHG")
        net.registry = w3.eth.contract(address=manifest.registry, abi=load_abi("IdentityRegistry"))
        net.factory = w3.eth.contract(address=manifest.factory, abi=load_abi("VoucherFactory"))
        _scenario(net)
        net.facts["snapshot"] = node.snapshot()
        net.facts["head"] = net.head()
        yield net


@pytest.fixture
def chain(built_chain: Net) -> Iterator[Net]:
    """The scenario chain; whatever a test adds to it is reverted afterwards."""
    yield built_chain
    net = built_chain
    assert net.node.revert(net.facts["snapshot"])
    net.facts["snapshot"] = net.node.snapshot()
    net.manifest.municipalities = {
        k: v for k, v in net.manifest.municipalities.items() if k == REGION
    }


def holders(net: Net) -> Sequence[str]:
    return [net.wallets[n].address for n in WALLET_NAMES]


def activity(net: Net, blocks: int, variant: int) -> None:
    """``blocks`` blocks of payments and gifts (one transaction each, automine)."""
    w = net.wallets
    for n in range(blocks):
        if n % 2:
            # A fresh payment id each time: a non-zero id is a single-use invoice.
            paid_id = pid(100_000 + 1000 * variant + n)
            net.act("c1", "pay", w["m1"].address, 100 + variant + n, paid_id, [])
        else:
            net.act("c2", "gift", w["c3"].address, 10 + variant + n)
