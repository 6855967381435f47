"""Calldata for a municipality's voucher token, and the selectors the gateway relays.

Wallet apps put these bytes in a :class:`chain.protocol.ForwardRequest`'s ``data``; the
municipality CLI sends the admin ones in its own transactions. The struct types mirror
``contracts/src/interfaces/IVoucherTypes.sol`` field for field and in order, because the ABI
encodes structs positionally. Only eth-abi and the standard library are imported (no web3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cache
from typing import Final, Protocol

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import EncodingError

from chain.protocol.contracts import (
    encode_function,
    event_data_types,
    event_signature,
    event_topic,
    function_signature,
    selector,
)
from chain.protocol.errors import DongneChainError
from chain.protocol.hashing import ZERO_ADDRESS, keccak256

__all__ = [
    "PAID_EVENTS",
    "REGISTRY_FUNCTIONS",
    "SELECTORS",
    "SELECTOR_NAMES",
    "SIGNATURES",
    "USER_FUNCTIONS",
    "USER_SELECTORS",
    "CallEncodingError",
    "FundingShare",
    "Grant",
    "GrantLike",
    "PaymentRecord",
    "ProgramParams",
    "Reward",
    "RewardParams",
    "Rules",
    "default_rules",
    "encode_activate_funding_plan",
    "encode_call",
    "encode_cancel_invoice",
    "encode_cancel_payment",
    "encode_cancel_recovery",
    "encode_claim",
    "encode_claim_and_pay",
    "encode_claim_reward",
    "encode_create_invoice",
    "encode_create_program",
    "encode_create_reward_program",
    "encode_finalize_recovery",
    "encode_gift",
    "encode_grant_batch",
    "encode_issue",
    "encode_pay",
    "encode_pay_as_employee",
    "encode_pay_through_platform",
    "encode_propose_funding_plan",
    "encode_propose_rules",
    "encode_recover_wallet",
    "encode_redeem",
    "encode_refund",
    "encode_register_merchant",
    "encode_reward_batch",
    "encode_set_employee",
    "encode_set_excluded_category",
    "encode_set_extra_discount",
    "encode_set_institution_blocked_category",
    "encode_set_institution_limits",
    "encode_set_platform",
    "encode_start_recovery",
    "encode_sync_merchant_exclusion",
    "encode_transfer",
    "funder_id",
    "funder_name",
    "paid_record",
]

Bytes32 = bytes | str
"""32 bytes, or their 0x-hex spelling."""

CALLED_FUNCTIONS: Final = (
    "pay", "claimAndPay", "claim", "gift", "redeem", "refund", "cancelPayment", "transfer",
    "grantBatch", "createProgram", "issue", "registerMerchant", "proposeRules",
    "createInvoice", "cancelInvoice", "payThroughPlatform", "setEmployee", "payAsEmployee",
    "setExtraDiscount", "claimReward", "recoverWallet",
    "setPlatform", "setExcludedCategory", "syncMerchantExclusion", "setInstitutionLimits",
    "setInstitutionBlockedCategory", "proposeFundingPlan", "activateFundingPlan",
    "cancelPendingFundingPlan", "createRewardProgram", "rewardBatch",
)  # fmt: skip

REGISTRY_FUNCTIONS: Final = ("startRecovery", "cancelRecovery", "finalizeRecovery")
"""The identity registry's recovery calls; only ``cancelRecovery`` is relayed (by the lost key)."""

SIGNATURES: Final[Mapping[str, str]] = {name: function_signature(name) for name in CALLED_FUNCTIONS}
"""Function name -> canonical signature of every call built here."""

SELECTORS: Final[Mapping[str, bytes]] = {name: selector(name) for name in CALLED_FUNCTIONS}
"""Function name -> 4-byte selector."""

SELECTOR_NAMES: Final[Mapping[bytes, str]] = {sel: name for name, sel in SELECTORS.items()}

USER_FUNCTIONS: Final[frozenset[str]] = frozenset(
    {
        "pay", "claimAndPay", "claim", "gift", "redeem", "refund", "cancelPayment", "transfer",
        # money rules: merchants' invoices and discounts, platform and employee payments,
        # institutions' employees, rewards claimed on an attestation, recovery (anyone may move
        # a finalised recovery's money)
        "createInvoice", "cancelInvoice", "payThroughPlatform", "payAsEmployee", "setEmployee",
        "setExtraDiscount", "claimReward", "recoverWallet",
    }
)  # fmt: skip
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
    """Selector + ABI-encoded ``args`` for one of :data:`SIGNATURES`' functions (or, for
    :data:`REGISTRY_FUNCTIONS`, the identity registry's)."""
    try:
        if function in REGISTRY_FUNCTIONS:
            return encode_function(function, args, "IdentityRegistry")
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
    extra: int = 0  # merchant-funded discount (``MerchantFunded``)
    platform: str = ZERO_ADDRESS  # the platform it went through (``PlatformPayment``)
    fee: int = 0  # the platform's brokerage
    cancelled: int = 0  # cancelled so far (the last ``PaymentCancelled``'s total)

    @property
    def remaining(self) -> int:
        """What a merchant can still cancel."""
        return self.amount - self.cancelled

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
            self.extra,
            self.platform,
            self.fee,
            self.cancelled,
        )


# A payment emits exactly one of these: ``Paid`` when it names no program pockets (most do not;
# the event is 1,024 gas cheaper without the two empty lists), ``PaidWithPockets`` otherwise.
PAID_EVENTS: Final = ("Paid", "PaidWithPockets")


@cache
def legacy_paid_topic() -> str:
    """topic0 of ``Paid`` as the token emitted it before the gas diet (issue 17): exactly
    ``PaidWithPockets``' fields under the name ``Paid``. A network upgraded from that version
    holds such logs, and their payments can still be cancelled (the ring's legacy hash)."""
    signature = "Paid" + event_signature("PaidWithPockets").removeprefix("PaidWithPockets")
    return "0x" + keccak256(signature.encode()).hex()


def paid_record(topics: Sequence[str], data: bytes) -> PaymentRecord | None:
    """The record a ``Paid`` or ``PaidWithPockets`` log carries (``topics`` 0x-hex as
    ``eth_getLogs`` reports them), or None for any other log. Extra, platform and fee come from
    the ``MerchantFunded`` and ``PlatformPayment`` events emitted before it."""
    for name in PAID_EVENTS:
        if topics[:1] == [event_topic(name)] or (
            name == "PaidWithPockets" and topics[:1] == [legacy_paid_topic()]
        ):
            values = abi_decode(list(event_data_types(name)), data)
            seq, amount, from_general, cashback = values[:4]
            ids, amounts = (values[4], values[5]) if len(values) > 4 else ((), ())
            return PaymentRecord(
                payer="0x" + topics[1][-40:],
                seq=seq,
                payment_id=bytes.fromhex(topics[3][2:]),
                amount=amount,
                from_general=from_general,
                cashback=cashback,
                program_ids=tuple(ids),
                program_amounts=tuple(amounts),
            )
    return None


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


@dataclass(frozen=True, slots=True)
class Reward:
    """``IVoucherTypes.Reward``: paid once per attestation id on a REWARDER's signature."""

    attestation_id: bytes
    recipient: str
    amount: int

    def as_tuple(self) -> tuple[object, ...]:
        return (_bytes32("claimReward", self.attestation_id), self.recipient, self.amount)


@dataclass(frozen=True, slots=True)
class RewardParams:
    """``IVoucherTypes.RewardParams``: a reward program (walking points, campaign prizes)."""

    budget: int
    start: int
    expiry: int
    daily_cap: int = 0  # per person per KST day; 0: none
    monthly_cap: int = 0  # per person per KST month; 0: none
    revenue_cap_waived: bool = False
    categories: tuple[int, ...] = ()
    ref: bytes = bytes(32)

    def as_tuple(self) -> tuple[object, ...]:
        return (
            self.budget,
            self.start,
            self.expiry,
            self.daily_cap,
            self.monthly_cap,
            self.revenue_cap_waived,
            list(self.categories),
            _bytes32("createRewardProgram", self.ref),
        )


@dataclass(frozen=True, slots=True)
class FundingShare:
    """``IVoucherTypes.FundingShare``: one funder's basis points of subsidies and cashback."""

    funder: bytes  # 32 bytes, e.g. funder_id("siheung")
    subsidy_bps: int
    cashback_bps: int

    def as_tuple(self) -> tuple[object, ...]:
        return (_bytes32("proposeFundingPlan", self.funder), self.subsidy_bps, self.cashback_bps)


def funder_id(name: str) -> bytes:
    """A funder's on-chain id: its name, UTF-8, right-padded to 32 bytes (Solidity's
    ``bytes32("siheung")``)."""
    raw = name.encode()
    if not raw or len(raw) > 32:
        raise CallEncodingError("proposeFundingPlan", "a funder name is 1-32 bytes")
    return raw.ljust(32, b"\0")


def funder_name(funder: bytes) -> str:
    return funder.rstrip(b"\0").decode(errors="replace")


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


def encode_cancel_payment(record: PaymentRecord, amount: int | None = None) -> bytes:
    """``cancelPayment``: ``amount`` of what is left of the payment (default: all of it)."""
    return encode_call(
        "cancelPayment", (record.as_tuple(), record.remaining if amount is None else amount)
    )


def encode_create_invoice(
    invoice_id: Bytes32, payer: str = ZERO_ADDRESS, amount: int = 0, expiry: int = 0
) -> bytes:
    """``createInvoice``: a merchant's single-use invoice; a named ``payer`` makes it a remote
    payment request. 0 means any payer / any amount / never expires."""
    return encode_call(
        "createInvoice", (_bytes32("createInvoice", invoice_id), payer, amount, expiry)
    )


def encode_cancel_invoice(invoice_id: Bytes32) -> bytes:
    return encode_call("cancelInvoice", (_bytes32("cancelInvoice", invoice_id),))


def encode_pay_through_platform(
    platform: str, shop: str, amount: int, payment_id: Bytes32, program_ids: Iterable[int] = ()
) -> bytes:
    """``payThroughPlatform``: the shop receives the amount less the platform's brokerage."""
    args = (platform, shop, amount, _bytes32("payThroughPlatform", payment_id), list(program_ids))
    return encode_call("payThroughPlatform", args)


def encode_set_employee(employee: str, monthly_limit: int) -> bytes:
    """``setEmployee`` (signed by the institution): 0 removes the authorisation."""
    return encode_call("setEmployee", (employee, monthly_limit))


def encode_pay_as_employee(
    institution: str, merchant: str, amount: int, payment_id: Bytes32 = bytes(32)
) -> bytes:
    args = (institution, merchant, amount, _bytes32("payAsEmployee", payment_id))
    return encode_call("payAsEmployee", args)


def encode_set_extra_discount(extra_bps: int) -> bytes:
    """``setExtraDiscount`` (signed by the merchant): a discount the merchant funds itself."""
    return encode_call("setExtraDiscount", (extra_bps,))


def encode_claim_reward(program_id: int, reward: Reward, signature: bytes) -> bytes:
    return encode_call("claimReward", (program_id, reward.as_tuple(), signature))


def encode_recover_wallet(lost: str, program_ids: Iterable[int] = ()) -> bytes:
    return encode_call("recoverWallet", (lost, list(program_ids)))


def encode_cancel_recovery(lost: str) -> bytes:
    """``IdentityRegistry.cancelRecovery``: the lost key's veto, relayed (or a registrar's)."""
    return encode_call("cancelRecovery", (lost,))


def encode_start_recovery(lost: str, to: str) -> bytes:
    return encode_call("startRecovery", (lost, to))


def encode_finalize_recovery(lost: str) -> bytes:
    return encode_call("finalizeRecovery", (lost,))


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


def encode_set_platform(merchant: str, platform: bool, fee_bps: int) -> bytes:
    return encode_call("setPlatform", (merchant, platform, fee_bps))


def encode_set_excluded_category(category: int, excluded: bool) -> bytes:
    return encode_call("setExcludedCategory", (category, excluded))


def encode_sync_merchant_exclusion(merchants: Sequence[str]) -> bytes:
    return encode_call("syncMerchantExclusion", (list(merchants),))


def encode_set_institution_limits(institution: str, per_payment: int, per_month: int) -> bytes:
    return encode_call("setInstitutionLimits", (institution, per_payment, per_month))


def encode_set_institution_blocked_category(
    institution: str, category: int, blocked: bool
) -> bytes:
    return encode_call("setInstitutionBlockedCategory", (institution, category, blocked))


def encode_propose_funding_plan(shares: Sequence[FundingShare]) -> bytes:
    return encode_call("proposeFundingPlan", ([s.as_tuple() for s in shares],))


def encode_activate_funding_plan() -> bytes:
    return encode_call("activateFundingPlan", ())


def encode_create_reward_program(params: RewardParams) -> bytes:
    return encode_call("createRewardProgram", (params.as_tuple(),))


def encode_reward_batch(program_id: int, rewards: Sequence[Reward]) -> bytes:
    return encode_call("rewardBatch", (program_id, [r.as_tuple() for r in rewards]))
