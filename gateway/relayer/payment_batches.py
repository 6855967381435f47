"""Signed payments in the batcher: what one waiting payment is, the ``payBySigBatch``
transaction of one token's payments, and how a mined batch's logs decide each payment.

A payment of the batch either paid (``Paid`` with its payer and sequence = its nonce) or was
skipped (``SignedPaymentSkipped(payer, nonce, reason)``, reason the token's custom error). A
skip for ``VoucherInvalidPaymentNonce`` is read against the chain: the same payment may have
been paid already by an earlier transaction (a batch thought dropped that mined after all, then
resent in a new batch): its ``Paid`` log (payer, merchant, paymentId, sequence, amount) makes
it a success, never a second payment (the nonce makes that impossible) nor a failure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_abi.abi import decode as abi_decode

from chain.protocol.contracts import event_data_types, event_topic
from chain.protocol.errors import decode_revert
from chain.protocol.signed_payments import (
    PaymentSignature,
    SignedPayment,
    decode_pay_by_sig,
    encode_pay_by_sig,
    encode_pay_by_sig_batch,
)
from chain.rpc import JSONObject
from gateway.relayer.payment_intake import payment_key

__all__ = [
    "PAID_TOPIC",
    "PAID_TOPICS",
    "POCKETS_TOPIC",
    "SKIPPED_TOPIC",
    "PendingPayment",
    "batch_calldata",
    "batch_gas",
    "carries_signature",
    "encoded_size",
    "paid_log_matches",
    "read_batch_logs",
]

PAID_TOPIC = event_topic("Paid")
# A payment naming program pockets logs PaidWithPockets instead of Paid: the same indexed
# payer, merchant and paymentId, and seq, amount first in its data (then its pocket lists).
POCKETS_TOPIC = event_topic("PaidWithPockets")
PAID_TOPICS = (PAID_TOPIC, POCKETS_TOPIC)
SKIPPED_TOPIC = event_topic("SignedPaymentSkipped")
# Each event's data decoded with its own types (from the ABI): seq and amount come first.
_PAID_DATA = {
    PAID_TOPIC: event_data_types("Paid"),  # seq, amount, fromGeneral, cashback
    POCKETS_TOPIC: event_data_types("PaidWithPockets"),  # ... + programIds, programAmounts
}
_SKIPPED_DATA = event_data_types("SignedPaymentSkipped")  # nonce, reason
# payBySigBatch work a request, measured (bench_gas --smoke: 56k a request in a batch of 100,
# 78.6k alone) with room for a first payment's cold storage and programs.
PER_PAYMENT_GAS = 150_000
# Each program pocket a payment names, on top: eth_estimateGas of payBySig on anvil, payer's
# pockets each 10,000 and every one taken from (its pocket and the program's spent written):
# 122,606 with none, 144,229 with one, 162,113 / 180,103 / 198,198 with two / three / four,
# so 21.6k for the first (PaidWithPockets and its lists) and 18k each after; 25k leaves room
# for a program's category list. A flat figure let a payment naming many pockets run out of
# gas inside payBySigBatch's try/catch and be skipped with an empty reason.
PER_POCKET_GAS = 25_000
BATCH_BASE_GAS = 60_000


@dataclass
class PendingPayment:
    id: str
    token: str
    payment: SignedPayment
    signature: PaymentSignature
    created_at: float = field(default_factory=time.time)
    attempts: int = 0
    simulated: bool = False
    trace: str | None = None
    # Skipped once with an empty reason (out of gas inside payBySigBatch's try/catch, most
    # likely): retried once in a batch of its own before it may end failed.
    alone: bool = False

    @property
    def signer(self) -> str:
        """Its NonceBook key: the payer's sequence on the token."""
        return payment_key(self.token, self.payment.payer)

    @property
    def nonce(self) -> int:
        return self.payment.nonce

    @property
    def deadline(self) -> int:
        return self.payment.deadline

    @property
    def calldata(self) -> bytes:
        """``payBySig`` of this payment alone: what simulation runs."""
        return encode_pay_by_sig(self.payment, self.signature)

    @classmethod
    def from_calldata(
        cls, rid: str, token: str, calldata: bytes, created_at: float, trace: str | None
    ) -> PendingPayment:
        payment, signature = decode_pay_by_sig(calldata)
        return cls(rid, token, payment, signature, created_at, trace=trace)


def encoded_size(p: PendingPayment) -> int:
    """Its share of payBySigBatch calldata: the struct's offset word, 7 head words, the
    programIds length word and its elements, and the two signature words."""
    return 32 * (1 + 7 + 1 + len(p.payment.program_ids) + 2)


def batch_calldata(items: Sequence[PendingPayment]) -> bytes:
    return encode_pay_by_sig_batch([(p.payment, p.signature) for p in items])


def batch_gas(items: Sequence[PendingPayment], calldata: bytes, block_gas_limit: int) -> int:
    work = sum(PER_PAYMENT_GAS + PER_POCKET_GAS * len(p.payment.program_ids) for p in items)
    if len(items) == 1 and items[0].alone:
        work *= 2  # its retry after an empty-reason skip: whatever it costs, not a guess
    gas = 21_000 + 16 * len(calldata) + BATCH_BASE_GAS + work
    return min(gas, block_gas_limit)


def _topic_address(topic: object) -> str:
    return "0x" + str(topic)[-40:].lower()


def read_batch_logs(
    receipt: JSONObject, token: str
) -> tuple[set[tuple[str, int]], dict[tuple[str, int], bytes]]:
    """(paid, skipped) of a mined batch: the (payer lower-case, sequence) of every ``Paid``
    or ``PaidWithPockets`` of the token, and each ``SignedPaymentSkipped``'s (payer, nonce)
    -> reason."""
    paid: set[tuple[str, int]] = set()
    skipped: dict[tuple[str, int], bytes] = {}
    logs = receipt.get("logs")
    for entry in logs if isinstance(logs, list) else []:
        if not isinstance(entry, dict) or str(entry.get("address", "")).lower() != token.lower():
            continue
        topics = entry.get("topics")
        if not isinstance(topics, list) or len(topics) < 2:
            continue
        data = bytes.fromhex(str(entry.get("data", "0x"))[2:])
        if topics[0] in _PAID_DATA:
            seq = abi_decode(list(_PAID_DATA[topics[0]]), data)[0]
            paid.add((_topic_address(topics[1]), int(seq)))
        elif topics[0] == SKIPPED_TOPIC:
            nonce, reason = abi_decode(list(_SKIPPED_DATA), data)
            skipped[(_topic_address(topics[1]), int(nonce))] = bytes(reason)
    return paid, skipped


def paid_log_matches(log: JSONObject, payment: SignedPayment) -> bool:
    """Whether a ``Paid`` or ``PaidWithPockets`` log (asked by payer topic) is this payment:
    same merchant and paymentId (topics), same sequence and amount (data)."""
    topics = log.get("topics")
    if not isinstance(topics, list) or len(topics) < 4 or topics[0] not in _PAID_DATA:
        return False
    if _topic_address(topics[2]) != payment.merchant.lower():
        return False
    if str(topics[3]).lower() != "0x" + payment.payment_id.hex():
        return False
    data = bytes.fromhex(str(log["data"])[2:])
    seq, amount, *_ = abi_decode(list(_PAID_DATA[topics[0]]), data)
    return int(seq) == payment.nonce and int(amount) == payment.amount


def carries_signature(tx_input: object, signature: PaymentSignature) -> bool:
    """Whether a transaction's calldata holds ``signature`` (r then vs, word-aligned after the
    selector), as payBySig and payBySigBatch calldata carry it."""
    if not isinstance(tx_input, str) or not tx_input.startswith("0x"):
        return False
    data = bytes.fromhex(tx_input[2:])
    mark = signature.r + signature.vs
    at = data.find(mark, 4)
    while at != -1:
        if (at - 4) % 32 == 0:
            return True
        at = data.find(mark, at + 1)
    return False


def skip_reason(reason: bytes) -> tuple[str, dict[str, object]]:
    """The custom error a skipped payment reverted with, decoded from the event's reason."""
    decoded = decode_revert(reason)
    return decoded.name, dict(decoded.args)
