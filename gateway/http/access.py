"""Who may call what, over HTTP: the ONE policy table and the ONE dependency enforcing it.

Every route of the app has an entry in :data:`POLICIES`, keyed by method and path template
(``tests/http/test_access.py`` walks the app and fails on a route without one). The
dependency :func:`enforce` runs before every handler: it reads the caller's credentials
(``Authorization: Bearer <access token>`` from sign-in, or ``X-API-Key: dk_...``), resolves
their on-chain roles, finds the municipality and the person the route is about, and asks
:func:`gateway.access.policies.authorize`. A read of a person's or a shop's data by anyone
else is written to the personal-data access log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine, select
from starlette.routing import BaseRoute

from chain.manifest import Manifest
from chain.protocol.staff import OPERATIONS, StaffOperation
from gateway.access import api_keys, data_log, staff_log
from gateway.access.api_keys import SETTLEMENT_BANK
from gateway.access.policies import (
    AUTHENTICATED,
    MERCHANT_SELF,
    PUBLIC,
    SELF,
    SIGNED,
    Policy,
    Principal,
    auditor,
    authorize,
    merchant_self,
    role,
)
from gateway.access.roles import RoleBook
from gateway.access.signin import SignIn
from gateway.access.tokens import TokenSigner
from gateway.db.tables import distribution as d
from gateway.errors import GatewayError
from gateway.settings import Settings

__all__ = [
    "POLICIES",
    "Access",
    "RouteAccess",
    "enforce",
    "principal_of",
    "record_staff_action",
    "served_routes",
    "staff_path",
]

# "registry": the route is about the network's identity registry (its KYC registrars' roles).
TokenFrom = Literal["path", "query", "job", "registry", None]
SubjectFrom = Literal["address", "merchant", "recipient", "institution", None]


@dataclass(frozen=True, slots=True)
class RouteAccess:
    policy: Policy
    token_from: TokenFrom = None  # where the route names its municipality
    subject_from: SubjectFrom = None  # the path parameter naming whose data it is


_PROGRAMS = role("PROGRAM_MANAGER_ROLE", "AUDITOR_ROLE")
_FRAUD_READ = role("AUDITOR_ROLE", "FRAUD_OFFICER_ROLE", "DEFAULT_ADMIN_ROLE")
_FRAUD_WRITE = role("FRAUD_OFFICER_ROLE", "DEFAULT_ADMIN_ROLE")
_MERCHANT_BOOK = role(
    "MERCHANT_REGISTRAR_ROLE", "DEFAULT_ADMIN_ROLE", "AUDITOR_ROLE", "FRAUD_OFFICER_ROLE"
)
_REGISTRY_READERS = ("MERCHANT_REGISTRAR_ROLE", "DEFAULT_ADMIN_ROLE", "AUDITOR_ROLE")
_REGISTRY_STAFF = role(*_REGISTRY_READERS)

POLICIES: dict[tuple[str, str], RouteAccess] = {
    # Relay: a signed request authenticates itself; its id is a capability (a hash only the
    # submitter knows), so its state is readable by whoever holds the id.
    ("POST", "/v1/requests"): RouteAccess(SIGNED),
    ("POST", "/v1/payments"): RouteAccess(SIGNED),  # a signed payment, the same way
    ("GET", "/v1/requests/{request_id}"): RouteAccess(PUBLIC),
    ("GET", "/v1/network"): RouteAccess(PUBLIC),
    ("GET", "/v1/nonces/{address}"): RouteAccess(PUBLIC),
    # Aggregates: no per-person rows.
    ("GET", "/v1/tokens"): RouteAccess(PUBLIC),
    ("GET", "/v1/tokens/{token}/dashboard"): RouteAccess(PUBLIC),
    ("GET", "/v1/tokens/{token}/series"): RouteAccess(PUBLIC),  # daily sums of the same figures
    ("GET", "/v1/tokens/{token}/rules"): RouteAccess(PUBLIC),  # public on chain
    # The register of shops, for the staff who keep it and the city's auditors.
    ("GET", "/v1/tokens/{token}/merchants"): RouteAccess(_MERCHANT_BOOK, "path"),
    ("GET", "/v1/tokens/{token}/merchants/{merchant}/call"): RouteAccess(
        role("MERCHANT_REGISTRAR_ROLE"), "path"
    ),
    # The merchant registry: a shop applies with its own wallet; the registrar reviews; the
    # directory shows public columns only; the full profile (contact, bank account) is the
    # shop's, its city's staff's and its settlement bank's (logged when not the shop's own).
    ("POST", "/v1/tokens/{token}/merchant-applications"): RouteAccess(AUTHENTICATED, "path"),
    ("GET", "/v1/tokens/{token}/merchant-applications"): RouteAccess(_REGISTRY_STAFF, "path"),
    ("POST", "/v1/tokens/{token}/merchant-applications/{merchant}/approve"): RouteAccess(
        role("MERCHANT_REGISTRAR_ROLE"), "path"
    ),
    ("POST", "/v1/tokens/{token}/merchant-applications/{merchant}/reject"): RouteAccess(
        role("MERCHANT_REGISTRAR_ROLE"), "path"
    ),
    ("GET", "/v1/tokens/{token}/merchants/{merchant}/profile"): RouteAccess(
        merchant_self(*_REGISTRY_READERS, SETTLEMENT_BANK), "path", "merchant"
    ),
    ("GET", "/v1/tokens/{token}/directory"): RouteAccess(PUBLIC),
    ("GET", "/v1/tokens/{token}/programs"): RouteAccess(PUBLIC),
    ("GET", "/v1/tokens/{token}/programs/{program_id}"): RouteAccess(PUBLIC),
    ("GET", "/v1/tokens/{token}/funding"): RouteAccess(PUBLIC),  # funders' totals, no person
    ("GET", "/v1/indexer/status"): RouteAccess(PUBLIC),
    ("GET", "/healthz"): RouteAccess(PUBLIC),
    ("GET", "/readyz"): RouteAccess(PUBLIC),
    ("GET", "/metrics"): RouteAccess(PUBLIC),  # counters only; scrape on the operator's network
    ("GET", "/docs"): RouteAccess(PUBLIC),
    ("GET", "/redoc"): RouteAccess(PUBLIC),
    ("GET", "/docs/assets/{name}"): RouteAccess(PUBLIC),
    # The portal's pages are shells without data (their scripts call the API, whose policies
    # decide what they show); payment QR codes name public facts only. The demo wallets
    # exist only on a loopback demo network (gateway.http.portal).
    ("GET", "/portal"): RouteAccess(PUBLIC),
    ("GET", "/portal/"): RouteAccess(PUBLIC),
    ("GET", "/portal/{section}/{name}"): RouteAccess(PUBLIC),
    ("GET", "/portal/static/{asset:path}"): RouteAccess(PUBLIC),
    ("GET", "/portal/vendor/{name}"): RouteAccess(PUBLIC),
    ("GET", "/portal/qr.svg"): RouteAccess(PUBLIC),
    ("GET", "/portal/demo/wallets"): RouteAccess(PUBLIC),
    # A person's and a shop's own data (or their city's auditors, logged).
    ("GET", "/v1/wallets/{address}/balances"): RouteAccess(SELF, "query", "address"),
    ("GET", "/v1/wallets/{address}/history"): RouteAccess(SELF, "query", "address"),
    ("GET", "/v1/wallets/{address}/payment-requests"): RouteAccess(SELF, "query", "address"),
    ("GET", "/v1/merchants/{address}/sales"): RouteAccess(MERCHANT_SELF, "query", "address"),
    ("GET", "/v1/merchants/{address}/invoices"): RouteAccess(MERCHANT_SELF, "query", "address"),
    ("GET", "/v1/wallets/{address}/caps"): RouteAccess(SELF, "query", "address"),
    ("GET", "/v1/merchants/{address}/settlements"): RouteAccess(MERCHANT_SELF, "query", "address"),
    ("GET", "/v1/programs/{token}/{program_id}/recipients/{recipient}/proofs"): RouteAccess(
        SELF, "path", "recipient"
    ),
    ("GET", "/v1/programs/{token}/{program_id}/proofs/{index}"): RouteAccess(_PROGRAMS, "path"),
    # In-app purchases: only the wallet itself creates or cancels its orders (no municipality
    # named, so no role reaches them); its city's auditors may read them (logged). The
    # provider's webhook authenticates by HMAC in its handler (gateway.purchase.signing).
    ("POST", "/v1/wallets/{address}/purchase-orders"): RouteAccess(SELF, None, "address"),
    ("GET", "/v1/wallets/{address}/purchase-orders"): RouteAccess(SELF, "query", "address"),
    ("GET", "/v1/wallets/{address}/purchase-orders/{order_id}"): RouteAccess(
        SELF, "query", "address"
    ),
    ("POST", "/v1/wallets/{address}/purchase-orders/{order_id}/cancel"): RouteAccess(
        SELF, None, "address"
    ),
    ("POST", "/v1/purchase/webhooks/{provider}"): RouteAccess(PUBLIC),
    ("GET", "/v1/tokens/{token}/sale-settings"): RouteAccess(PUBLIC),  # the price residents see
    ("PUT", "/v1/tokens/{token}/sale-settings"): RouteAccess(role("DEFAULT_ADMIN_ROLE"), "path"),
    # Auditors of a city see everything of that city.
    ("GET", "/v1/audit/{token}/reconcile"): RouteAccess(auditor(), "path"),
    ("GET", "/v1/audit/{token}/code"): RouteAccess(auditor(), "path"),
    ("GET", "/v1/audit/{token}/ledger"): RouteAccess(auditor(), "path"),
    ("GET", "/v1/audit/{token}/programs/{program_id}/verify"): RouteAccess(auditor(), "path"),
    ("POST", "/v1/audit/{token}/programs/{program_id}/verify"): RouteAccess(auditor(), "path"),
    ("GET", "/v1/audit/{token}/fraud"): RouteAccess(_FRAUD_READ, "path"),
    ("GET", "/v1/audit/{token}/thresholds"): RouteAccess(_FRAUD_READ, "path"),
    ("PUT", "/v1/audit/{token}/thresholds"): RouteAccess(_FRAUD_WRITE, "path"),
    ("GET", "/v1/audit/{token}/links"): RouteAccess(_FRAUD_READ, "path"),
    ("PUT", "/v1/audit/{token}/merchants/{merchant}/links"): RouteAccess(_FRAUD_WRITE, "path"),
    ("GET", "/v1/audit/{token}/settlements"): RouteAccess(auditor(), "path"),
    ("GET", "/v1/audit/{token}/settlements/preview"): RouteAccess(auditor(), "path"),
    ("POST", "/v1/audit/{token}/settlements"): RouteAccess(
        role("AUDITOR_ROLE", "DEFAULT_ADMIN_ROLE"), "path"
    ),
    ("GET", "/v1/audit/{token}/settlements/{reference}"): RouteAccess(auditor(), "path"),
    # The bank file: the city's auditors and admin, and its settlement bank's API key (a
    # key-only scope, gateway.access.api_keys.SETTLEMENT_BANK), which confirms payment.
    ("GET", "/v1/audit/{token}/settlements/{reference}/file"): RouteAccess(
        role("AUDITOR_ROLE", "DEFAULT_ADMIN_ROLE", SETTLEMENT_BANK), "path"
    ),
    ("POST", "/v1/audit/{token}/settlements/{reference}/paid"): RouteAccess(
        role(SETTLEMENT_BANK, "DEFAULT_ADMIN_ROLE"), "path"
    ),
    ("GET", "/v1/audit/{token}/funders"): RouteAccess(
        role("AUDITOR_ROLE", "DEFAULT_ADMIN_ROLE"), "path"
    ),
    ("GET", "/v1/audit/{token}/staff-log"): RouteAccess(auditor(), "path"),
    ("GET", "/v1/audit/{token}/staff-log/verify"): RouteAccess(auditor(), "path"),
    ("GET", "/v1/audit/{token}/access-log"): RouteAccess(auditor(), "path"),
    # Program managers run their city's distributions.
    ("POST", "/v1/distributions"): RouteAccess(role("PROGRAM_MANAGER_ROLE"), "query"),
    ("GET", "/v1/distributions"): RouteAccess(_PROGRAMS, "query"),
    ("GET", "/v1/distributions/{job_id}/commit-call"): RouteAccess(
        role("PROGRAM_MANAGER_ROLE"), "job"
    ),
    ("GET", "/v1/distributions/{job_id}"): RouteAccess(_PROGRAMS, "job"),
    ("GET", "/v1/distributions/{job_id}/report"): RouteAccess(_PROGRAMS, "job"),
    ("POST", "/v1/distributions/{job_id}/push"): RouteAccess(role("PROGRAM_MANAGER_ROLE"), "job"),
    # Sign-in and one's own session.
    ("GET", "/v1/auth/nonce"): RouteAccess(PUBLIC),
    ("POST", "/v1/auth/login"): RouteAccess(PUBLIC),
    ("POST", "/v1/auth/refresh"): RouteAccess(PUBLIC),  # the refresh token is the credential
    ("POST", "/v1/auth/logout"): RouteAccess(AUTHENTICATED),
    ("GET", "/v1/me"): RouteAccess(AUTHENTICATED),
    ("GET", "/v1/me/access-log"): RouteAccess(AUTHENTICATED),
    ("GET", "/v1/tokens/{token}/roles"): RouteAccess(PUBLIC),  # public on chain anyway
    # A municipality's admin manages its services' API keys.
    ("POST", "/v1/tokens/{token}/api-keys"): RouteAccess(role("DEFAULT_ADMIN_ROLE"), "path"),
    ("GET", "/v1/tokens/{token}/api-keys"): RouteAccess(role("DEFAULT_ADMIN_ROLE"), "path"),
    ("DELETE", "/v1/tokens/{token}/api-keys/{key_id}"): RouteAccess(
        role("DEFAULT_ADMIN_ROLE"), "path"
    ),
    # Staff tools: the table of operations is public (it is the contracts' ABI in words); an
    # operation's call is built for the holders of the role the contract checks (one entry per
    # operation, below); a sent staff transaction is recorded by anyone signed in, because the
    # chain, not the poster, says who sent it and what it did.
    ("GET", "/v1/staff/operations"): RouteAccess(PUBLIC),
    ("POST", "/v1/tokens/{token}/staff-actions"): RouteAccess(AUTHENTICATED, "path"),
    ("GET", "/v1/tokens/{token}/rules/history"): RouteAccess(PUBLIC),  # public on chain
    # An institution's (a public body's) limits: itself, or its city's auditors (logged).
    ("GET", "/v1/tokens/{token}/institutions/{institution}/limits"): RouteAccess(
        SELF, "path", "institution"
    ),
}


def staff_path(op: StaffOperation) -> str:
    """The call-builder route of a staff operation: a municipality's, or the registry's."""
    if op.contract == "registry":
        return f"/v1/registry/staff/{op.name}"
    return f"/v1/tokens/{{token}}/staff/{op.name}"


POLICIES.update(
    {
        ("POST", staff_path(op)): RouteAccess(
            role(op.http_role), "registry" if op.contract == "registry" else "path"
        )
        for op in OPERATIONS
    }
)


@dataclass
class Access:
    """The running app's access machinery (built at startup, kept in ``app.state.access``)."""

    signin: SignIn
    roles: RoleBook
    registry: str  # the identity registry: its admins are the network operator

    @classmethod
    def build(cls, settings: Settings, manifest: Manifest, engine: Engine) -> Access:
        keys = [_key(i, secret) for i, secret in enumerate(settings.auth_signing_keys)]
        if not keys:  # the local network: a key per process (see Settings)
            keys = [("local", secrets.token_urlsafe(48))]
        signer = TokenSigner(
            keys, audience=f"dongne:{manifest.chain_id}", ttl_s=settings.access_token_ttl_s
        )
        signin = SignIn(
            engine,
            signer,
            settings.public_url.rstrip("/"),
            manifest.chain_id,
            nonce_ttl_s=settings.siwe_nonce_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
            attempts_per_window=settings.login_attempts_per_window,
            window_s=settings.login_window_s,
        )
        roles = RoleBook(engine, manifest.chain_id, ttl_s=settings.role_cache_s)
        return cls(signin, roles, manifest.registry.lower())


def _key(index: int, secret: SecretStr) -> tuple[str, str]:
    kid, sep, value = secret.get_secret_value().partition(":")
    return (kid, value) if sep else (f"k{index}", kid)


def served_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route under `routes` (an app's or a router's), through included routers:
    what the policy table must cover and what a 405's ``Allow`` lists."""
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included-router wrapper
        if inner is not None:
            yield from served_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def principal_of(request: Request) -> Principal:
    """The caller, from their credentials (anonymous without any)."""
    access: Access = request.app.state.access
    api_key = request.headers.get("x-api-key")
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if api_key is None and scheme.lower() == "apikey":
        api_key = credential.strip()
    if api_key:
        what = f"{request.method} {request.url.path}"
        rid = request.headers.get("x-request-id")
        return api_keys.authenticate(access.signin.engine, api_key, what=what, request_id=rid)
    if not header:
        return Principal()
    if scheme.lower() != "bearer" or not credential:
        raise GatewayError("AuthInvalid", "use Authorization: Bearer <token> or X-API-Key")
    claims = access.signin.signer.verify(credential.strip())
    if not access.signin.session_open(claims):
        raise GatewayError("AuthInvalid", "the session was signed out")
    address = claims.address.lower()
    roles = access.roles.roles_of(address)
    operator = "DEFAULT_ADMIN_ROLE" in roles.get(access.registry, frozenset())
    return Principal(address=address, roles=roles, operator=operator)


async def enforce(request: Request) -> None:
    """The one dependency: applies the route's policy (see the module docstring)."""
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    entry = POLICIES.get((request.method, path))
    if entry is None:  # never in a tested app: test_access walks every route
        raise GatewayError("Forbidden", "this route has no access policy")
    if entry.policy.kind in ("public", "signed"):
        return  # the hot paths (relay, network, nonces) pay one dict lookup
    who = await asyncio.to_thread(principal_of, request)
    token = await _token(request, entry)
    subject = request.path_params.get(entry.subject_from) if entry.subject_from else None
    granted = authorize(entry.policy, who, token=token, subject=subject)
    request.state.principal = who
    if subject is not None and granted is not None:  # someone else's data: the person sees it
        access: Access = request.app.state.access
        await asyncio.to_thread(
            data_log.record,
            access.signin.engine,
            subject=subject,
            actor=who.actor,
            role=granted,
            token=token,
            what=f"{request.method} {path}",
            request_id=request.headers.get("x-request-id"),
        )


async def _token(request: Request, entry: RouteAccess) -> str | None:
    if entry.token_from == "path":
        value = request.path_params.get("token")
    elif entry.token_from == "query":
        value = request.query_params.get("token")
    elif entry.token_from == "registry":
        access: Access = request.app.state.access
        value = access.registry
    elif entry.token_from == "job":
        value = await asyncio.to_thread(_job_token, request, request.path_params.get("job_id"))
    else:
        value = None
    return value.lower() if isinstance(value, str) else None


def _job_token(request: Request, job_id: object) -> str | None:
    access: Access = request.app.state.access
    j = d.distribution_jobs.c
    with access.signin.engine.connect() as conn:
        token = conn.execute(select(j.token).where(j.id == str(job_id))).scalar()
    return str(token) if token is not None else None


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def record_staff_action(
    request: Request,
    engine: Engine,
    action: str,
    *,
    token: str | None,
    before: object = None,
    after: object = None,
) -> staff_log.StaffEntry:
    """Appends an off-chain write to the hash-chained staff log, with who made it and the
    role that allowed it (the route's policy resolved it into ``request.state``)."""
    who: Principal = getattr(request.state, "principal", Principal())
    held = sorted(who.roles.get(token.lower(), frozenset())) if token else []
    return staff_log.append(
        engine,
        actor=who.actor,
        action=action,
        role=",".join(held)[:64] or None,
        token=token.lower() if token else None,
        request_id=request.headers.get("x-request-id"),
        before=_jsonable(before),
        after=_jsonable(after),
    )
