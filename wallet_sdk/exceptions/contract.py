"""One exception class per contract custom error (and the reverts that are not custom
errors), named exactly as the Solidity error; typed arguments come from the committed ABIs."""

# The class names are the error codes of every layer (Solidity, gateway, SDK), not "...Error".
# ruff: noqa: N818

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from chain.protocol.errors import REGISTRY, ErrorSpec
from wallet_sdk.exceptions.base import Argument, GatewayError, register_error

__all__ = [
    "CONTRACT_ERRORS",
    "AccessControlBadConfirmation",
    "AccessControlUnauthorizedAccount",
    "AnchorNotForward",
    "BeaconInvalidImplementation",
    "ContractError",
    "ERC2771ForwarderExpiredRequest",
    "ERC2771ForwarderInvalidSigner",
    "ERC2771ForwarderMismatchedValue",
    "ERC2771UntrustfulTarget",
    "EmptyRevert",
    "FactoryInvalidRegion",
    "FactoryRegionTaken",
    "FactoryZeroAdmin",
    "FailedCall",
    "IdentityAlreadyRegistered",
    "IdentityInvalidKind",
    "IdentityNoRecovery",
    "IdentityNotAuthorized",
    "IdentityRecovered",
    "IdentityRecoveryInvalid",
    "IdentityRecoveryNotYetEffective",
    "IdentityRecoveryPending",
    "IdentityUnregistered",
    "IdentityZeroAddress",
    "InsufficientBalance",
    "InvalidAccountNonce",
    "InvalidInitialization",
    "InvalidShortString",
    "MerkleProofInvalidMultiproof",
    "NotInitializing",
    "OwnableInvalidOwner",
    "OwnableUnauthorizedAccount",
    "Panic",
    "ProgramAlreadyClaimed",
    "ProgramAlreadyClosed",
    "ProgramBudgetExceeded",
    "ProgramCategoryNotAllowed",
    "ProgramDuplicatePocket",
    "ProgramEmptyBatch",
    "ProgramExpired",
    "ProgramInsufficientPocket",
    "ProgramInvalidParams",
    "ProgramInvalidProof",
    "ProgramNotExpired",
    "ProgramNotStarted",
    "ProgramUnknown",
    "RewardAlreadyPaid",
    "RewardCapReached",
    "RewardInvalidSignature",
    "RewardNotRewardProgram",
    "StringTooLong",
    "TimelockInsufficientDelay",
    "TimelockInvalidOperationLength",
    "TimelockUnauthorizedCaller",
    "TimelockUnexecutedPredecessor",
    "TimelockUnexpectedOperationState",
    "UnknownError",
    "VoucherBatchLengthMismatch",
    "VoucherCancelExceedsPayment",
    "VoucherCategoryBlocked",
    "VoucherCategoryExcluded",
    "VoucherDiscountOutOfBounds",
    "VoucherEdgeNotAllowed",
    "VoucherEmployeeLimitExceeded",
    "VoucherFrozen",
    "VoucherFundingPlanNotYetEffective",
    "VoucherGiftDisabled",
    "VoucherGiftReceiveCapExceeded",
    "VoucherGiftSendCapExceeded",
    "VoucherHoldingCapExceeded",
    "VoucherInstitutionMonthlyCapExceeded",
    "VoucherInstitutionPaymentCapExceeded",
    "VoucherInsufficientBalance",
    "VoucherInvalidAmount",
    "VoucherInvalidFundingPlan",
    "VoucherInvalidPaymentNonce",
    "VoucherInvalidPaymentSignature",
    "VoucherInvalidRule",
    "VoucherInvalidTerms",
    "VoucherInvoiceAlreadyPaid",
    "VoucherInvoiceAmountMismatch",
    "VoucherInvoiceCancelled",
    "VoucherInvoiceExists",
    "VoucherInvoiceExpired",
    "VoucherInvoiceNotOpen",
    "VoucherInvoiceWrongPayer",
    "VoucherMarketRequired",
    "VoucherMerchantAlreadyRegistered",
    "VoucherMerchantBanned",
    "VoucherMerchantInactive",
    "VoucherMerchantOverRevenueCap",
    "VoucherMonthlyPurchaseCapExceeded",
    "VoucherNoPendingFundingPlan",
    "VoucherNoPendingRules",
    "VoucherNotEmployee",
    "VoucherNotInstitution",
    "VoucherNotMerchant",
    "VoucherNotPlatform",
    "VoucherNotRecovered",
    "VoucherNothingToRefund",
    "VoucherPaused",
    "VoucherPaymentClosedByRefund",
    "VoucherPaymentNotFound",
    "VoucherRefundThresholdNotMet",
    "VoucherRegionMismatch",
    "VoucherRulesNotYetEffective",
    "VoucherSelfGift",
    "VoucherSignedPaymentExpired",
    "VoucherUnknownRulesVersion",
    "VoucherUnregistered",
    "VoucherUnsupported",
    "attribute_name",
]


class ContractError(GatewayError):
    """A contract rejected the call with a custom error: a rule of the network said no.

    Raised at acceptance (the gateway simulates the request; HTTP 422) or by ``wait`` when a
    relayed request failed on chain. ``code`` is the Solidity error name.
    """

    code = "ContractError"
    default_status = 422


@register_error("AccessControlUnauthorizedAccount")
class AccessControlUnauthorizedAccount(ContractError, PermissionError):
    """Thrown when a staff operation is signed by a wallet without the role it needs."""

    account: str
    needed_role: bytes


@register_error("ERC2771ForwarderExpiredRequest")
class ERC2771ForwarderExpiredRequest(ContractError):
    """Thrown by the forwarder when a request is executed after its deadline."""

    deadline: int


@register_error("ERC2771ForwarderInvalidSigner")
class ERC2771ForwarderInvalidSigner(ContractError, ValueError):
    """Thrown by the forwarder when the signature does not recover to the request's sender."""

    signer: str
    from_: str


@register_error("IdentityAlreadyRegistered")
class IdentityAlreadyRegistered(ContractError):
    """Thrown when registering a wallet that is already registered."""

    account: str
    kind: int


@register_error("IdentityInvalidKind")
class IdentityInvalidKind(ContractError, ValueError):
    """Thrown when a registration names `Kind.None`."""

    account: str


@register_error("IdentityUnregistered")
class IdentityUnregistered(ContractError, LookupError):
    """Thrown when acting on a wallet that is not registered."""

    account: str


@register_error("IdentityZeroAddress")
class IdentityZeroAddress(ContractError, ValueError):
    """Thrown when the zero address is registered."""


@register_error("InvalidAccountNonce")
class InvalidAccountNonce(ContractError, ValueError):
    """Thrown by the forwarder when a request's nonce is not the sender's current nonce."""

    account: str
    current_nonce: int


@register_error("ProgramAlreadyClaimed")
class ProgramAlreadyClaimed(ContractError):
    """Thrown when a pull claim's leaf index was already paid."""

    program_id: int
    index: int


@register_error("ProgramAlreadyClosed")
class ProgramAlreadyClosed(ContractError):
    """Thrown when a program is closed twice or used after closing."""

    program_id: int


@register_error("ProgramBudgetExceeded")
class ProgramBudgetExceeded(ContractError, ValueError):
    """Thrown when a grant would take the program over its budget."""

    program_id: int
    would_be: int
    budget: int


@register_error("ProgramCategoryNotAllowed")
class ProgramCategoryNotAllowed(ContractError, PermissionError):
    """Thrown when program money would be spent at a merchant of another category."""

    program_id: int
    category: int


@register_error("ProgramDuplicatePocket")
class ProgramDuplicatePocket(ContractError, ValueError):
    """Thrown when the same program is named twice in one payment."""

    program_id: int


@register_error("ProgramEmptyBatch")
class ProgramEmptyBatch(ContractError, ValueError):
    """Thrown when a grant batch names no grant."""

    program_id: int


@register_error("ProgramExpired")
class ProgramExpired(ContractError):
    """Thrown when a program's pocket is used at or after its expiry."""

    program_id: int
    expiry: int


@register_error("ProgramInsufficientPocket")
class ProgramInsufficientPocket(ContractError, ValueError):
    """Thrown when a holder's program pocket is short."""

    program_id: int
    holder: str
    balance: int
    needed: int


@register_error("ProgramInvalidParams")
class ProgramInvalidParams(ContractError, ValueError):
    """Thrown when a program's window or budget is invalid."""

    field: bytes


@register_error("ProgramInvalidProof")
class ProgramInvalidProof(ContractError, ValueError):
    """Thrown when a Merkle proof or multiproof does not match the program's root."""

    program_id: int


@register_error("ProgramNotExpired")
class ProgramNotExpired(ContractError):
    """Thrown when a program is closed before its expiry."""

    program_id: int
    expiry: int


@register_error("ProgramNotStarted")
class ProgramNotStarted(ContractError):
    """Thrown when a program's pocket is used before its start."""

    program_id: int
    start: int


@register_error("ProgramUnknown")
class ProgramUnknown(ContractError, LookupError):
    """Thrown when a program id does not exist."""

    program_id: int


@register_error("VoucherCategoryBlocked")
class VoucherCategoryBlocked(ContractError, PermissionError):
    """Thrown when an institution pays a merchant of a blocked category."""

    merchant: str
    category: int


@register_error("VoucherDiscountOutOfBounds")
class VoucherDiscountOutOfBounds(ContractError, ValueError):
    """Thrown when a sale's discount is outside the configured bounds."""

    face: int
    paid: int
    min_bps: int
    max_bps: int


@register_error("VoucherEdgeNotAllowed")
class VoucherEdgeNotAllowed(ContractError, PermissionError):
    """Thrown when money would move along an edge the rules do not allow."""

    from_: str
    to: str


@register_error("VoucherFrozen")
class VoucherFrozen(ContractError, PermissionError):
    """Thrown when a party of a movement is frozen in the identity registry."""

    account: str


@register_error("VoucherSelfGift")
class VoucherSelfGift(ContractError, ValueError):
    """Thrown when a citizen gifts to themselves."""

    account: str


@register_error("VoucherUnknownRulesVersion")
class VoucherUnknownRulesVersion(ContractError, LookupError):
    """Thrown when asking for rules of a version that was never in force."""

    version: int


@register_error("VoucherPaymentClosedByRefund")
class VoucherPaymentClosedByRefund(ContractError, PermissionError):
    """Thrown when cancelling a payment made before the payer's last refund (it stays spent)."""

    payer: str
    seq: int
    refunded_at_seq: int


@register_error("VoucherGiftDisabled")
class VoucherGiftDisabled(ContractError, PermissionError):
    """Thrown when gifts are disabled in this municipality."""


@register_error("VoucherGiftReceiveCapExceeded")
class VoucherGiftReceiveCapExceeded(ContractError, ValueError):
    """Thrown when a gift would exceed the receiver's monthly gift cap."""

    receiver: str
    would_be: int
    cap: int


@register_error("VoucherGiftSendCapExceeded")
class VoucherGiftSendCapExceeded(ContractError, ValueError):
    """Thrown when a gift would exceed the sender's monthly gift cap."""

    sender: str
    would_be: int
    cap: int


@register_error("VoucherHoldingCapExceeded")
class VoucherHoldingCapExceeded(ContractError, ValueError):
    """Thrown when a citizen's general balance would exceed the holding cap."""

    holder: str
    would_be: int
    cap: int


@register_error("VoucherInstitutionPaymentCapExceeded")
class VoucherInstitutionPaymentCapExceeded(ContractError, ValueError):
    """Thrown when one institution payment is over the per-payment limit."""

    amount: int
    cap: int


@register_error("VoucherInsufficientBalance")
class VoucherInsufficientBalance(ContractError, ValueError):
    """Thrown when a holder's general balance is short."""

    holder: str
    balance: int
    needed: int


@register_error("VoucherInvalidAmount")
class VoucherInvalidAmount(ContractError, ValueError):
    """Thrown when an amount is zero or does not fit the won counters."""

    amount: int


@register_error("VoucherInvalidRule")
class VoucherInvalidRule(ContractError, ValueError):
    """Thrown when proposed rules are inconsistent; `rule` names the field."""

    rule: bytes


@register_error("VoucherMarketRequired")
class VoucherMarketRequired(ContractError, PermissionError):
    """Thrown when the national voucher registers a merchant that is not a market store."""

    merchant: str


@register_error("VoucherMerchantAlreadyRegistered")
class VoucherMerchantAlreadyRegistered(ContractError):
    """Thrown when registering a merchant twice."""

    merchant: str


@register_error("VoucherMerchantBanned")
class VoucherMerchantBanned(ContractError):
    """Thrown when registering a merchant still barred after cash-out fraud, or when lifting
    or shortening a ban before its end."""

    merchant: str
    banned_until: int


@register_error("VoucherMerchantInactive")
class VoucherMerchantInactive(ContractError, PermissionError):
    """Thrown when a merchant is suspended or cancelled."""

    merchant: str
    merchant_status: int


@register_error("VoucherMerchantOverRevenueCap")
class VoucherMerchantOverRevenueCap(ContractError, PermissionError):
    """Thrown when purchased money would be spent at a merchant over the revenue cap."""

    merchant: str
    tier: int
    cap_tier: int


@register_error("VoucherMonthlyPurchaseCapExceeded")
class VoucherMonthlyPurchaseCapExceeded(ContractError, ValueError):
    """Thrown when a sale would exceed the buyer's monthly purchase cap."""

    buyer: str
    would_be: int
    cap: int


@register_error("VoucherNoPendingRules")
class VoucherNoPendingRules(ContractError):
    """Thrown when activating rules with none pending."""


@register_error("VoucherNotMerchant")
class VoucherNotMerchant(ContractError, PermissionError):
    """Thrown when a payment's receiver is not a merchant of this municipality."""

    account: str


@register_error("VoucherNothingToRefund")
class VoucherNothingToRefund(ContractError, ValueError):
    """Thrown when a holder has no purchased money left to refund."""

    holder: str


@register_error("VoucherPaused")
class VoucherPaused(ContractError):
    """Thrown while the municipality is paused."""


@register_error("VoucherPaymentNotFound")
class VoucherPaymentNotFound(ContractError, LookupError):
    """Thrown when a merchant cancels a payment that is not on record."""

    payer: str
    seq: int


@register_error("VoucherRefundThresholdNotMet")
class VoucherRefundThresholdNotMet(ContractError, ValueError):
    """Thrown when a refund is asked before enough purchased money is spent."""

    holder: str
    spent_bps: int
    required_bps: int


@register_error("VoucherRegionMismatch")
class VoucherRegionMismatch(ContractError, ValueError):
    """Thrown when a merchant's region is not this municipality's region."""

    expected: int
    actual: int


@register_error("VoucherRulesNotYetEffective")
class VoucherRulesNotYetEffective(ContractError):
    """Thrown when activating pending rules before their time."""

    effective_at: int


@register_error("VoucherUnregistered")
class VoucherUnregistered(ContractError, PermissionError):
    """Thrown when a party of a movement is not in the identity registry."""

    account: str


@register_error("VoucherUnsupported")
class VoucherUnsupported(ContractError, PermissionError):
    """Thrown when an approval-based call is made; vouchers move only by their holder."""

    selector: bytes


@register_error("AccessControlBadConfirmation")
class AccessControlBadConfirmation(ContractError):
    """The contract reverted with AccessControlBadConfirmation."""


@register_error("AnchorNotForward")
class AnchorNotForward(ContractError):
    """Thrown when an anchor would not extend the log (the log only grows)."""

    log: bytes
    entries: int
    anchored: int


@register_error("BeaconInvalidImplementation")
class BeaconInvalidImplementation(ContractError):
    """The contract reverted with BeaconInvalidImplementation."""

    implementation: str


@register_error("ERC2771ForwarderMismatchedValue")
class ERC2771ForwarderMismatchedValue(ContractError):
    """The contract reverted with ERC2771ForwarderMismatchedValue."""

    requested_value: int
    msg_value: int


@register_error("ERC2771UntrustfulTarget")
class ERC2771UntrustfulTarget(ContractError):
    """The contract reverted with ERC2771UntrustfulTarget."""

    target: str
    forwarder: str


@register_error("FactoryInvalidRegion")
class FactoryInvalidRegion(ContractError):
    """Thrown when a region code is not a 5-digit legal-district code (or 0, national)."""

    region: int


@register_error("FactoryRegionTaken")
class FactoryRegionTaken(ContractError):
    """Thrown when a region already has its voucher token."""

    region: int
    token: str


@register_error("FactoryZeroAdmin")
class FactoryZeroAdmin(ContractError):
    """Thrown when the municipality's admin is the zero address."""


@register_error("FailedCall")
class FailedCall(ContractError):
    """The contract reverted with FailedCall."""


@register_error("IdentityNoRecovery")
class IdentityNoRecovery(ContractError, LookupError):
    """Thrown when cancelling or finalising a recovery that was never started."""

    lost: str


@register_error("IdentityNotAuthorized")
class IdentityNotAuthorized(ContractError, PermissionError):
    """Thrown when someone other than a registrar or the lost wallet cancels a recovery."""

    caller: str


@register_error("IdentityRecovered")
class IdentityRecovered(ContractError):
    """Thrown when acting on a wallet whose recovery was finalised: it stays frozen."""

    lost: str
    to: str


@register_error("IdentityRecoveryInvalid")
class IdentityRecoveryInvalid(ContractError, ValueError):
    """Thrown when a recovery is invalid; `field` names the problem."""

    lost: str
    field: bytes


@register_error("IdentityRecoveryNotYetEffective")
class IdentityRecoveryNotYetEffective(ContractError):
    """Thrown when finalising a recovery before its delay has passed."""

    lost: str
    effective_at: int


@register_error("IdentityRecoveryPending")
class IdentityRecoveryPending(ContractError):
    """Thrown when a wallet already has a recovery under way."""

    lost: str


@register_error("InsufficientBalance")
class InsufficientBalance(ContractError):
    """The contract reverted with InsufficientBalance."""

    balance: int
    needed: int


@register_error("InvalidInitialization")
class InvalidInitialization(ContractError):
    """The contract reverted with InvalidInitialization."""


@register_error("InvalidShortString")
class InvalidShortString(ContractError):
    """The contract reverted with InvalidShortString."""


@register_error("MerkleProofInvalidMultiproof")
class MerkleProofInvalidMultiproof(ContractError):
    """The contract reverted with MerkleProofInvalidMultiproof."""


@register_error("NotInitializing")
class NotInitializing(ContractError):
    """The contract reverted with NotInitializing."""


@register_error("OwnableInvalidOwner")
class OwnableInvalidOwner(ContractError):
    """The contract reverted with OwnableInvalidOwner."""

    owner: str


@register_error("OwnableUnauthorizedAccount")
class OwnableUnauthorizedAccount(ContractError):
    """The contract reverted with OwnableUnauthorizedAccount."""

    account: str


@register_error("RewardAlreadyPaid")
class RewardAlreadyPaid(ContractError):
    """Thrown when an attestation id of a reward program was paid already."""

    program_id: int
    attestation_id: bytes


@register_error("RewardCapReached")
class RewardCapReached(ContractError):
    """Thrown when a reward would pay nothing: the person's caps or the budget are used."""

    program_id: int
    recipient: str


@register_error("RewardInvalidSignature")
class RewardInvalidSignature(ContractError, PermissionError):
    """Thrown when a reward's signature is not a REWARDER's."""

    program_id: int
    attestation_id: bytes


@register_error("RewardNotRewardProgram")
class RewardNotRewardProgram(ContractError):
    """Thrown when a program that is not a reward program is asked for a reward."""

    program_id: int


@register_error("StringTooLong")
class StringTooLong(ContractError):
    """The contract reverted with StringTooLong."""

    str: str


@register_error("TimelockInsufficientDelay")
class TimelockInsufficientDelay(ContractError):
    """The contract reverted with TimelockInsufficientDelay."""

    delay: int
    min_delay: int


@register_error("TimelockInvalidOperationLength")
class TimelockInvalidOperationLength(ContractError):
    """The contract reverted with TimelockInvalidOperationLength."""

    targets: int
    payloads: int
    values: int


@register_error("TimelockUnauthorizedCaller")
class TimelockUnauthorizedCaller(ContractError):
    """The contract reverted with TimelockUnauthorizedCaller."""

    caller: str


@register_error("TimelockUnexecutedPredecessor")
class TimelockUnexecutedPredecessor(ContractError):
    """The contract reverted with TimelockUnexecutedPredecessor."""

    predecessor_id: bytes


@register_error("TimelockUnexpectedOperationState")
class TimelockUnexpectedOperationState(ContractError):
    """The contract reverted with TimelockUnexpectedOperationState."""

    operation_id: bytes
    expected_states: bytes


@register_error("VoucherCancelExceedsPayment")
class VoucherCancelExceedsPayment(ContractError, ValueError):
    """Thrown when a cancellation would take back more than the payment's remainder."""

    payer: str
    seq: int
    would_be: int
    amount: int


@register_error("VoucherCategoryExcluded")
class VoucherCategoryExcluded(ContractError, PermissionError):
    """Thrown when purchased money would be spent at a merchant of an excluded category."""

    merchant: str
    category: int


@register_error("VoucherEmployeeLimitExceeded")
class VoucherEmployeeLimitExceeded(ContractError):
    """Thrown when an employee would spend over their own monthly limit."""

    employee: str
    would_be: int
    limit: int


@register_error("VoucherFundingPlanNotYetEffective")
class VoucherFundingPlanNotYetEffective(ContractError):
    """Thrown when activating a pending funding plan before its time."""

    effective_at: int


@register_error("VoucherInstitutionMonthlyCapExceeded")
class VoucherInstitutionMonthlyCapExceeded(ContractError):
    """Thrown when an institution would spend over its monthly limit."""

    institution: str
    would_be: int
    cap: int


@register_error("VoucherInvalidFundingPlan")
class VoucherInvalidFundingPlan(ContractError, ValueError):
    """Thrown when a funding plan is inconsistent; `field` names the problem."""

    field: bytes


@register_error("VoucherInvalidTerms")
class VoucherInvalidTerms(ContractError, ValueError):
    """Thrown when a merchant's extra discount or a platform's fee is out of bounds."""

    field: bytes


@register_error("VoucherInvoiceAlreadyPaid")
class VoucherInvoiceAlreadyPaid(ContractError, LookupError):
    """Thrown when an invoice (a non-zero payment id) of this merchant was paid already."""

    merchant: str
    invoice_id: bytes


@register_error("VoucherInvoiceAmountMismatch")
class VoucherInvoiceAmountMismatch(ContractError, ValueError):
    """Thrown when an invoice with an exact amount is paid another amount."""

    merchant: str
    invoice_id: bytes
    expected: int
    actual: int


@register_error("VoucherInvoiceCancelled")
class VoucherInvoiceCancelled(ContractError, LookupError):
    """Thrown when paying or cancelling an invoice its merchant cancelled."""

    merchant: str
    invoice_id: bytes


@register_error("VoucherInvoiceExists")
class VoucherInvoiceExists(ContractError):
    """Thrown when creating an invoice whose id this merchant has used."""

    merchant: str
    invoice_id: bytes


@register_error("VoucherInvoiceExpired")
class VoucherInvoiceExpired(ContractError):
    """Thrown when paying an invoice at or after its expiry."""

    merchant: str
    invoice_id: bytes
    expiry: int


@register_error("VoucherInvoiceNotOpen")
class VoucherInvoiceNotOpen(ContractError):
    """Thrown when cancelling an invoice that is not open."""

    merchant: str
    invoice_id: bytes


@register_error("VoucherInvoiceWrongPayer")
class VoucherInvoiceWrongPayer(ContractError, PermissionError):
    """Thrown when an invoice addressed to one payer is paid by another."""

    merchant: str
    invoice_id: bytes
    payer: str


@register_error("VoucherNoPendingFundingPlan")
class VoucherNoPendingFundingPlan(ContractError):
    """Thrown when activating or cancelling a funding plan with none pending."""


@register_error("VoucherNotEmployee")
class VoucherNotEmployee(ContractError, PermissionError):
    """Thrown when a wallet spends for an institution that has not authorised it."""

    employee: str
    institution: str


@register_error("VoucherNotInstitution")
class VoucherNotInstitution(ContractError, PermissionError):
    """Thrown when a wallet that is not an institution acts as one."""

    account: str


@register_error("VoucherNotPlatform")
class VoucherNotPlatform(ContractError, PermissionError):
    """Thrown when a payment names a platform that is not one."""

    account: str


@register_error("VoucherNotRecovered")
class VoucherNotRecovered(ContractError):
    """Thrown when moving a wallet's money before the registry finalised its recovery."""

    lost: str


# -- reverts that are not custom errors (chain.errors.GENERIC_REVERT_NAMES but ``Error``, whose
# name cannot be a useful class name; our contracts never revert with a string)


@register_error("Panic")
class Panic(ContractError):
    """A Solidity panic (assertion, arithmetic overflow...): a bug, never a rule."""

    arguments = (
        Argument("code", "panic_code", "uint256"),
        Argument("reason", "reason", "string"),
    )
    panic_code: int
    reason: str


# Signed payments (payBySig): the payer signed the payment for the token itself.


@register_error("VoucherSignedPaymentExpired")
class VoucherSignedPaymentExpired(ContractError):
    """Thrown when a signed payment is submitted after its deadline."""

    payer: str
    deadline: int


@register_error("VoucherInvalidPaymentNonce")
class VoucherInvalidPaymentNonce(ContractError):
    """Thrown when a signed payment's nonce is not the payer's next payment sequence: it was
    paid already, another payment of the payer came first, or it is ahead."""

    payer: str
    expected: int
    given: int


@register_error("VoucherInvalidPaymentSignature")
class VoucherInvalidPaymentSignature(ContractError, PermissionError):
    """Thrown when a signed payment's signature is malformed, malleable (high s) or not the
    payer's (another payer, city, chain, or altered fields)."""

    payer: str


@register_error("VoucherBatchLengthMismatch")
class VoucherBatchLengthMismatch(ContractError, ValueError):
    """Thrown when a batch of signed payments has not one signature per payment."""

    payments: int
    signatures: int


@register_error("EmptyRevert")
class EmptyRevert(ContractError):
    """The call reverted without data: usually out of gas (raise the request's gas)."""


@register_error("UnknownError")
class UnknownError(ContractError):
    """The call reverted with data the SDK's ABIs do not know (a newer contract?)."""


# ---------------------------------------------------------------------------------------------

_RENAMED: Final[Mapping[str, str]] = {"from": "from_", "status": "merchant_status"}
_SPECS: Final[Mapping[str, ErrorSpec]] = {spec.name: spec for spec in REGISTRY.values()}


def attribute_name(parameter: str) -> str:
    """The attribute a Solidity error parameter is exposed as: ``wouldBe`` -> ``would_be``."""
    name = _RENAMED.get(parameter, parameter)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _abi_arguments(spec: ErrorSpec) -> tuple[Argument, ...]:
    return tuple(
        Argument(name, attribute_name(name), kind)
        for name, kind in zip(spec.names, spec.types, strict=True)
    )


CONTRACT_ERRORS: Final[tuple[type[ContractError], ...]] = tuple(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, ContractError) and cls.code in _SPECS
)
"""The classes of contract custom errors; their typed arguments are read from the ABIs."""

for _cls in CONTRACT_ERRORS:
    _cls.arguments = _abi_arguments(_SPECS[_cls.code])
del _cls
