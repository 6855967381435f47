"""Sign-in (SIWE), one's own session and data-access log, API keys, and the two audit logs."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from chain.anchors import latest_anchor
from chain.rpc import NodeUnavailableError, RpcClient, RpcError
from gateway import queries
from gateway.access import api_keys, data_log, signin, staff_log
from gateway.access import roles as roles_module
from gateway.access.policies import Principal
from gateway.access.signin import Session
from gateway.errors import GatewayError
from gateway.http.access import Access
from gateway.http.deps import EngineDep, ManifestDep, SettingsDep
from gateway.http.openapi import codes
from gateway.http.params import ADDRESS_PATTERN, plain_text

router = APIRouter(tags=["access"])

TokenPath = Annotated[str, Path(pattern=ADDRESS_PATTERN, description="the token")]
STATEMENT = "Sign in to Dongne"


class NonceOut(BaseModel):
    nonce: str
    expires_at: float
    domain: str  # what the message must name
    uri: str
    chain_id: int
    statement: str


class LoginIn(BaseModel):
    message: str = Field(
        max_length=signin.MAX_MESSAGE_CHARS, description="the EIP-4361 message, as signed"
    )
    signature: str = Field(max_length=200, description="its personal_sign signature, 0x-hex")


class RefreshIn(BaseModel):
    refresh_token: str = Field(max_length=200)


class SessionOut(BaseModel):
    address: str
    token_type: str = "Bearer"
    access_token: str
    expires_at: int
    refresh_token: str
    refresh_expires_at: float


class MeOut(BaseModel):
    address: str | None
    api_key: str | None
    operator: bool
    roles: dict[str, list[str]]  # token (lower-case) -> role names held there
    # From the registry (the portal shows pages by them): citizen | merchant | institution.
    kind: str | None = None
    merchant_in: list[str] = Field(default_factory=list, description="tokens; EIP-55")


# The enumeration documents the names; api_keys.create checks them (in one place).
RoleName = Annotated[str, Field(json_schema_extra={"enum": list(roles_module.ROLE_NAMES)})]
# A key may also hold key-only scopes (the settlement bank's).
KeyRole = Annotated[
    str, Field(json_schema_extra={"enum": [*roles_module.ROLE_NAMES, *api_keys.KEY_SCOPES]})
]


class ApiKeyIn(BaseModel):
    name: Annotated[str, plain_text(100, min_length=1)]
    # The enumeration documents the names; api_keys.create checks them (one place).
    roles: list[KeyRole] = Field(min_length=1, max_length=10)
    ttl_days: int = Field(default=90, ge=1, le=366)


def _access(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


def _principal(request: Request) -> Principal:
    who: Principal = request.state.principal
    return who


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/v1/auth/nonce")
async def nonce(request: Request) -> NonceOut:
    """A single-use nonce (valid minutes) and what the sign-in message must say."""
    signin = _access(request).signin
    issued = await asyncio.to_thread(signin.nonce)
    return NonceOut(
        nonce=issued.nonce,
        expires_at=issued.expires_at,
        domain=signin.domain,
        uri=signin.public_url,
        chain_id=signin.chain_id,
        statement=STATEMENT,
    )


@router.post(
    "/v1/auth/login", openapi_extra=codes("SiweInvalid", "LoginThrottled", "DatabaseUnavailable")
)
async def login(request: Request, body: LoginIn) -> SessionOut:
    """Checks the signed EIP-4361 message (domain, URI, chain, nonce, times, signature) and
    opens a session: a short-lived access token and a refresh token."""
    access = _access(request)
    session = await asyncio.to_thread(
        access.signin.login, body.message, body.signature, client=_client(request)
    )
    roles = await asyncio.to_thread(access.roles.roles_of, session.address)
    if roles:  # staff sign-ins are staff actions
        held = sorted({name for names in roles.values() for name in names})
        await asyncio.to_thread(
            staff_log.append,
            access.signin.engine,
            actor=session.address.lower(),
            action="auth.login",
            role=",".join(held)[:64],
            request_id=request.headers.get("x-request-id"),
        )
    return _session_out(session)


@router.post(
    "/v1/auth/refresh", openapi_extra=codes("AuthInvalid", "AuthExpired", "DatabaseUnavailable")
)
async def refresh(request: Request, body: RefreshIn) -> SessionOut:
    """A new access token for a refresh token; the refresh token is replaced (single use)."""
    session = await asyncio.to_thread(_access(request).signin.refresh, body.refresh_token)
    return _session_out(session)


@router.post("/v1/auth/logout", status_code=204)
async def logout(request: Request) -> Response:
    """Closes the session of the presented access token: it stops working at once."""
    access = _access(request)
    header = request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip()
    if not token:
        raise GatewayError("AuthRequired", "sign out needs the session's access token")
    claims = access.signin.signer.verify(token)
    await asyncio.to_thread(access.signin.logout, claims.session_id)
    return Response(status_code=204)


@router.get("/v1/me")
async def me(request: Request) -> MeOut:
    """Who the gateway takes the caller for, and the roles read from the chain."""
    who = _principal(request)
    roles = {token: sorted(names) for token, names in who.roles.items()}
    kind, merchant_in = None, []
    if who.address is not None:
        engine = _access(request).signin.engine
        identity = await asyncio.to_thread(queries.wallet_identity, engine, who.address)
        kind, merchant_in = identity.kind, identity.merchant_in
    return MeOut(
        address=who.address,
        api_key=who.api_key,
        operator=who.operator,
        roles=roles,
        kind=kind,
        merchant_in=merchant_in,
    )


@router.get("/v1/me/access-log", openapi_extra=codes("Forbidden", "DatabaseUnavailable"))
def my_access_log(
    request: Request,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[data_log.DataAccess]:
    """Who else read my balances, pockets, history or proofs, newest first."""
    who = _principal(request)
    if who.address is None:
        raise GatewayError("Forbidden", "an API key has no personal data")
    return data_log.for_subject(engine, who.address, limit=limit)


@router.get("/v1/tokens/{token}/roles", openapi_extra=codes("DatabaseUnavailable"))
def role_holders(request: Request, engine: EngineDep, token: TokenPath) -> dict[str, list[str]]:
    """Who holds which role in this municipality (role name -> accounts), from the chain."""
    chain_id = _access(request).roles.chain_id
    return roles_module.holders(engine, chain_id, token)


# ------------------------------------------------------------------------------ API keys


class ApiKeyOut(BaseModel):
    id: str
    name: str
    token: str
    roles: list[str]
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float | None
    last_used_at: float | None


class CreatedKeyOut(BaseModel):
    key: ApiKeyOut
    secret: str  # shown once; send it as X-API-Key


@router.post(
    "/v1/tokens/{token}/api-keys",
    openapi_extra=codes("Forbidden", "DatabaseUnavailable"),
    status_code=201,
)
def create_api_key(
    request: Request, engine: EngineDep, token: TokenPath, body: ApiKeyIn
) -> CreatedKeyOut:
    """A key for a service of this municipality, with roles its creator holds here."""
    who = _principal(request)
    created = api_keys.create(
        engine, creator=who, token=token, name=body.name, roles=body.roles,
        ttl_s=body.ttl_days * 86_400.0,
    )  # fmt: skip
    key = dataclasses.asdict(created.key)
    staff_log.append(engine, actor=who.actor, action="api_key.create", role="DEFAULT_ADMIN_ROLE",
                     token=token.lower(), request_id=request.headers.get("x-request-id"),
                     after=key)  # fmt: skip
    return CreatedKeyOut(key=ApiKeyOut(**key), secret=created.secret)


@router.get("/v1/tokens/{token}/api-keys", openapi_extra=codes("DatabaseUnavailable"))
def list_api_keys(engine: EngineDep, token: TokenPath) -> list[ApiKeyOut]:
    return [ApiKeyOut(**dataclasses.asdict(k)) for k in api_keys.list_keys(engine, token)]


@router.delete(
    "/v1/tokens/{token}/api-keys/{key_id}",
    openapi_extra=codes("NotFound", "DatabaseUnavailable"),
    status_code=204,
)
def revoke_api_key(
    request: Request,
    engine: EngineDep,
    token: TokenPath,
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
) -> Response:
    who = _principal(request)
    api_keys.revoke(engine, token, key_id)
    staff_log.append(engine, actor=who.actor, action="api_key.revoke", role="DEFAULT_ADMIN_ROLE",
                     token=token.lower(), request_id=request.headers.get("x-request-id"),
                     before={"id": key_id})  # fmt: skip
    return Response(status_code=204)


# ------------------------------------------------------------------------------ audit logs


@router.get("/v1/audit/{token}/staff-log", openapi_extra=codes("DatabaseUnavailable"))
def staff_actions(
    engine: EngineDep, token: TokenPath, limit: Annotated[int, Query(ge=1, le=1000)] = 500
) -> list[staff_log.StaffEntry]:
    """This municipality's staff actions, newest first, with their chain hashes."""
    return staff_log.entries(engine, token=token, limit=limit)


@router.get("/v1/audit/{token}/staff-log/verify", openapi_extra=codes("DatabaseUnavailable"))
def verify_staff_log(
    engine: EngineDep, manifest: ManifestDep, settings: SettingsDep, token: TokenPath
) -> staff_log.LogCheck:
    """Recomputes the whole hash chain: an edited, deleted or reordered entry shows here, and
    so does a chain rewritten up to the latest head anchored on chain (``DongneAnchor``).
    The chain spans every municipality, so a break anywhere is reported to every auditor."""
    del token
    anchor = None
    try:
        with RpcClient(settings.rpc_url, timeout=30) as rpc:
            found = latest_anchor(rpc, manifest)
        anchor = (found.entries, found.head) if found else None
    except (NodeUnavailableError, RpcError):  # the chain check waits for the node, not this
        pass
    return staff_log.verify(engine, anchor)


@router.get("/v1/audit/{token}/access-log", openapi_extra=codes("DatabaseUnavailable"))
def access_log(
    engine: EngineDep, token: TokenPath, limit: Annotated[int, Query(ge=1, le=1000)] = 500
) -> list[data_log.DataAccess]:
    """Reads of this municipality's residents' data by anyone but themselves."""
    return data_log.for_token(engine, token, limit=limit)


def _session_out(session: Session) -> SessionOut:
    return SessionOut(
        address=session.address,
        access_token=session.access_token,
        expires_at=session.access_expires_at,
        refresh_token=session.refresh_token,
        refresh_expires_at=session.refresh_expires_at,
    )
