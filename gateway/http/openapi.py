"""The OpenAPI document, made to tell the truth: who may call each route, and every problem
code each route can answer with, under the status it comes with.

A route declares the codes its own work can raise with ``openapi_extra=codes(...)``; the codes
its shape implies are added here, so they are written once:

- a parameter or a body: ``InvalidRequest`` (400, the field path in ``args``);
- a body: ``PayloadTooLarge`` (413);
- a policy that needs credentials: ``AuthRequired``/``AuthExpired``/``AuthInvalid`` (401), and
  ``RoleRequired`` or ``Forbidden`` (403) as the policy decides.

FastAPI's own 422 ``HTTPValidationError`` is dropped: the gateway never sends it (validation
errors are problem+json 400). ``x-dongne-codes`` keeps the full list on each operation, which
``tests/gateway/http/test_openapi.py`` checks against the error table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from chain.protocol.errors import ERROR_CODES, GENERIC_REVERT_NAMES
from gateway.errors import GatewayError, status_of
from gateway.http.access import POLICIES
from gateway.http.problems import MEDIA_TYPE, problem_body

__all__ = ["CODES_KEY", "CONTRACT_CODES", "codes", "describe"]

CODES_KEY = "x-dongne-codes"
CONTRACT_CODES: tuple[str, ...] = tuple(sorted(ERROR_CODES | GENERIC_REVERT_NAMES))
"""What a contract can answer a simulated request with (422): every custom error."""

_AUTH = ("AuthRequired", "AuthExpired", "AuthInvalid")
_POLICY_CODES: dict[str, tuple[str, ...]] = {
    "public": (),
    "signed": (),
    "authenticated": _AUTH,
    "operator": (*_AUTH, "RoleRequired"),
    "role": (*_AUTH, "RoleRequired"),
    "self": (*_AUTH, "Forbidden"),
    "merchant_self": (*_AUTH, "Forbidden"),
}

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. ``code`` is a gateway code or a contract's "
    "custom error name, and the SDK's exception class of the same name.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "args", "retryable"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "args": {"type": "object", "additionalProperties": True},
        "retryable": {"type": "boolean"},
    },
}


_REQUEST_ID_HEADER: dict[str, Any] = {
    "description": "the caller's X-Request-ID (up to 128 of A-Za-z0-9._:-) or a new one; the "
    "gateway's log lines for this call, and a relayed request's batch line, carry it",
    "schema": {"type": "string", "maxLength": 128},
}


def codes(*names: str) -> dict[str, Any]:
    """A route's own problem codes, for ``openapi_extra`` (merge with other extras)."""
    return {CODES_KEY: list(names)}


def _implied(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if operation.get("parameters") or operation.get("requestBody"):
        found.append("InvalidRequest")
    if operation.get("requestBody"):
        found.append("PayloadTooLarge")
    entry = POLICIES.get((method.upper(), path))
    if entry is not None:
        found.extend(_POLICY_CODES[entry.policy.kind])
    return found


def _security(method: str, path: str, operation: dict[str, Any]) -> None:
    entry = POLICIES.get((method.upper(), path))
    if entry is None:
        return
    kind = entry.policy.kind
    operation["x-dongne-policy"] = str(entry.policy)
    if kind in ("public", "signed"):
        operation["security"] = []
    elif kind in ("self", "authenticated"):
        operation["security"] = [{"signIn": []}]
    else:
        operation["security"] = [{"signIn": []}, {"apiKey": []}]


def _problem_responses(names: Iterable[str]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for name in dict.fromkeys(names):  # keeps the first mention's order, drops repeats
        by_status.setdefault(status_of(name), []).append(name)
    answers: dict[str, Any] = {}
    for status, group in sorted(by_status.items()):
        example = problem_body(GatewayError(group[0], f"(an example of {group[0]})"))
        schema = {
            "allOf": [
                {"$ref": "#/components/schemas/Problem"},
                {"properties": {"code": {"enum": group}}},
            ]
        }
        answers[str(status)] = {
            "description": ", ".join(group) if len(group) <= 8 else f"{len(group)} codes",
            "content": {MEDIA_TYPE: {"schema": schema, "example": example}},
        }
    return answers


def describe(app: FastAPI) -> None:
    """Replaces ``app.openapi`` with the generator of the truthful document (cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["Problem"] = _PROBLEM_SCHEMA
        components["securitySchemes"] = {
            "signIn": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "an access token from POST /v1/auth/login (SIWE)"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                       "description": "a municipality's service key (dongne api-key create)"},
        }  # fmt: skip
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict):
                    continue
                _security(method, path, operation)
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)  # FastAPI's; ours are problem+json 400s
                names = [*_implied(method, path, operation), *operation.get(CODES_KEY, [])]
                operation[CODES_KEY] = list(dict.fromkeys(names))
                for status, answer in _problem_responses(names).items():
                    responses.setdefault(status, answer)
                for answer in responses.values():  # every answer (gateway.http.telemetry)
                    answer.setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_HEADER
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
