#!/usr/bin/env python3
"""Gas benchmark: receipt gas of the voucher network's operations against OpenZeppelin peers.

    .venv/bin/python scripts/bench_gas.py [--smoke] [--snapshot | --check]

Every figure is the ``gasUsed`` of a real transaction mined by anvil (automine, the ``shanghai``
fork pinned in foundry.toml), never an estimate. Ours: the network and one municipality as
``gateway.devnet.localnet`` deploys them (default rules). Baselines: the OpenZeppelin 5.4 peers in
``contracts/test/baselines/BaselineERC20.sol``, compiled by the same ``forge build`` into
``out/``, and relayed through the same forwarder. Steady-state figures are the median of several
identical operations after a warm-up that leaves the state as a busy network has it: the payer's
payment ring written 16+ times, the signer's forwarder nonce used, the merchant holding a balance.

``--snapshot`` writes ``contracts/gas-snapshot.json`` (our figures and the baselines, sorted) so
that changes show in review; ``--check`` fails when any of our figures grew by more than 1%
against it. The last line printed is one JSON object ``{"name": "gas", "metrics", "baselines",
"ratios"}``, each ratio being ours / baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from rich.console import Console
from rich.table import Table

from chain.artifacts import compiler_settings, forge_build, load_artifact
from chain.protocol.calls import (
    PaymentRecord,
    Reward,
    RewardParams,
    default_rules,
    encode_cancel_payment,
    encode_claim_reward,
    encode_create_invoice,
    encode_create_reward_program,
    encode_gift,
    encode_issue,
    encode_pay,
    encode_pay_as_employee,
    encode_pay_through_platform,
    encode_redeem,
    encode_refund,
    encode_register_merchant,
    encode_set_employee,
    encode_set_platform,
)
from chain.protocol.calls import paid_record as paid_record_of
from chain.protocol.contracts import encode_function, event_topic, input_type
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    SignedRequest,
    encode_execute,
    encode_execute_batch,
    sign_request,
)
from chain.protocol.rewards import sign_reward
from chain.protocol.signed_payments import (
    SIGNED_PAYMENT_TYPE,
    SIGNED_PAYMENT_TYPEHASH,
    PaymentSignature,
    SignedPayment,
    encode_pay_by_sig,
    encode_pay_by_sig_batch,
    sign_payment,
    token_domain,
)
from chain.rpc import JSONObject, RpcClient
from chain.sender import Sender, TransactionFailed
from chain.toolchain import project_root
from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network

SNAPSHOT_PATH = project_root() / "contracts" / "gas-snapshot.json"
BASELINE_SOURCE = "BaselineERC20.sol"
CHECK_TOLERANCE = 0.01  # --check fails when one of our figures grows by more than this
WARM_UP_PAYMENTS = 65  # more than the payment ring's 64 slots: every slot has been written
BATCH_SIZE = 100
REQUEST_GAS = 300_000  # the gas a signed request grants its call
PAYMENT = 1_000  # won; small enough that the monthly cashback base lasts the whole run
MERCHANT_CATEGORY = 47_190  # KSIC: other retail sale in non-specialised stores
RULES_TYPE = input_type("proposeRules")
PAID_TOPIC = event_topic("Paid")  # a payment that names no pockets, as every one here
SKIPPED_TOPIC = event_topic("SignedPaymentSkipped")
TRANSFER_TOPIC = event_topic("Transfer")  # the same event as OpenZeppelin's ERC-20 baseline

console = Console(stderr=True)


class BenchError(RuntimeError):
    """A benchmark transaction failed, or a measured path was not the one it claims to be."""


# ------------------------------------------------------------------------------------------
# Transactions


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block: int
    gas_used: int
    logs: list[JSONObject]
    contract_address: str | None

    def logs_with_topic(self, topic: str) -> list[JSONObject]:
        return [log for log in self.logs if _topics(log)[:1] == [topic]]


def _topics(log: JSONObject) -> list[str]:
    topics = log.get("topics")
    return [str(t) for t in topics] if isinstance(topics, list) else []


class Wallet:
    """One key that signs and sends its own transactions (through chain.sender) and reads
    their receipts as :class:`Receipt`."""

    def __init__(self, rpc: RpcClient, key: bytes | str, chain_id: int) -> None:
        self.rpc = rpc
        self.account: LocalAccount = Account.from_key(key)
        self.key = bytes(self.account.key)
        self.sender = Sender(rpc, self.account, chain_id, receipt_timeout=60.0)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def send(self, to: str | None, data: bytes = b"", *, value: int = 0, what: str) -> Receipt:
        return self.send_many([(to, data, value)], what)[0]

    def send_many(
        self, calls: Sequence[tuple[str | None, bytes, int]], what: str, *, wait: bool = True
    ) -> list[Receipt]:
        """Sends ``(to, data, value)`` calls with consecutive nonces (``to=None`` deploys);
        a call that would revert fails with its decoded custom error before it is sent."""
        try:
            receipts = self.sender.send_many(calls, what, wait=wait)
        except TransactionFailed as exc:
            raise BenchError(str(exc)) from exc
        return [_receipt(raw) for raw in receipts]

    def receipt(self, tx_hash: str, what: str, timeout: float = 60.0) -> Receipt:
        """The receipt of a transaction sent elsewhere (pre-signed, batched)."""
        waiter = Sender(self.rpc, self.account, self.sender.chain_id, receipt_timeout=timeout)
        try:
            raw = waiter.wait(tx_hash, what)
        except TransactionFailed as exc:
            raise BenchError(str(exc)) from exc
        if raw.get("status") != "0x1":
            raise BenchError(f"{what}: transaction {tx_hash} reverted")
        return _receipt(raw)

    def deploy(self, contract: str, source: str, types: Sequence[str], *args: object) -> str:
        """Deploys a contract of ``out/<source>``; returns its address."""
        code = load_artifact(contract, source).bytecode + abi_encode(list(types), list(args))
        receipt = self.send(None, code, what=f"deploy {contract}")
        if receipt.contract_address is None:
            raise BenchError(f"deploy {contract}: the receipt has no contract address")
        return receipt.contract_address


def _receipt(raw: JSONObject) -> Receipt:
    logs = raw.get("logs")
    address = raw.get("contractAddress")
    return Receipt(
        tx_hash=str(raw["transactionHash"]),
        block=int(str(raw["blockNumber"]), 16),
        gas_used=int(str(raw["gasUsed"]), 16),
        logs=[log for log in logs if isinstance(log, dict)] if isinstance(logs, list) else [],
        contract_address=to_checksum_address(address) if isinstance(address, str) else None,
    )


def calldata(function: str, types: Sequence[str], *args: object) -> bytes:
    """Selector of ``function(types)`` and the ABI-encoded arguments."""
    return keccak(text=f"{function}({','.join(types)})")[:4] + abi_encode(list(types), list(args))


def bench_key(role: str, i: int) -> bytes:
    """A deterministic private key per role and number, so runs are reproducible."""
    return keccak(text=f"dongne gas benchmark {role} {i}")


def median_gas(receipts: Sequence[Receipt]) -> int:
    return int(statistics.median(r.gas_used for r in receipts))


def relay_request(
    domain: ForwarderDomain, key: bytes, to: str, data: bytes, nonce: int, deadline: int
) -> SignedRequest:
    sender = Account.from_key(key).address
    request = ForwardRequest(sender, to, 0, REQUEST_GAS, nonce, deadline, data)
    return sign_request(key, domain, request)


def latest_timestamp(rpc: RpcClient) -> int:
    block = rpc.get_block("latest")
    if block is None:
        raise BenchError("the node has no latest block")
    return int(str(block["timestamp"]), 16)


def deadline_of(rpc: RpcClient) -> int:
    """An hour after the latest block: far enough for any request of one run."""
    return latest_timestamp(rpc) + 3_600


# ------------------------------------------------------------------------------------------
# Our operations


def paid_record(receipt: Receipt) -> PaymentRecord:
    """The record of the one payment in ``receipt``, as a merchant presents it to cancel."""
    records = [
        record
        for log in receipt.logs
        if (record := paid_record_of(_topics(log), bytes.fromhex(str(log["data"])[2:])))
    ]
    if len(records) != 1:
        raise BenchError(f"expected one payment event in {receipt.tx_hash}, got {len(records)}")
    return records[0]


class Municipality:
    """Our side: one municipality with a shop, citizens with vouchers and a relayer."""

    def __init__(self, net: LocalNetwork, samples: int) -> None:
        node = net.node
        if node is None:
            raise BenchError("the local network has no node")
        self.rpc = node.rpc
        self.samples = samples
        self.chain_id = net.manifest.chain_id
        self.token = net.manifest.token(SIHEUNG.region)
        self.registry = net.manifest.registry
        self.factory = net.manifest.factory
        self.domain = ForwarderDomain(self.chain_id, net.manifest.forwarder)
        dev = node.dev_accounts()
        self.operator = self.wallet(dev[0].private_key)
        self.relayer = self.wallet(dev[1].private_key)
        self.funder = self.wallet(dev[5].private_key)
        self.shop = self.wallet(bench_key("shop", 0))
        self.payer = self.wallet(bench_key("payer", 0))
        self.spender = self.wallet(bench_key("spender", 0))  # monthly cashback base used up
        self.relayed = self.wallet(bench_key("relayed", 0))
        self.gifter = self.wallet(bench_key("gifter", 0))
        self.giftee = self.wallet(bench_key("giftee", 0))
        self.new_giftees = [self.wallet(bench_key("new giftee", i)) for i in range(samples)]
        self.buyer = self.wallet(bench_key("buyer", 0))
        self.first_payers = [self.wallet(bench_key("first", i)) for i in range(samples)]
        self.refunders = [self.wallet(bench_key("refunder", i)) for i in range(samples)]
        self.merchants = [self.wallet(bench_key("merchant", i)) for i in range(samples)]
        self.signers = [self.wallet(bench_key("signer", i)) for i in range(BATCH_SIZE)]
        # Token-native signed payments (payBySig): a steady payer and first-time signers, as
        # for the forwarder's figures.
        self.sig_payer = self.wallet(bench_key("sig payer", 0))
        self.sig_signers = [self.wallet(bench_key("sig signer", i)) for i in range(BATCH_SIZE)]
        self.platform = self.wallet(bench_key("platform", 0))
        self.institution = self.wallet(bench_key("institution", 0))
        self.employee = self.wallet(bench_key("employee", 0))
        self.reward_program = 0
        self._payments = 0

    def wallet(self, key: bytes | str) -> Wallet:
        return Wallet(self.rpc, key, self.chain_id)

    def setup(self) -> dict[str, int]:
        """Registers everyone, gives the direct-path wallets ETH and sells vouchers; returns the
        first-sale gas of fresh citizens (what a first ``issue`` costs)."""
        citizens = [self.payer, self.spender, self.relayed, self.gifter, self.giftee, self.buyer]
        citizens += self.first_payers + self.refunders + self.signers + self.new_giftees
        citizens += [self.sig_payer, *self.sig_signers]
        citizens.append(self.employee)
        shops = [self.shop, self.platform, *self.merchants]
        for kind, group in ((1, citizens), (2, shops), (3, [self.institution])):
            args = ([w.address for w in group], kind)
            data = calldata("registerBatch", ["address[]", "uint8"], *args)
            self.operator.send(self.registry, data, what="registerBatch")
        for shop in (self.shop, self.platform):
            register = encode_register_merchant(shop.address, SIHEUNG.region, MERCHANT_CATEGORY, 0)
            self.operator.send(self.token, register, what="registerMerchant")
        # Only the direct path needs ETH: relayed citizens never hold any.
        direct = [self.shop, self.payer, self.spender, self.gifter, *self.first_payers]
        direct += [*self.refunders, self.institution, self.employee]
        self.funder.send_many([(w.address, b"", 10**18) for w in direct], "fund")
        sales = [(self.payer, 500_000), (self.spender, 700_000), (self.relayed, 500_000)]
        sales += [(self.gifter, 300_000), (self.giftee, 10_000), (self.buyer, 10_000)]
        sales += [(w, 100_000) for w in self.first_payers + self.refunders]
        sales += [(w, 50_000) for w in self.signers]
        sales += [(self.sig_payer, 500_000)] + [(w, 50_000) for w in self.sig_signers]
        issue_calls = [
            (self.token, encode_issue(w.address, face, face * 9 // 10), 0) for w, face in sales
        ]
        receipts = self.operator.send_many(issue_calls, "issue")
        self.setup_money_rules()
        return {"issue_first": median_gas(receipts)}

    def pay(self, payer: Wallet, amount: int = PAYMENT, *, invoice: bool = False) -> Receipt:
        """A plain QR payment carries no payment id; ``invoice`` pays a fresh single-use one."""
        data = encode_pay(self.shop.address, amount, self.invoice_id() if invoice else bytes(32))
        return payer.send(self.token, data, what="pay")

    def invoice_id(self) -> bytes:
        self._payments += 1
        return keccak(text=f"invoice {self._payments}")

    def relayed_pay(self, payer: Wallet, nonce: int, deadline: int) -> Receipt:
        data = encode_pay(self.shop.address, PAYMENT, bytes(32))
        signed = relay_request(self.domain, payer.key, self.token, data, nonce, deadline)
        return self.relayer.send(
            self.domain.verifying_contract, encode_execute(signed), what="execute"
        )

    def measure(self) -> dict[str, int]:
        metrics = self.setup()
        metrics.update(self.measure_payments())
        metrics.update(self.measure_relayed())
        metrics.update(self.measure_signed())
        metrics.update(self.measure_other_movements())
        metrics.update(self.measure_money_rules())
        metrics.update(self.measure_administration())
        return metrics

    def measure_payments(self) -> dict[str, int]:
        """Direct payments (the payer sends and pays gas) to a shop that holds a balance."""
        n = self.samples
        for _ in range(WARM_UP_PAYMENTS):
            self.pay(self.payer)
        steady = [self.pay(self.payer) for _ in range(n)]
        if any(paid_record(r).cashback == 0 for r in steady):
            raise BenchError("a steady-state payment earned no cashback")
        first = [self.pay(w) for w in self.first_payers]
        if any(paid_record(r).seq != 0 for r in first):
            raise BenchError("a first payment was not its payer's first")
        self.pay(self.spender, 300_000)  # uses up the month's whole cashback base
        for _ in range(WARM_UP_PAYMENTS):
            self.pay(self.spender)
        no_cashback = [self.pay(self.spender) for _ in range(n)]
        if any(paid_record(r).cashback != 0 for r in no_cashback):
            raise BenchError("a payment after the cashback base was used up earned cashback")
        return {
            "direct_payment": median_gas(steady),
            "direct_payment_first": median_gas(first),
            "direct_payment_no_cashback": median_gas(no_cashback),
        }

    def measure_relayed(self) -> dict[str, int]:
        """Payments through the forwarder: one request whose signer's nonce was used before,
        and a batch of first-time signers."""
        deadline = deadline_of(self.rpc)
        for nonce in range(WARM_UP_PAYMENTS):
            self.relayed_pay(self.relayed, nonce, deadline)
        nonces = range(WARM_UP_PAYMENTS, WARM_UP_PAYMENTS + self.samples)
        steady = [self.relayed_pay(self.relayed, nonce, deadline) for nonce in nonces]
        return {
            "relayed_payment": median_gas(steady),
            "relayed_batch_payment": self.relayed_batch(deadline),
        }

    def signed_payment(
        self, payer: Wallet, nonce: int, deadline: int
    ) -> tuple[SignedPayment, PaymentSignature]:
        """A plain payment to the shop for ``nonce``, signed by ``payer`` under the token's
        EIP-712 domain (chain.protocol.signed_payments, as the relayer's wallets sign)."""
        payment = SignedPayment(
            payer.address, self.shop.address, PAYMENT, bytes(32), (), nonce, deadline
        )
        domain = token_domain(self.chain_id, self.token)
        return payment, sign_payment(bytes(payer.account.key), domain, payment)

    def measure_signed(self) -> dict[str, int]:
        """Token-native signed payments sent by the relayer: ``payBySig`` in the steady state
        of ``relayed_payment``; ``payBySigBatch`` of first-time signers as
        ``relayed_batch_payment``; and the same batch sent again, every request now a replay
        the batch skips (what a skipped request costs the relayer)."""
        ask = {
            "to": self.token,
            "data": "0x" + encode_function("SIGNED_PAYMENT_TYPEHASH", []).hex(),
        }
        typehash = self.rpc.call("eth_call", [ask, "latest"])
        if typehash != "0x" + SIGNED_PAYMENT_TYPEHASH.hex():
            raise BenchError(f"the token's SIGNED_PAYMENT_TYPEHASH is not {SIGNED_PAYMENT_TYPE}")
        deadline = deadline_of(self.rpc)

        def send_one(nonce: int) -> Receipt:
            data = encode_pay_by_sig(*self.signed_payment(self.sig_payer, nonce, deadline))
            return self.relayer.send(self.token, data, what="payBySig")

        for nonce in range(WARM_UP_PAYMENTS):
            send_one(nonce)
        nonces = range(WARM_UP_PAYMENTS, WARM_UP_PAYMENTS + self.samples)
        steady = [send_one(nonce) for nonce in nonces]
        signed = [self.signed_payment(w, 0, deadline) for w in self.sig_signers]
        data = encode_pay_by_sig_batch(signed)
        batch = self.relayer.send(self.token, data, what="payBySigBatch")
        if len(batch.logs_with_topic(PAID_TOPIC)) != len(signed):
            raise BenchError("payBySigBatch did not pay every request")
        replay = self.relayer.send(self.token, data, what="payBySigBatch (replayed)")
        if len(replay.logs_with_topic(SKIPPED_TOPIC)) != len(signed) or replay.logs_with_topic(
            PAID_TOPIC
        ):
            raise BenchError("a replayed payBySigBatch did not skip every request")
        return {
            "signed_payment": median_gas(steady),
            "signed_batch_payment": batch.gas_used // len(signed),
            "signed_batch_skipped": replay.gas_used // len(signed),
        }

    def measure_other_movements(self) -> dict[str, int]:
        """Repeat sale, gifts (repeat, and to a citizen who holds nothing yet), redemption,
        cancellation and cash refund."""
        n = self.samples
        sale = encode_issue(self.buyer.address, 10_000, 9_000)
        issue = [self.operator.send(self.token, sale, what="issue") for _ in range(n)]
        gift = encode_gift(self.giftee.address, 1_000)
        self.gifter.send(self.token, gift, what="gift")  # starts both gift counters' month
        gifts = [self.gifter.send(self.token, gift, what="gift") for _ in range(n)]
        first_gifts = [
            self.gifter.send(self.token, encode_gift(w.address, 1_000), what="gift")
            for w in self.new_giftees
        ]
        redeems = [
            self.shop.send(self.token, encode_redeem(PAYMENT, keccak(i)), what="redeem")
            for i in range(n)
        ]
        cancels = []
        partial_cancels = []
        for _ in range(n):
            cancel = encode_cancel_payment(paid_record(self.pay(self.payer)))
            cancels.append(self.shop.send(self.token, cancel, what="cancelPayment"))
            half = encode_cancel_payment(paid_record(self.pay(self.payer)), PAYMENT // 2)
            partial_cancels.append(self.shop.send(self.token, half, what="cancelPayment"))
        refunds = []
        for refunder in self.refunders:
            self.pay(refunder, 85_000)  # 85% of the 100,000 bought: over the 80% threshold
            refunds.append(refunder.send(self.token, encode_refund(), what="refund"))
        return {
            "issue": median_gas(issue),
            "gift": median_gas(gifts),
            "gift_first": median_gas(first_gifts),
            "redeem": median_gas(redeems),
            "cancel_payment": median_gas(cancels),
            "cancel_payment_partial": median_gas(partial_cancels),
            "refund": median_gas(refunds),
        }

    def measure_money_rules(self) -> dict[str, int]:
        """The new payment paths of the money rules, each against a payer whose ring is warm:
        an invoice (single use), an invoice the merchant opened first (exact amount), a
        payment through a platform, an employee's payment from an institution, a reward."""
        n = self.samples
        invoices = [self.pay(self.payer, invoice=True) for _ in range(n)]
        opened = []
        for _ in range(n):
            invoice = self.invoice_id()
            create = encode_create_invoice(invoice, self.payer.address, PAYMENT)
            self.shop.send(self.token, create, what="createInvoice")
            pay = encode_pay(self.shop.address, PAYMENT, invoice)
            opened.append(self.payer.send(self.token, pay, what="pay invoice"))
        via = encode_pay_through_platform(
            self.platform.address, self.shop.address, PAYMENT, bytes(32)
        )
        self.payer.send(self.token, via, what="payThroughPlatform")  # the platform's 1st fee
        platform = [self.payer.send(self.token, via, what="payThroughPlatform") for _ in range(n)]
        spend = encode_pay_as_employee(self.institution.address, self.shop.address, PAYMENT)
        self.employee.send(self.token, spend, what="payAsEmployee")  # starts the month
        employee = [self.employee.send(self.token, spend, what="payAsEmployee") for _ in range(n)]
        rewards = []
        for i in range(-1, n):  # the first claim starts the payer's day and month counters
            reward = Reward(keccak(text=f"steps {i}"), self.payer.address, 100)
            signature = sign_reward(
                self.operator.key, self.chain_id, self.token, self.reward_program, reward
            )
            claim = encode_claim_reward(self.reward_program, reward, signature)
            receipt = self.payer.send(self.token, claim, what="claimReward")
            if i >= 0:
                rewards.append(receipt)
        return {
            "invoice_payment": median_gas(invoices),
            "invoice_payment_opened": median_gas(opened),
            "platform_payment": median_gas(platform),
            "employee_payment": median_gas(employee),
            "reward_claim": median_gas(rewards),
        }

    def setup_money_rules(self) -> None:
        """A platform (1% brokerage), an institution with an employee, a reward program."""
        op = self.operator
        op.send(
            self.token, encode_set_platform(self.platform.address, True, 100), what="setPlatform"
        )
        op.send(self.token, encode_issue(self.institution.address, 500_000, 450_000), what="issue")
        self.institution.send(
            self.token, encode_set_employee(self.employee.address, 10_000_000), what="setEmployee"
        )
        grant = calldata(
            "grantRole", ["bytes32", "address"], keccak(text="REWARDER_ROLE"), op.address
        )
        op.send(self.token, grant, what="grantRole")
        now = latest_timestamp(self.rpc)
        params = RewardParams(10**9, now - 1, now + 30 * 86_400, 10**6, 10**7)
        receipt = op.send(
            self.token, encode_create_reward_program(params), what="createRewardProgram"
        )
        created = receipt.logs_with_topic(event_topic("RewardProgramCreated"))
        self.reward_program = int(_topics(created[0])[1], 16)

    def measure_administration(self) -> dict[str, int]:
        registrations = [
            self.operator.send(
                self.token,
                encode_register_merchant(w.address, SIHEUNG.region, MERCHANT_CATEGORY, 1),
                what="registerMerchant",
            )
            for w in self.merchants
        ]
        deployments = [self.deploy_municipality(41_100 + 10 * i) for i in range(self.samples)]
        return {
            "register_merchant": median_gas(registrations),
            "deploy_municipality": median_gas(deployments),
        }

    def relayed_batch(self, deadline: int) -> int:
        """Per-request gas of one ``executeBatch`` of first-time signers' payments."""
        requests = []
        for signer in self.signers:
            pay = encode_pay(self.shop.address, PAYMENT, bytes(32))
            requests.append(relay_request(self.domain, signer.key, self.token, pay, 0, deadline))
        data = encode_execute_batch(requests, self.relayer.address)
        receipt = self.relayer.send(self.domain.verifying_contract, data, what="executeBatch")
        # With a refund receiver the forwarder skips invalid requests instead of reverting.
        paid = len(receipt.logs_with_topic(PAID_TOPIC))
        if paid != len(requests):
            raise BenchError(f"executeBatch paid {paid} of {len(requests)} requests")
        return receipt.gas_used // len(requests)

    def deploy_municipality(self, region: int) -> Receipt:
        types = ["uint32", "string", "string", "address", RULES_TYPE]
        args = (region, f"Bench Voucher {region}", "BV", self.operator.address)
        data = calldata("deployMunicipality", types, *args, default_rules().as_tuple())
        return self.operator.send(self.factory, data, what="deployMunicipality")


# ------------------------------------------------------------------------------------------
# Baselines


class Baselines:
    """The OpenZeppelin peers: ERC20 transfers, mints and burns, and relayed transfers through
    the same forwarder our tokens trust."""

    def __init__(self, rpc: RpcClient, chain_id: int, forwarder: str, deployer_key: str) -> None:
        self.rpc = rpc
        self.chain_id = chain_id
        self.domain = ForwarderDomain(chain_id, forwarder)
        self.deployer = Wallet(rpc, deployer_key, chain_id)
        self.holder = Wallet(rpc, bench_key("holder", 0), chain_id)
        self.recipient = Account.from_key(bench_key("recipient", 0)).address
        self.token = self.deployer.deploy("BaselineERC20", BASELINE_SOURCE, [])
        self.forwarded = self.deployer.deploy(
            "BaselineForwardedERC20", BASELINE_SOURCE, ["address"], forwarder
        )

    def mint(self, token: str, holders: Sequence[str], amount: int) -> list[Receipt]:
        calls = [(token, calldata("mint", ["address", "uint256"], h, amount), 0) for h in holders]
        return self.deployer.send_many(calls, "mint")

    def transfer(self, sender: Wallet, to: str) -> Receipt:
        data = calldata("transfer", ["address", "uint256"], to, PAYMENT)
        return sender.send(self.token, data, what="transfer")

    def relayed_transfer(self, key: bytes, nonce: int, deadline: int) -> SignedRequest:
        data = calldata("transfer", ["address", "uint256"], self.recipient, PAYMENT)
        return relay_request(self.domain, key, self.forwarded, data, nonce, deadline)

    def measure(self, samples: int, relayer: Wallet) -> dict[str, int]:
        return self.measure_direct(samples) | self.measure_relayed(samples, relayer)

    def measure_direct(self, samples: int) -> dict[str, int]:
        """Transfers to an existing and to fresh recipients, mints, burns."""
        self.deployer.send(self.holder.address, value=10**18, what="fund")
        self.mint(self.token, [self.holder.address, self.recipient], 10**9)
        self.transfer(self.holder, self.recipient)
        transfers = [self.transfer(self.holder, self.recipient) for _ in range(samples)]
        fresh = [Account.from_key(bench_key("fresh", i)).address for i in range(samples)]
        fresh_transfers = [self.transfer(self.holder, a) for a in fresh]
        mints = self.mint(self.token, [self.holder.address] * samples, PAYMENT)
        fresh = [Account.from_key(bench_key("fresh mint", i)).address for i in range(samples)]
        fresh_mints = self.mint(self.token, fresh, PAYMENT)
        burn = calldata("burn", ["uint256"], PAYMENT)
        burns = [self.holder.send(self.token, burn, what="burn") for _ in range(samples)]
        return {
            "erc20_transfer": median_gas(transfers),
            "erc20_transfer_fresh": median_gas(fresh_transfers),
            "erc20_mint": median_gas(mints),
            "erc20_mint_fresh": median_gas(fresh_mints),
            "erc20_burn": median_gas(burns),
        }

    def measure_relayed(self, samples: int, relayer: Wallet) -> dict[str, int]:
        """``execute`` of a transfer whose signer's nonce was used before, and ``executeBatch``
        of first-time signers' transfers, all to an existing recipient."""
        deadline = deadline_of(self.rpc)
        forwarder = self.domain.verifying_contract
        signer = bench_key("relayed holder", 0)
        self.mint(self.forwarded, [Account.from_key(signer).address, self.recipient], 10**9)
        relayed = []
        for nonce in range(1 + samples):  # nonce 0 is the warm-up
            request = encode_execute(self.relayed_transfer(signer, nonce, deadline))
            relayed.append(relayer.send(forwarder, request, what="execute"))
        keys = [bench_key("batch holder", i) for i in range(BATCH_SIZE)]
        self.mint(self.forwarded, [Account.from_key(k).address for k in keys], 10**9)
        requests = [self.relayed_transfer(k, 0, deadline) for k in keys]
        batch = encode_execute_batch(requests, relayer.address)
        receipt = relayer.send(forwarder, batch, what="executeBatch")
        transfers = len(receipt.logs_with_topic(TRANSFER_TOPIC))
        if transfers != len(requests):
            raise BenchError(f"executeBatch made {transfers} of {len(requests)} transfers")
        return {
            "forwarder_execute_transfer": median_gas(relayed[1:]),
            "forwarder_batch_transfer": receipt.gas_used // len(requests),
        }


# ------------------------------------------------------------------------------------------
# Report


# ratio name: (our metric, baseline, target). Targets are the issue's; None: reported only.
RATIOS: dict[str, tuple[str, str, float | None]] = {
    "direct_payment": ("direct_payment", "erc20_transfer", 1.10),
    "direct_payment_no_cashback": ("direct_payment_no_cashback", "erc20_transfer", 1.10),
    "direct_payment_first": ("direct_payment_first", "erc20_transfer", None),
    "relayed_payment": ("relayed_payment", "forwarder_execute_transfer", 1.10),
    "relayed_payment_vs_transfer": ("relayed_payment", "erc20_transfer", 1.25),
    "relayed_batch_payment": ("relayed_batch_payment", "forwarder_batch_transfer", 1.0),
    # Token-native signed payments against the same peers as the relayed ones (reported only;
    # signed_*_vs_relayed_* below compares them with the forwarder path itself).
    "signed_payment": ("signed_payment", "forwarder_execute_transfer", None),
    "signed_batch_payment": ("signed_batch_payment", "forwarder_batch_transfer", None),
    "gift": ("gift", "erc20_transfer", None),
    "gift_first": ("gift_first", "erc20_transfer_fresh", None),
    "issue": ("issue", "erc20_mint", None),
    "issue_first": ("issue_first", "erc20_mint_fresh", None),
    "redeem": ("redeem", "erc20_burn", None),
}


# The money rules' paths against the plain direct payment they extend (issue 13 asks for them).
VS_PLAIN_PAYMENT = (
    "invoice_payment", "invoice_payment_opened", "platform_payment", "employee_payment",
    "reward_claim", "cancel_payment_partial",
)  # fmt: skip


# Signed payments (payBySig) against the forwarder path they would replace (issue 17).
VS_RELAYED = {
    "signed_payment": "relayed_payment",
    "signed_batch_payment": "relayed_batch_payment",
}


def ratios_of(metrics: Mapping[str, int], baselines: Mapping[str, int]) -> dict[str, float]:
    ratios = {
        name: round(metrics[ours] / baselines[base], 3) for name, (ours, base, _) in RATIOS.items()
    }
    plain = metrics["direct_payment"]
    for name in VS_PLAIN_PAYMENT:
        ratios[f"{name}_vs_direct_payment"] = round(metrics[name] / plain, 3)
    for signed, relayed in VS_RELAYED.items():
        ratios[f"{signed}_vs_{relayed}"] = round(metrics[signed] / metrics[relayed], 3)
    return ratios


def print_table(metrics: Mapping[str, int], baselines: Mapping[str, int]) -> None:
    settings = compiler_settings()
    table = Table(
        title=f"receipt gas: anvil, {settings.evm_version}, solc {settings.solc_version}, "
        f"optimizer {settings.optimizer_runs} runs",
        width=120,
    )
    for column in ("operation", "ours", "baseline", "baseline gas", "ratio", "target"):
        table.add_column(column, justify="left" if column in ("operation", "baseline") else "right")
    for name, (ours, base, target) in RATIOS.items():
        ratio = metrics[ours] / baselines[base]
        verdict = (
            "" if target is None else f"<= {target:.2f} " + ("met" if ratio <= target else "MISSED")
        )
        label = ours if name == ours else f"{ours} (as {name})"
        table.add_row(
            label, f"{metrics[ours]:,}", base, f"{baselines[base]:,}", f"{ratio:.3f}", verdict
        )
    for name in sorted(set(metrics) - {ours for ours, _, _ in RATIOS.values()}):
        table.add_row(name, f"{metrics[name]:,}", "", "", "", "")
    for name in sorted(set(baselines) - {base for _, base, _ in RATIOS.values()}):
        table.add_row("", "", name, f"{baselines[name]:,}", "", "")
    Console(width=120).print(table)


def write_snapshot(metrics: Mapping[str, int], baselines: Mapping[str, int], path: Path) -> None:
    snapshot = {"baselines": dict(baselines), "metrics": dict(metrics)}
    path.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {path}")


def check_snapshot(metrics: Mapping[str, int], path: Path) -> list[str]:
    """Our figures that grew by more than the tolerance (or vanished) against ``path``."""
    committed: dict[str, int] = json.loads(path.read_text())["metrics"]
    problems = []
    for name, before in sorted(committed.items()):
        now = metrics.get(name)
        if now is None:
            problems.append(f"{name}: no longer measured (snapshot {before:,})")
        elif now > before * (1 + CHECK_TOLERANCE):
            problems.append(f"{name}: {before:,} -> {now:,} (+{(now - before) / before:.1%})")
        elif now != before:
            console.print(f"{name}: {before:,} -> {now:,} ({(now - before) / before:+.1%})")
    for name in sorted(set(metrics) - set(committed)):
        console.print(f"{name}: {metrics[name]:,} (not in the snapshot)")
    return problems


def run(samples: int) -> tuple[dict[str, int], dict[str, int]]:
    """Builds, starts a network, measures ours and the baselines; the node is always stopped."""
    started = time.monotonic()
    forge_build()
    console.print(f"forge build: {time.monotonic() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="dongne-bench-gas-") as workdir:
        net = start_local_network(Path(workdir), (SIHEUNG,))
        try:
            if net.node is None:
                raise BenchError("the local network has no node")
            console.print(f"network deployed: {time.monotonic() - started:.1f} s")
            ours = Municipality(net, samples)
            metrics = ours.measure()
            console.print(f"ours measured: {time.monotonic() - started:.1f} s")
            deployer = net.node.dev_accounts()[6].private_key
            peers = Baselines(net.node.rpc, ours.chain_id, net.manifest.forwarder, deployer)
            return metrics, peers.measure(samples, ours.relayer)
        finally:
            net.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one sample per figure (< 30 s)")
    parser.add_argument("--samples", type=int, default=5, help="samples per figure (median)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--snapshot", action="store_true", help=f"write {SNAPSHOT_PATH.name}")
    mode.add_argument("--check", action="store_true", help=f"compare with {SNAPSHOT_PATH.name}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    metrics, baselines = run(1 if args.smoke else args.samples)
    console.print(f"measured in {time.monotonic() - started:.1f} s")
    print_table(metrics, baselines)
    status = 0
    if args.snapshot:
        write_snapshot(metrics, baselines, SNAPSHOT_PATH)
    if args.check:
        problems = check_snapshot(metrics, SNAPSHOT_PATH)
        for problem in problems:
            console.print(f"[red]gas regression[/red] {problem}")
        status = 1 if problems else 0
    result = {
        "name": "gas",
        "metrics": metrics,
        "baselines": baselines,
        "ratios": ratios_of(metrics, baselines),
    }
    print(json.dumps(result, sort_keys=True))
    return status


if __name__ == "__main__":
    sys.exit(main())
