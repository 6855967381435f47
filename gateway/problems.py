"""RFC 9457 problem+json: the one place where errors become HTTP answers.

Every error the gateway answers with has a `code`: either a Solidity custom error name (the
same string the SDK maps to its exception class) or one of the gateway codes below. The HTTP
status of a code is decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

PROBLEM_BASE = "https://dongne.dev/problems/"
MEDIA_TYPE = "application/problem+json"

# Gateway codes (not on-chain errors) and their HTTP status.
GATEWAY_CODES: dict[str, int] = {
    "InvalidRequest": 400,  # schema, encoding, value != 0, gas out of range
    "RequestExpired": 400,  # deadline passed or too close to be relayed
    "WrongChain": 400,
    "InvalidSignature": 401,
    "SignerUnregistered": 403,
    "SignerFrozen": 403,
    "TargetNotAllowed": 403,
    "SelectorNotAllowed": 403,
    "NotFound": 404,
    "NonceTooLow": 409,
    "NonceConflict": 409,  # another request holds this signer's nonce
    "NonceTooHigh": 409,
    "PayloadTooLarge": 413,
    "RateLimited": 429,
    "NodeUnavailable": 503,
    "DatabaseUnavailable": 503,
    "NotReady": 503,
    # Final states of relayed requests (never an answer to a submission).
    "ForwarderSkipped": 422,  # the forwarder skipped it every time it was batched
    "ForwardedCallFailed": 422,  # it failed and its custom error could not be recovered
}
RETRYABLE = frozenset({"RateLimited", "NodeUnavailable", "DatabaseUnavailable", "NotReady"})
# A custom error from a contract means a rule rejected the request.
RULE_REJECTION_STATUS = 422


class Problem(Exception):  # noqa: N818 - RFC 9457 calls it a problem
    """An error answered as problem+json. Raise it anywhere in a request handler.

    `arguments` are the typed arguments of the error (a custom error's decoded args); they
    are not called `args`, which Exception already uses.
    """

    def __init__(
        self,
        code: str,
        detail: str,
        arguments: Mapping[str, object] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.arguments: dict[str, object] = dict(arguments or {})
        self.status = status

    @property
    def http_status(self) -> int:
        if self.status is not None:
            return self.status
        return GATEWAY_CODES.get(self.code, RULE_REJECTION_STATUS)

    def body(self) -> dict[str, object]:
        return {
            "type": PROBLEM_BASE + self.code,
            "title": self.code,
            "status": self.http_status,
            "detail": self.detail,
            "code": self.code,
            "args": self.arguments,
            "retryable": self.code in RETRYABLE,
        }

    def response(self) -> JSONResponse:
        headers = {"Retry-After": "1"} if self.code in RETRYABLE else None
        return JSONResponse(
            self.body(), status_code=self.http_status, media_type=MEDIA_TYPE, headers=headers
        )


async def problem_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return exc.response()


async def validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    return Problem(
        "InvalidRequest", f"{'.'.join(first['loc'])}: {first['msg']}", {"errors": errors}
    ).response()
