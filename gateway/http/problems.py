"""RFC 9457 problem+json: where a :class:`~gateway.errors.GatewayError` becomes an HTTP answer.

The handlers are registered once, by ``gateway.http.app``; the status of each code comes from
``gateway.errors``' table.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gateway.errors import GatewayError

__all__ = [
    "MEDIA_TYPE",
    "PROBLEM_BASE",
    "install_problem_handlers",
    "problem_body",
    "problem_response",
]

PROBLEM_BASE = "https://dongne.dev/problems/"
MEDIA_TYPE = "application/problem+json"


def problem_body(error: GatewayError) -> dict[str, object]:
    return {
        "type": PROBLEM_BASE + error.code,
        "title": error.code,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "args": error.arguments,
        "retryable": error.retryable,
    }


def problem_response(error: GatewayError) -> JSONResponse:
    headers = {"Retry-After": "1"} if error.retryable else None
    return JSONResponse(
        problem_body(error), status_code=error.status, media_type=MEDIA_TYPE, headers=headers
    )


async def problem_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    return problem_response(exc)


async def validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    return problem_response(
        GatewayError(
            "InvalidRequest", f"{'.'.join(first['loc'])}: {first['msg']}", {"errors": errors}
        )
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Registers the problem+json handlers on `app` (the gateway app, or a test's app)."""
    app.add_exception_handler(GatewayError, problem_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)
