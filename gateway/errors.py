"""The gateway's error vocabulary: one exception and ONE table of codes -> HTTP status.

Every error the gateway answers with has a `code`: either a Solidity custom error name (the
same string the SDK maps to its exception class) or one of the gateway codes below. Services
raise :class:`GatewayError` without knowing about HTTP; ``gateway.http.problems`` turns it into
RFC 9457 problem+json using this table, which is the only place a code gets its status.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "CONTRACT_STATUS",
    "GATEWAY_CODES",
    "RETRYABLE",
    "RULE_REJECTION_STATUS",
    "GatewayError",
    "status_of",
]

# Gateway codes (not on-chain errors) and their HTTP status.
GATEWAY_CODES: dict[str, int] = {
    "InvalidRequest": 400,  # schema, encoding, value != 0, gas out of range
    "GasTooLow": 400,  # the request's own gas does not cover its call (simulated with it)
    "DeadlineTooFar": 400,  # over max_deadline_s ahead: requests do not park for ever
    "WindowTooLarge": 400,  # a report's [since, until) longer than the window cap
    "RequestExpired": 400,  # deadline passed or too close to be relayed
    "WrongChain": 400,
    "InvalidBusinessNumber": 400,  # a 사업자등록번호 that is not ten digits or fails its check
    "InvalidMerchantProfile": 400,  # a merchant profile's field fails its check (args.field)
    # A bulk import's row (gateway.onboarding): reported on its line, the next rows go on.
    "InvalidAddress": 400,  # not a 20-byte hex address, or a mixed-case one failing EIP-55
    "InvalidField": 400,  # a column's value (``detail`` names the column and the rule)
    "DuplicateRow": 409,  # the wallet is on an earlier line of the same file
    # A transaction posted for the staff log that the chain does not show as a staff action:
    # unknown, reverted, sent elsewhere, or not a staff operation.
    "StaffActionUnverified": 400,
    "InvalidSignature": 401,
    # Who is calling (gateway.access): sign-in, tokens, API keys, policies.
    "AuthRequired": 401,  # no credentials on a route that needs them
    "AuthExpired": 401,  # an access token past its expiry: refresh or sign in again
    "AuthInvalid": 401,  # a token or API key that is not ours, tampered, or revoked
    "SiweInvalid": 401,  # a sign-in message that fails a check (``args.check`` says which)
    "RoleRequired": 403,  # signed in, without the role the route needs in that municipality
    "Forbidden": 403,  # signed in, asking for someone else's data
    "SignerUnregistered": 403,
    "SignerFrozen": 403,
    "TargetNotAllowed": 403,
    "SelectorNotAllowed": 403,
    "NotFound": 404,
    "MerchantApplicationNotFound": 404,  # no profile of that wallet in that municipality
    "RouteNotFound": 404,  # no such path
    "MethodNotAllowed": 405,
    "NonceTooLow": 409,
    "NonceConflict": 409,  # another request holds this signer's nonce
    "NonceTooHigh": 409,
    # A final state: an earlier request of the signer failed before it was sent, so this
    # one's nonce cannot run until the wallet signs that nonce again.
    "NonceGap": 409,
    # Distribution jobs and settlement batches: the request is fine, the state is not (yet).
    "DistributionNotCommitted": 409,
    "DistributionRootMismatch": 409,
    "DistributionBusy": 409,
    # The job's root is already committed as a program (or the job is past `built`):
    # committing it again would make a second program for the same list.
    "DistributionCommitted": 409,
    "GrantBatchReverted": 409,
    "ImportFileChanged": 409,  # resuming an import job with another file than it started with
    "SettlementWindowOpen": 409,
    "SettlementOverlap": 409,
    "SettlementUnreconciled": 409,
    # Merchant applications (gateway.registry): one open application per wallet and city,
    # and a review only from the state that allows it (args.status is the current one).
    "MerchantApplicationExists": 409,
    "MerchantApplicationState": 409,
    "SettlementAlreadyPaid": 409,  # the bank confirmed this batch's file before
    # In-app purchases (gateway.purchase).
    "SaleNotOffered": 409,  # the city sells no vouchers in the app (no discount set, paused)
    "IdempotencyKeyReused": 409,  # an Idempotency-Key that already made another order
    "PurchaseOrderState": 409,  # the order's state does not allow it (cancel a paid order)
    "WebhookRejected": 401,  # a provider webhook whose HMAC or timestamp does not check out
    "PaymentRefused": 502,  # the payment provider refused to open a virtual account
    "PaymentProviderUnavailable": 503,  # the provider is unreachable: retry, same key
    # The wallet is not (yet) verified as a merchant in the identity registry: a KYC registrar
    # registers it first (a citizen's or institution's wallet never becomes a merchant).
    "MerchantNotVerified": 409,
    "PayloadTooLarge": 413,
    "RateLimited": 429,
    "SignerThrottled": 429,  # the signer's gas budget for the window is spent
    "LoginThrottled": 429,  # too many sign-in attempts from one address or client
    "InternalError": 500,  # a bug: the answer carries the request id the log line names
    "NodeUnavailable": 503,
    "DatabaseUnavailable": 503,
    "NotReady": 503,
    "RelayerBusy": 503,  # too many requests held: back off and retry
    # Shed before any expensive work: the intake is full, or the backlog would take longer
    # than the limit to drain; Retry-After (args.retry_after) says when to come back.
    "Overloaded": 503,
    # Final states of relayed requests (never an answer to a submission).
    "ForwarderSkipped": 422,  # the forwarder skipped it every time it was batched
    # A signed payment the token skipped (or whose batch failed) every time it was batched,
    # and that no transaction carrying its signature paid.
    "PaymentSkipped": 422,
    "ForwardedCallFailed": 422,  # it failed and its custom error could not be recovered
}
RETRYABLE = frozenset(
    {
        "RateLimited",
        "NodeUnavailable",
        "DatabaseUnavailable",
        "NotReady",
        "RelayerBusy",
        "PaymentProviderUnavailable",
        "Overloaded",
    }
)
# A custom error from a contract means a rule rejected the request.
RULE_REJECTION_STATUS = 422
# Custom errors the gateway also raises itself, at intake, whose meaning is not a rule's: a
# signed payment's signature is not the payer's (authentication), or its nonce is not the
# payer's next (a conflict, as NonceTooLow and NonceConflict for forwarder requests). Any
# other custom error (VoucherSignedPaymentExpired included) is a rule rejection, 422.
CONTRACT_STATUS: dict[str, int] = {
    "VoucherInvalidPaymentSignature": 401,
    "VoucherInvalidPaymentNonce": 409,
}


def status_of(code: str) -> int:
    """The HTTP status of `code`: the tables', or 422 for a contract's custom error."""
    return GATEWAY_CODES.get(code) or CONTRACT_STATUS.get(code, RULE_REJECTION_STATUS)


class GatewayError(Exception):
    """An error a service reports to its caller, by code. Raise it anywhere below the HTTP face.

    `arguments` are the typed arguments of the error (a custom error's decoded args); they
    are not called `args`, which Exception already uses.
    """

    def __init__(
        self, code: str, detail: str, arguments: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.arguments: dict[str, object] = dict(arguments or {})

    @property
    def status(self) -> int:
        return status_of(self.code)

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE
