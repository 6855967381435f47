"""One exception class per code of the gateway's own checks (``gateway.errors.GATEWAY_CODES``)
and per final state the relayer gives a request it could not run."""

# The class names are the error codes of every layer (Solidity, gateway, SDK), not "...Error".
# ruff: noqa: N818

from __future__ import annotations

from wallet_sdk.exceptions.base import (
    Argument,
    GatewayError,
    GatewayUnavailableError,
    register_error,
)
from wallet_sdk.exceptions.contract import ContractError

__all__ = [
    "AccessError",
    "AuthExpired",
    "AuthInvalid",
    "AuthRequired",
    "DatabaseUnavailable",
    "DeadlineTooFar",
    "DistributionBusy",
    "DistributionCommitted",
    "DistributionNotCommitted",
    "DistributionRootMismatch",
    "DuplicateRow",
    "Forbidden",
    "ForwardedCallFailed",
    "ForwarderSkipped",
    "GasTooLow",
    "GrantBatchReverted",
    "IdempotencyKeyReused",
    "ImportFileChanged",
    "InternalError",
    "InvalidAddress",
    "InvalidBusinessNumber",
    "InvalidField",
    "InvalidMerchantProfile",
    "InvalidRequest",
    "InvalidSignature",
    "LoginThrottled",
    "MerchantApplicationExists",
    "MerchantApplicationNotFound",
    "MerchantApplicationState",
    "MerchantNotVerified",
    "MethodNotAllowed",
    "NodeUnavailable",
    "NonceConflict",
    "NonceError",
    "NonceGap",
    "NonceTooHigh",
    "NonceTooLow",
    "NotFound",
    "NotReady",
    "Overloaded",
    "PayloadTooLarge",
    "PaymentProviderUnavailable",
    "PaymentRefused",
    "PaymentSkipped",
    "PurchaseOrderState",
    "RateLimited",
    "RelayerBusy",
    "RequestExpired",
    "RoleRequired",
    "RouteNotFound",
    "SaleNotOffered",
    "SelectorNotAllowed",
    "SettlementAlreadyPaid",
    "SettlementOverlap",
    "SettlementUnreconciled",
    "SettlementWindowOpen",
    "SignerFrozen",
    "SignerThrottled",
    "SignerUnregistered",
    "SiweInvalid",
    "StaffActionUnverified",
    "StateConflict",
    "TargetNotAllowed",
    "WebhookRejected",
    "WindowTooLarge",
    "WrongChain",
]


# -- the gateway's own codes (gateway/problems.py GATEWAY_CODES) ------------------------------


@register_error("InvalidRequest")
class InvalidRequest(GatewayError, ValueError):
    """The request is malformed: schema, encoding, value not 0, gas out of range."""

    default_status = 400


@register_error("InvalidBusinessNumber")
class InvalidBusinessNumber(GatewayError, ValueError):
    """A business registration number (사업자등록번호) is not ten digits or fails its check."""

    default_status = 400
    arguments = (Argument("business_number", "business_number", "string"),)
    business_number: str


@register_error("InvalidMerchantProfile")
class InvalidMerchantProfile(GatewayError, ValueError):
    """A field of a merchant's profile fails its check; ``field`` names it."""

    default_status = 400
    arguments = (Argument("field", "field", "string"),)
    field: str


@register_error("InvalidAddress")
class InvalidAddress(GatewayError, ValueError):
    """A bulk import's wallet is not a 20-byte hex address, or fails its EIP-55 checksum."""

    default_status = 400


@register_error("InvalidField")
class InvalidField(GatewayError, ValueError):
    """A bulk import's column holds a value its rule refuses (the detail names both)."""

    default_status = 400


@register_error("RequestExpired")
class RequestExpired(GatewayError, ValueError):
    """The deadline has passed, or is too close for the gateway to relay the request."""

    default_status = 400
    arguments = (Argument("deadline", "deadline", "uint48"), Argument("now", "now", "uint64"))
    deadline: int
    now: int


@register_error("WrongChain")
class WrongChain(GatewayError, ValueError):
    """The request (or a scanned payment code) is for another chain than the gateway's."""

    default_status = 400


@register_error("InvalidSignature")
class InvalidSignature(GatewayError, ValueError):
    """The EIP-712 signature is malformed or was not made by the request's sender."""

    default_status = 401
    arguments = (Argument("reason", "reason", "string"),)
    reason: str


@register_error("SignerUnregistered")
class SignerUnregistered(GatewayError, PermissionError):
    """The signing wallet is not in the identity registry (no KYC yet)."""

    default_status = 403
    arguments = (Argument("signer", "signer", "address"),)
    signer: str


@register_error("SignerFrozen")
class SignerFrozen(GatewayError, PermissionError):
    """The signing wallet is frozen in the identity registry."""

    default_status = 403
    arguments = (Argument("signer", "signer", "address"),)
    signer: str


@register_error("TargetNotAllowed")
class TargetNotAllowed(GatewayError, PermissionError):
    """The request's target is not a municipal voucher token the gateway relays to."""

    default_status = 403
    arguments = (Argument("to", "to", "address"),)
    to: str


@register_error("SelectorNotAllowed")
class SelectorNotAllowed(GatewayError, PermissionError):
    """The function called is not on the gateway's allowlist."""

    default_status = 403
    arguments = (Argument("selector", "selector", "bytes4"),)
    selector: bytes


class AccessError(GatewayError, PermissionError):
    """Who is calling does not satisfy the route's policy: sign in, or use another key."""


@register_error("AuthRequired")
class AuthRequired(AccessError):
    """The route needs a sign-in (``client.login()``) or an API key."""

    default_status = 401


@register_error("AuthExpired")
class AuthExpired(AccessError):
    """The access token (or API key) has expired: refresh it or sign in again."""

    default_status = 401


@register_error("AuthInvalid")
class AuthInvalid(AccessError):
    """The token or API key is not the gateway's, was tampered with, or was revoked."""

    default_status = 401


@register_error("SiweInvalid")
class SiweInvalid(AccessError):
    """The sign-in message failed a check: ``check`` names it (domain, uri, chain_id, nonce,
    issued_at, expired, not_before, signature, malformed)."""

    default_status = 401
    arguments = (Argument("check", "check", "string"),)
    check: str


@register_error("RoleRequired")
class RoleRequired(AccessError):
    """Signed in, but without the on-chain role the route needs in that municipality."""

    default_status = 403
    arguments = (Argument("role", "role", "string"), Argument("token", "token", "string"))
    role: str
    token: str


@register_error("Forbidden")
class Forbidden(AccessError):
    """Signed in, asking for someone else's data."""

    default_status = 403


@register_error("LoginThrottled")
class LoginThrottled(AccessError):
    """Too many failed sign-ins from this address or client: wait ``retry_after`` seconds."""

    default_status = 429
    arguments = (Argument("retry_after", "retry_after", "uint64"),)
    retry_after: int


@register_error("GasTooLow")
class GasTooLow(GatewayError, ValueError):
    """The gas signed into the request does not cover its call; sign with more gas."""

    default_status = 400
    arguments = (Argument("gas", "gas", "uint256"),)
    gas: int


@register_error("DeadlineTooFar")
class DeadlineTooFar(GatewayError, ValueError):
    """The request's deadline is further ahead than the gateway holds requests."""

    default_status = 400
    arguments = (Argument("deadline", "deadline", "uint48"), Argument("max", "max", "uint64"))
    deadline: int
    max: int


@register_error("SignerThrottled")
class SignerThrottled(GatewayError):
    """This signer asked for more gas than its budget for the window; wait ``retry_after``."""

    default_status = 429
    arguments = (
        Argument("signer", "signer", "address"),
        Argument("retry_after", "retry_after", "uint64"),
    )
    signer: str
    retry_after: int


@register_error("WindowTooLarge")
class WindowTooLarge(GatewayError, ValueError):
    """The report's time window is longer than the gateway serves at once: split it."""

    default_status = 400
    arguments = (Argument("max_days", "max_days", "uint64"),)
    max_days: int


@register_error("RouteNotFound")
class RouteNotFound(GatewayError, LookupError):
    """No such path on this gateway (an older gateway, or a typo in the URL)."""

    default_status = 404


@register_error("MethodNotAllowed")
class MethodNotAllowed(GatewayError, ValueError):
    """The path exists, but not for this HTTP method."""

    default_status = 405


@register_error("InternalError")
class InternalError(GatewayError):
    """The gateway failed unexpectedly; ``request_id`` names its log line."""

    default_status = 500
    arguments = (Argument("request_id", "internal_request_id", "string"),)
    internal_request_id: str


@register_error("NotFound")
class NotFound(GatewayError, LookupError):
    """No such request, wallet, token or program (or the gateway lacks the endpoint)."""

    default_status = 404


class StateConflict(GatewayError):
    """The request is well formed but the state does not allow it (yet): HTTP 409."""

    default_status = 409


@register_error("DistributionNotCommitted")
class DistributionNotCommitted(StateConflict):
    """The distribution's root is not committed on chain yet; commit it, then push."""


@register_error("DistributionRootMismatch")
class DistributionRootMismatch(StateConflict):
    """The program committed on chain has another root than the job's tree."""


@register_error("DuplicateRow")
class DuplicateRow(StateConflict):
    """A bulk import lists the wallet again; its earlier line is the one imported."""


@register_error("ImportFileChanged")
class ImportFileChanged(StateConflict):
    """An import job resumed with another file (or kind, or city) than it started with."""


@register_error("DistributionBusy")
class DistributionBusy(StateConflict):
    """Another pusher holds this distribution job's lease; try again later."""


@register_error("DistributionCommitted")
class DistributionCommitted(StateConflict):
    """The distribution job is already committed as a program; push it, do not commit again."""


@register_error("GrantBatchReverted")
class GrantBatchReverted(StateConflict):
    """A grantBatch transaction of the push reverted; the job records why."""


@register_error("MerchantApplicationNotFound")
class MerchantApplicationNotFound(GatewayError, LookupError):
    """The wallet has no merchant profile (no application) in that municipality."""

    default_status = 404


@register_error("MerchantApplicationExists")
class MerchantApplicationExists(StateConflict):
    """The wallet already has an open (or accepted) application in that municipality."""

    arguments = (Argument("status", "application_status", "string"),)
    application_status: str  # the application's state (``status`` is the HTTP one)


@register_error("MerchantApplicationState")
class MerchantApplicationState(StateConflict):
    """The application's state does not allow this review (e.g. rejecting a registered shop)."""

    arguments = (Argument("status", "application_status", "string"),)
    application_status: str  # the application's state (``status`` is the HTTP one)


@register_error("MerchantNotVerified")
class MerchantNotVerified(StateConflict):
    """The wallet is not registered as a merchant in the identity registry (KYC) yet; a
    citizen's or institution's wallet never becomes one: apply with a merchant wallet."""

    arguments = (Argument("merchant", "merchant", "address"),)
    merchant: str


@register_error("SettlementWindowOpen")
class SettlementWindowOpen(StateConflict):
    """The settlement window has not closed yet."""


@register_error("SettlementOverlap")
class SettlementOverlap(StateConflict):
    """The settlement window overlaps a batch already issued."""


@register_error("SettlementAlreadyPaid")
class SettlementAlreadyPaid(StateConflict):
    """The bank already confirmed paying this settlement batch's file."""


@register_error("SettlementUnreconciled")
class SettlementUnreconciled(StateConflict):
    """The index does not reconcile with the chain for this window."""


class NonceError(GatewayError, ValueError):
    """The request's forwarder nonce cannot be used; sign again with a fresh nonce."""

    default_status = 409


@register_error("NonceTooLow")
class NonceTooLow(NonceError):
    """The nonce was already used: a replayed request, or another device of the same wallet."""

    arguments = (
        Argument("nonce", "nonce", "uint256"),
        Argument("next", "next_nonce", "uint256"),
    )
    nonce: int
    next_nonce: int


@register_error("NonceConflict")
class NonceConflict(NonceError):
    """Another request in flight holds this nonce."""

    arguments = (
        Argument("nonce", "nonce", "uint256"),
        Argument("request", "held_by", "string"),
    )
    nonce: int
    held_by: str  # the id of the request holding the nonce


@register_error("NonceGap")
class NonceGap(NonceError):
    """An earlier request of this wallet failed before it was sent: this nonce cannot run.
    Sign again from the gateway's next nonce."""


@register_error("NonceTooHigh")
class NonceTooHigh(NonceError):
    """The nonce is too far ahead of the next executable one."""

    arguments = (
        Argument("nonce", "nonce", "uint256"),
        Argument("next", "next_nonce", "uint256"),
    )
    nonce: int
    next_nonce: int


@register_error("PayloadTooLarge")
class PayloadTooLarge(GatewayError, ValueError):
    """The request body is over the gateway's size limit."""

    default_status = 413


@register_error("RateLimited")
class RateLimited(GatewayUnavailableError):
    """Too many requests from this signer just now; retry after a moment."""

    default_status = 429
    arguments = (Argument("signer", "signer", "address"),)
    signer: str


@register_error("RelayerBusy")
class RelayerBusy(GatewayUnavailableError):
    """The relayer holds as many requests as it may: retry after a moment."""

    default_status = 503


@register_error("Overloaded")
class Overloaded(GatewayUnavailableError):
    """The gateway sheds load: its intake is full or its backlog would take too long to drain.
    Nothing was stored: send the same signed request again after ``retry_after_ms``
    milliseconds (spread by the gateway so that wallets refused together do not return
    together; ``retry_after_s`` is it in whole seconds, rounded up, as in Retry-After). The
    clients do, with backoff; it cannot run the request twice."""

    default_status = 503
    arguments = (
        Argument("reason", "reason", "string"),
        Argument("retry_after", "retry_after_s", "uint64"),
        Argument("retry_after_ms", "retry_after_ms", "uint64"),
    )
    reason: str
    retry_after_s: int
    retry_after_ms: int


@register_error("NodeUnavailable")
class NodeUnavailable(GatewayUnavailableError):
    """The gateway cannot reach its chain node."""


@register_error("DatabaseUnavailable")
class DatabaseUnavailable(GatewayUnavailableError):
    """The gateway cannot reach its database."""


@register_error("NotReady")
class NotReady(GatewayUnavailableError):
    """The gateway is starting (nothing indexed yet)."""


# -- final states the relayer gives a request it could not run (not HTTP answers)


@register_error("ForwarderSkipped")
class ForwarderSkipped(GatewayError):
    """The forwarder skipped the request at every attempt (its signature or nonce was invalid
    on chain when its turn came)."""

    default_status = 422

    arguments = (Argument("attempts", "attempts", "uint256"),)
    attempts: int


@register_error("PaymentSkipped")
class PaymentSkipped(GatewayError):
    """The token skipped the signed payment (or its batch failed) at every attempt, and no
    transaction carrying its signature paid it: the payment sequence did not move for it."""

    default_status = 422

    arguments = (
        Argument("attempts", "attempts", "uint256"),
        Argument("nonce", "nonce", "uint256"),
    )
    attempts: int
    nonce: int


@register_error("StaffActionUnverified")
class StaffActionUnverified(GatewayError, ValueError):
    """The transaction posted for the staff log is unknown, reverted, sent to another
    contract, or not a staff operation: the chain does not show it as one."""

    default_status = 400


@register_error("ForwardedCallFailed")
class ForwardedCallFailed(ContractError):
    """The call failed on chain and the gateway could not tell why."""


# -- in-app purchases -------------------------------------------------------------------------


@register_error("SaleNotOffered")
class SaleNotOffered(StateConflict):
    """The city sells no vouchers in the app now (no sale discount set, or sales paused)."""


@register_error("IdempotencyKeyReused")
class IdempotencyKeyReused(StateConflict):
    """This Idempotency-Key already made another order (another token or face value)."""

    arguments = (Argument("order_id", "order_id", "string"),)
    order_id: str


@register_error("PurchaseOrderState")
class PurchaseOrderState(StateConflict):
    """The purchase order's state does not allow this (e.g. cancelling a paid order)."""

    arguments = (Argument("state", "state", "string"),)
    state: str


@register_error("WebhookRejected")
class WebhookRejected(AccessError):
    """A payment provider's webhook failed its HMAC or timestamp check."""

    default_status = 401


@register_error("PaymentRefused")
class PaymentRefused(GatewayError):
    """The payment provider refused to open a virtual account for the order."""

    default_status = 502


@register_error("PaymentProviderUnavailable")
class PaymentProviderUnavailable(GatewayUnavailableError):
    """The payment provider cannot be reached; repeat the call with the same Idempotency-Key."""
