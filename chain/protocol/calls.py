"""Calldata for a municipality's voucher token, and the selectors the gateway relays.

Wallet apps put these bytes in a :class:`chain.protocol.ForwardRequest`'s ``data``; the
municipality CLI sends the admin ones in its own transactions. The struct types mirror
``contracts/src/interfaces/IVoucherTypes.sol`` field for field and in order, because the ABI
encodes structs positionally. Only eth-abi and the standard library are imported (no web3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Final, Protocol

from eth_abi.exceptions import EncodingError

from chain.protocol.contracts import encode_function, function_signature, selector
from chain.protocol.errors import DongneChainError

__all__ = [
    "SELECTORS",
    "SELECTOR_NAMES",
    "SIGNATURES",
    "USER_FUNCTIONS",
    "USER_SELECTORS",
    "CallEncodingError",
    "Grant",
    "GrantLike",
    "PaymentRecord",
    "ProgramParams",
    "Rules",
    "default_rules",
    "encode_call",
    "encode_cancel_payment",
    "encode_claim",
    "encode_claim_and_pay",
    "encode_create_program",
    "encode_gift",
    "encode_grant_batch",
    "encode_issue",
    "encode_pay",
    "encode_propose_rules",
    "encode_redeem",
    "encode_refund",
    "encode_register_merchant",
    "encode_transfer",
]

Bytes32 = bytes | str
"""32 bytes, or their 0x-hex spelling."""

CALLED_FUNCTIONS: Final = (
    "pay", "claimAndPay", "claim", "gift", "redeem", "refund", "cancelPayment", "transfer",
    "grantBatch", "createProgram", "issue", "registerMerchant", "proposeRules",
)  # fmt: skip

SIGNATURES: Final[Mapping[str, str]] = {name: function_signature(name) for name in CALLED_FUNCTIONS}
"""Function name -> canonical signature of every call built here."""

SELECTORS: Final[Mapping[str, bytes]] = {name: selector(name) for name in CALLED_FUNCTIONS}
"""Function name -> 4-byte selector."""

SELECTOR_NAMES: Final[Mapping[bytes, str]] = {sel: name for name, sel in SELECTORS.items()}

USER_FUNCTIONS: Final[frozenset[str]] = frozenset(
    {"pay", "claimAndPay", "claim", "gift", "redeem", "refund", "cancelPayment", "transfer"}
)
"""What citizens and merchants sign; admin functions are never relayed for them."""

USER_SELECTORS: Final[frozenset[bytes]] = frozenset(SELECTORS[n] for n in USER_FUNCTIONS)
"""The gateway's allowlist: selectors it relays to a voucher token."""


class CallEncodingError(DongneChainError, ValueError):
    """An argument does not fit its Solidity type (negative amount, 33-byte id...)."""

    def __init__(self, function: str, problem: str) -> None:
        self.function = function
        self.problem = problem
        super().__init__(f"cannot encode {function}: {problem}")


def _bytes32(function: str, value: Bytes32) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise CallEncodingError(function, f"expected 32 bytes, got {len(raw)}")
    return raw


def encode_call(function: str, args: Sequence[object]) -> bytes:
    """Selector + ABI-encoded ``args`` for one of :data:`SIGNATURES`' functions."""
    try:
        if function not in SIGNATURES:
            raise KeyError(function)
        return encode_function(function, args)
    except (EncodingError, TypeError, ValueError) as exc:
        raise CallEncodingError(function, str(exc)) from None


# ------------------------------------------------------------------------------------------
# Struct types


@dataclass(frozen=True, slots=True)
class Rules:
    """``IVoucherTypes.Rules``: a municipality's figures (amounts in won, rates in bps)."""

    revenue_cap_tier: int
    cashback_bps_tier0: int
    cashback_bps_tier1: int
    cashback_bps_tier2: int
    cashback_bps_tier3: int
    cashback_monthly_base: int
    holding_cap: int
    institution_payment_cap: int  # 0: no limit
    min_discount_bps: int
    max_discount_bps: int
    refund_threshold_bps: int
    gift_enabled: bool
    change_delay: int  # seconds
    monthly_purchase_cap: int
    gift_send_cap: int
    gift_receive_cap: int

    def as_tuple(self) -> tuple[int | bool, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_tuple(cls, values: Sequence[int]) -> Rules:
        """From the ABI-decoded tuple of ``rules()`` or a ``RulesActivated`` event."""
        if len(values) != len(fields(cls)):
            raise ValueError(f"Rules has {len(fields(cls))} fields, got {len(values)} values")
        v = values
        return cls(
            revenue_cap_tier=v[0],
            cashback_bps_tier0=v[1],
            cashback_bps_tier1=v[2],
            cashback_bps_tier2=v[3],
            cashback_bps_tier3=v[4],
            cashback_monthly_base=v[5],
            holding_cap=v[6],
            institution_payment_cap=v[7],
            min_discount_bps=v[8],
            max_discount_bps=v[9],
            refund_threshold_bps=v[10],
            gift_enabled=bool(v[11]),
            change_delay=v[12],
            monthly_purchase_cap=v[13],
            gift_send_cap=v[14],
            gift_receive_cap=v[15],
        )


def default_rules() -> Rules:
    """Today's guideline figures (as ``DongneFixture.defaultRules`` in the forge tests).

    Discounts up to 10%, ₩700k purchase a month, ₩1.5M holding, gifts ₩500k sent / ₩1M
    received a month, cashback 10%/7%/5%/0% by revenue tier on ₩300k a month, cash refund
    after 80% spent, tier-3 merchants (over ₩3B revenue) barred for purchased money, one day
    between proposing rules and their taking effect.
    """
    return Rules(
        revenue_cap_tier=3,
        cashback_bps_tier0=1000,
        cashback_bps_tier1=700,
        cashback_bps_tier2=500,
        cashback_bps_tier3=0,
        cashback_monthly_base=300_000,
        holding_cap=1_500_000,
        institution_payment_cap=500_000,
        min_discount_bps=0,
        max_discount_bps=1000,
        refund_threshold_bps=8000,
        gift_enabled=True,
        change_delay=86_400,
        monthly_purchase_cap=700_000,
        gift_send_cap=500_000,
        gift_receive_cap=1_000_000,
    )


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """``IVoucherTypes.PaymentRecord``: what a ``Paid`` event recorded, presented to cancel."""

    payer: str
    seq: int
    payment_id: bytes
    amount: int
    from_general: int
    cashback: int
    program_ids: tuple[int, ...] = ()
    program_amounts: tuple[int, ...] = ()

    def as_tuple(self) -> tuple[object, ...]:
        return (
            self.payer,
            self.seq,
            _bytes32("cancelPayment", self.payment_id),
            self.amount,
            self.from_general,
            self.cashback,
            list(self.program_ids),
            list(self.program_amounts),
        )


@dataclass(frozen=True, slots=True)
class ProgramParams:
    """``IVoucherTypes.ProgramParams``: a policy program committed by ``createProgram``."""

    root: bytes  # StandardMerkleTree root of (uint256 index, address recipient, uint256 amount)
    budget: int
    start: int  # unix seconds
    expiry: int  # unix seconds; pockets are unspendable from then on
    revenue_cap_waived: bool = False
    categories: tuple[int, ...] = ()  # allowed KSIC codes; empty allows every category
    ref: bytes = bytes(32)  # the municipality's own reference (budget line, ordinance)

    def as_tuple(self) -> tuple[object, ...]:
        return (
            _bytes32("createProgram", self.root),
            self.budget,
            self.start,
            self.expiry,
            self.revenue_cap_waived,
            list(self.categories),
            _bytes32("createProgram", self.ref),
        )


class GrantLike(Protocol):
    """Anything with a leaf's fields, e.g. :class:`Grant` or :class:`chain.merkle.Leaf`."""

    @property
    def index(self) -> int: ...
    @property
    def recipient(self) -> str: ...
    @property
    def amount(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Grant:
    """``IVoucherTypes.Grant``: one leaf of a program's recipient list."""

    index: int
    recipient: str
    amount: int


# ------------------------------------------------------------------------------------------
# User calls (relayed by the gateway)


def encode_pay(
    merchant: str, amount: int, payment_id: Bytes32, program_ids: Iterable[int] = ()
) -> bytes:
    """``pay``: program pockets named first (soonest expiry first), the rest from general."""
    args = (merchant, amount, _bytes32("pay", payment_id), list(program_ids))
    return encode_call("pay", args)


def encode_claim_and_pay(
    program_id: int,
    index: int,
    grant_amount: int,
    proof: Sequence[Bytes32],
    merchant: str,
    amount: int,
    payment_id: Bytes32,
    program_ids: Iterable[int] = (),
) -> bytes:
    """``claimAndPay``: pull one's own grant and spend it in the same signed request."""
    args = (
        program_id,
        index,
        grant_amount,
        [_bytes32("claimAndPay", p) for p in proof],
        merchant,
        amount,
        _bytes32("claimAndPay", payment_id),
        list(program_ids),
    )
    return encode_call("claimAndPay", args)


def encode_claim(program_id: int, index: int, amount: int, proof: Sequence[Bytes32]) -> bytes:
    proof_words = [_bytes32("claim", p) for p in proof]
    return encode_call("claim", (program_id, index, amount, proof_words))


def encode_gift(to: str, amount: int) -> bytes:
    return encode_call("gift", (to, amount))


def encode_redeem(amount: int, ref: Bytes32) -> bytes:
    """``redeem``: a merchant burns general balance for cash; ``ref`` names the settlement."""
    return encode_call("redeem", (amount, _bytes32("redeem", ref)))


def encode_refund() -> bytes:
    return SELECTORS["refund"]


def encode_cancel_payment(record: PaymentRecord) -> bytes:
    return encode_call("cancelPayment", (record.as_tuple(),))


def encode_transfer(to: str, amount: int) -> bytes:
    """ERC-20 ``transfer``; the token routes it along the same edges as payments and gifts."""
    return encode_call("transfer", (to, amount))


# ------------------------------------------------------------------------------------------
# Operator and municipality calls (never relayed for citizens)


def encode_grant_batch(
    program_id: int,
    grants: Sequence[GrantLike],
    proof: Sequence[Bytes32],
    proof_flags: Sequence[bool],
) -> bytes:
    """``grantBatch`` with an OpenZeppelin multiproof (``MerkleTree.multiproof``'s output)."""
    leaves = [(g.index, g.recipient, g.amount) for g in grants]
    proof_words = [_bytes32("grantBatch", p) for p in proof]
    return encode_call("grantBatch", (program_id, leaves, proof_words, list(proof_flags)))


def encode_create_program(params: ProgramParams) -> bytes:
    return encode_call("createProgram", (params.as_tuple(),))


def encode_issue(buyer: str, face: int, paid: int) -> bytes:
    """``issue``: a sale of ``face`` won of vouchers for which ``buyer`` paid ``paid``."""
    return encode_call("issue", (buyer, face, paid))


def encode_register_merchant(
    merchant: str, region: int, category: int, tier: int, market: bool = False
) -> bytes:
    return encode_call("registerMerchant", (merchant, region, category, tier, market))


def encode_propose_rules(rules: Rules) -> bytes:
    return encode_call("proposeRules", (rules.as_tuple(),))
