"""What the gateway answers, as frozen dataclasses (the wire's field names), and the pure
choice of pockets to spend."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, cast

from chain.protocol.calls import PaymentRecord
from chain.protocol.forwarder import ForwarderDomain, SignedRequest
from chain.protocol.hashing import ZERO_ADDRESS
from chain.protocol.signed_payments import PaymentSignature, SignedPayment
from wallet_sdk.client.fields import Fields
from wallet_sdk.exceptions.base import DongneError, GatewayError, UnexpectedResponseError, error_for

__all__ = [
    "FINAL_STATUSES",
    "Balances",
    "HistoryItem",
    "HistoryPage",
    "NetworkInfo",
    "PaymentSubmission",
    "Pocket",
    "PocketChoice",
    "ProgramInfo",
    "RequestState",
    "Submission",
    "TokenBalance",
    "TokenInfo",
    "order_pockets",
]

FINAL_STATUSES: Final = frozenset({"succeeded", "failed"})

PocketChoice = Literal["auto"] | Sequence[int]
"""``"auto"`` or the program ids to spend first, in order."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A municipality's voucher token as the gateway lists it."""

    token: str
    region: int
    name: str
    symbol: str


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """What a wallet needs to sign: the chain, the forwarder's EIP-712 domain, the tokens."""

    chain_id: int
    forwarder: str
    registry: str
    factory: str
    domain: ForwarderDomain
    tokens: tuple[TokenInfo, ...]

    def token_for(self, region: int) -> str:
        """The token of the municipality with legal-district code ``region``."""
        for info in self.tokens:
            if info.region == region:
                return info.token
        raise LookupError(f"no municipality with region {region}")


@dataclass(frozen=True, slots=True)
class Submission:
    """A signed request the gateway accepted (stored) under ``id``."""

    id: str
    status: str  # queued | submitted | succeeded | failed
    nonce: int
    deadline: int
    request: SignedRequest


@dataclass(frozen=True, slots=True)
class PaymentSubmission(Submission):
    """An accepted payment: its ``payment_id`` and the program pockets it names, in order."""

    payment_id: bytes
    program_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SignedPaymentSubmission:
    """A token-native signed payment (``payBySig``) the gateway accepted under ``id``:
    follow it with ``status``/``wait`` as any request. ``nonce`` is the payer's payment
    sequence on ``token``."""

    id: str
    status: str  # queued | submitted | succeeded | failed
    token: str
    payment: SignedPayment
    signature: PaymentSignature

    @property
    def nonce(self) -> int:
        return self.payment.nonce

    @property
    def deadline(self) -> int:
        return self.payment.deadline

    @property
    def payment_id(self) -> bytes:
        return self.payment.payment_id


@dataclass(frozen=True, slots=True)
class RequestState:
    """A relayed request as ``GET /v1/requests/{id}`` reports it."""

    id: str
    status: str  # queued | submitted | succeeded | failed
    signer: str | None
    nonce: int | None
    tx_hash: str | None
    block_number: int | None
    error_code: str | None
    error_args: Mapping[str, object]
    target: str | None = None
    selector: str | None = None
    created_at: float | None = None
    updated_at: float | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def exception(self) -> DongneError | None:
        """The typed exception of a failed request (``None`` unless it failed)."""
        if self.status != "failed":
            return None
        code = self.error_code or "ForwardedCallFailed"
        error = error_for(code, f"request {self.id} failed: {code}", self.error_args)
        if isinstance(error, GatewayError):
            error.request_id = self.id
            error.tx_hash = self.tx_hash
        return error


@dataclass(frozen=True, slots=True)
class Pocket:
    """A holder's balance in one policy program, spendable in ``[start_time, expiry)`` unless
    the program is closed. Field names are the wire's (``GET /v1/wallets/{a}/balances``)."""

    program_id: int
    amount: int
    start_time: int
    expiry: int
    closed: bool = False

    def usable(self, now: int) -> bool:
        return self.amount > 0 and not self.closed and self.start_time <= now < self.expiry


@dataclass(frozen=True, slots=True)
class TokenBalance:
    """Purchased money (``general``) and program pockets in one municipality's token."""

    token: str
    symbol: str
    general: int
    pockets: tuple[Pocket, ...]
    total: int


@dataclass(frozen=True, slots=True)
class Balances:
    """Balances in every token the wallet has touched, from the gateway's index."""

    tokens: tuple[TokenBalance, ...]

    def of(self, token: str) -> TokenBalance:
        """One token's balances; zero for a token the wallet never touched."""
        for balance in self.tokens:
            if balance.token.lower() == token.lower():
                return balance
        return TokenBalance(token, "", 0, (), 0)


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """A policy program: its window, category rules and distribution figures."""

    token: str
    program_id: int
    start_time: int
    expiry: int
    closed: bool
    categories: tuple[int, ...]  # allowed KSIC codes; empty allows every category
    revenue_cap_waived: bool
    budget: int
    granted: int
    spent: int


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One entry of a wallet's history, seen from ``holder`` (the wallet asked about)."""

    holder: str
    kind: str  # sale | payment | cancellation | gift | redemption | refund | grant
    token: str
    block_number: int
    log_index: int
    tx_hash: str
    block_time: int
    direction: str  # in | out
    amount: int
    counterparty: str | None
    details: Mapping[str, object]

    def payment_record(self) -> PaymentRecord:
        """The record a merchant presents to ``cancel_payment``, rebuilt from a payment entry.

        The token checks the record's hash, so it must list exactly the pockets the payment
        named; the index keeps only pockets that paid something, so a payment that named an
        empty pocket cannot be rebuilt here (cancelling it fails with VoucherPaymentNotFound).
        """
        if self.kind != "payment":
            raise ValueError(f"a {self.kind} entry is not a payment")
        fields = Fields(self.details, "payment details")
        payer = self.holder if self.direction == "out" else self.counterparty
        if payer is None:
            raise UnexpectedResponseError("payment entry without a counterparty")
        pockets = [Fields(p, "pocket") for p in fields.array("pockets")]
        return PaymentRecord(
            payer=payer,
            seq=fields.integer("seq"),
            payment_id=fields.hex_bytes("payment_id"),
            amount=self.amount,
            from_general=fields.integer("from_general"),
            cashback=fields.integer("cashback"),
            program_ids=tuple(p.integer("program_id") for p in pockets),
            program_amounts=tuple(p.integer("amount") for p in pockets),
            # What a platform, a merchant's own discount and earlier partial cancellations
            # changed: the token hashes them into the record too.
            extra=fields.optional_integer("extra") or 0,
            platform=fields.optional_text("platform") or ZERO_ADDRESS,
            fee=fields.optional_integer("fee") or 0,
            cancelled=fields.optional_integer("cancelled") or 0,
        )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A page of history, newest first; pass ``next_cursor`` back for the next (older) one."""

    items: tuple[HistoryItem, ...]
    next_cursor: str | None


def order_pockets(pockets: Iterable[Pocket], *, now: int, amount: int | None = None) -> list[int]:
    """Program ids to spend, soonest expiry first, skipping pockets not spendable at ``now``.

    With ``amount``, only as many pockets as cover it: a pocket named needlessly could only
    make the payment fail (its program may exclude the merchant's category). The token takes
    what it can from each named pocket in order and the rest from the general pocket.
    """
    usable = sorted((p for p in pockets if p.usable(now)), key=lambda p: (p.expiry, p.program_id))
    chosen: list[int] = []
    covered = 0
    for pocket in usable:
        if amount is not None and covered >= amount:
            break
        if pocket.program_id not in chosen:
            chosen.append(pocket.program_id)
            covered += pocket.amount
    return chosen


InvoiceStatus = Literal["open", "paid", "expired", "cancelled"]


@dataclass(frozen=True, slots=True)
class Invoice:
    """A merchant's single-use invoice; one that names its payer is a remote payment request
    (an academy's monthly fee), which the payer sees in ``payment_requests()`` and pays once."""

    token: str
    merchant: str
    invoice_id: bytes
    payer: str | None  # None: anyone may pay it
    amount: int  # 0: any amount
    expiry: int  # unix seconds; 0: never expires
    status: InvoiceStatus
    created_time: int
    paid_seq: int | None = None
    paid_tx_hash: str | None = None


_INVOICE_STATUSES: Final = ("open", "paid", "expired", "cancelled")


def parse_invoices(body: object) -> tuple[Invoice, ...]:
    fields = Fields(body, "invoices")
    invoices = []
    for raw in fields.array("items"):
        item = Fields(raw, "invoice")
        status = item.text("status")
        if status not in _INVOICE_STATUSES:
            raise UnexpectedResponseError(f"invoice: unknown status {status!r}")
        invoices.append(
            Invoice(
                token=item.text("token"),
                merchant=item.text("merchant"),
                invoice_id=item.hex_bytes("invoice_id"),
                payer=item.optional_text("payer"),
                amount=item.integer("amount"),
                expiry=item.integer("expiry"),
                status=cast(InvoiceStatus, status),
                created_time=item.integer("created_time"),
                paid_seq=item.optional_integer("paid_seq"),
                paid_tx_hash=item.optional_text("paid_tx_hash"),
            )
        )
    return tuple(invoices)
