"""RFC 9457 problem+json: where a :class:`~gateway.errors.GatewayError` becomes an HTTP answer.

The handlers are registered once, by ``gateway.http.app``; the status of each code comes from
``gateway.errors``' table.
"""

from __future__ import annotations

import logging
import math
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

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
    headers = {"Retry-After": str(retry_after_s(error))} if error.retryable else None
    return JSONResponse(
        problem_body(error), status_code=error.status, media_type=MEDIA_TYPE, headers=headers
    )


def retry_after_s(error: GatewayError) -> int:
    """Whole seconds to wait: the service's own estimate (``args.retry_after``, e.g. the
    relayer's backlog over its drain rate) or one second."""
    hint = error.arguments.get("retry_after")
    if isinstance(hint, int | float) and not isinstance(hint, bool) and hint > 0:
        return max(1, math.ceil(hint))
    return 1


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
    # The first offending field by name, as the routes' own checks report it.
    args: dict[str, object] = {"errors": errors}
    if first["loc"]:
        args["field"] = first["loc"][-1]
        raw = exc.errors()[0].get("input")
        if isinstance(raw, str | int | float | bool):
            args["value"] = str(raw)[:100]
    detail = f"{'.'.join(first['loc'])}: {first['msg']}"
    return problem_response(GatewayError("InvalidRequest", detail, args))


log = logging.getLogger("dongne.gateway")

# Starlette's own answers (no route, wrong method) as problem codes.
_HTTP_CODES = {404: "RouteNotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


async def http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "InvalidRequest")
    detail = f"{request.method} {request.url.path}: {exc.detail}"
    response = problem_response(GatewayError(code, detail, {"path": request.url.path}))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; a path has a route per
        # method here, so Allow lists every one of them.
        response.headers["Allow"] = ", ".join(_methods_of(request))
    return response


def _methods_of(request: Request) -> list[str]:
    from gateway.http.access import served_routes  # the route walk lives with the policies

    methods: set[str] = set()
    for route in served_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(route.methods or ())
    return sorted(methods)


async def internal_handler(request: Request, exc: Exception) -> JSONResponse:
    """The last resort: anything unexpected is a problem+json 500 whose request id is in the
    log line with the traceback. The target is that none happens."""
    rid = request.headers.get("x-request-id") or uuid.uuid4().hex
    log.error("internal error %s on %s %s", rid, request.method, request.url.path, exc_info=exc)
    detail = f"the gateway failed; quote request id {rid}"
    return problem_response(GatewayError("InternalError", detail, {"request_id": rid}))


def install_problem_handlers(app: FastAPI) -> None:
    """Registers the problem+json handlers on `app` (the gateway app, or a test's app)."""
    app.add_exception_handler(GatewayError, problem_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(HTTPException, http_handler)
    app.add_exception_handler(Exception, internal_handler)
