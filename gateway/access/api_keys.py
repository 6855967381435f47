"""API keys for services (a bank's settlement system, a city's back office, a reward service).

Created by a municipality's admin, scoped to that municipality and to roles the creator holds
there, expiring, revocable. The secret is shown once (``dk_<id>.<secret>``) and stored as its
SHA-256; each use is recorded.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from gateway.access.policies import Principal
from gateway.access.roles import ROLE_NAMES
from gateway.access.signin import digest
from gateway.db.tables import access as a
from gateway.errors import GatewayError

__all__ = [
    "KEY_SCOPES",
    "PREFIX",
    "SETTLEMENT_BANK",
    "ApiKey",
    "CreatedKey",
    "authenticate",
    "create",
    "list_keys",
    "revoke",
]

PREFIX = "dk_"
MAX_TTL_S = 366 * 86_400
# Scopes only a key holds (no wallet holds them on chain): the city's admin grants them to a
# service's key. SETTLEMENT_BANK: the settlement bank, which downloads the city's bank files
# and confirms what it paid, and reads nothing else.
SETTLEMENT_BANK = "SETTLEMENT_BANK"
KEY_SCOPES = (SETTLEMENT_BANK,)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    token: str
    roles: list[str]
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float | None
    last_used_at: float | None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once


def create(
    engine: Engine,
    *,
    creator: Principal,
    token: str,
    name: str,
    roles: list[str],
    ttl_s: float,
    now: float | None = None,
) -> CreatedKey:
    at = time.time() if now is None else now
    unknown = sorted(set(roles) - set(ROLE_NAMES) - set(KEY_SCOPES))
    if unknown or not roles:
        names = ", ".join((*ROLE_NAMES, *KEY_SCOPES))
        raise GatewayError("InvalidRequest", f"roles must be among {names}",
                           {"unknown": unknown})  # fmt: skip
    if not 0 < ttl_s <= MAX_TTL_S:
        raise GatewayError("InvalidRequest", f"a key lives 1 s to {MAX_TTL_S // 86_400} days")
    if not name.strip() or len(name) > 100:
        raise GatewayError("InvalidRequest", "a key needs a name of at most 100 characters")
    held = creator.roles.get(token.lower(), frozenset())
    if "DEFAULT_ADMIN_ROLE" not in held:
        raise GatewayError("RoleRequired", "only a municipality's admin creates its API keys",
                           {"role": "DEFAULT_ADMIN_ROLE", "token": token})  # fmt: skip
    beyond = sorted(set(roles) - held - set(KEY_SCOPES))  # the admin grants key scopes
    if beyond:  # a key never holds more than its creator
        raise GatewayError("Forbidden", "a key cannot hold roles its creator does not",
                           {"roles": beyond})  # fmt: skip
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = {"id": key_id, "secret_hash": digest(secret), "name": name.strip(),
           "token": token.lower(), "roles": sorted(set(roles)), "created_by": creator.actor,
           "created_at": at, "expires_at": at + ttl_s}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(a.api_keys).values(row))
    key = ApiKey(**{k: v for k, v in row.items() if k != "secret_hash"},  # type: ignore[arg-type]
                 revoked_at=None, last_used_at=None)  # fmt: skip
    return CreatedKey(key, f"{PREFIX}{key_id}.{secret}")


def authenticate(
    engine: Engine, presented: str, *, what: str, request_id: str | None, now: float | None = None
) -> Principal:
    """The principal of an API key, its use recorded; AuthInvalid for anything else."""
    at = time.time() if now is None else now
    key_id, _, secret = presented.removeprefix(PREFIX).partition(".")
    k = a.api_keys.c
    with engine.begin() as conn:
        row = conn.execute(select(a.api_keys).where(k.id == key_id)).first()
        if (
            row is None
            or not presented.startswith(PREFIX)
            or not secrets.compare_digest(row.secret_hash, digest(secret))
        ):
            raise GatewayError("AuthInvalid", "unknown API key")
        if row.revoked_at is not None:
            raise GatewayError("AuthInvalid", "the API key was revoked", {"key": key_id})
        if row.expires_at <= at:
            raise GatewayError("AuthExpired", "the API key has expired", {"key": key_id})
        conn.execute(update(a.api_keys).where(k.id == key_id).values(last_used_at=at))
        use = {"key_id": key_id, "at": at, "what": what[:200], "request_id": request_id}
        conn.execute(insert(a.api_key_uses).values(use))
    return Principal(api_key=key_id, roles={str(row.token): frozenset(row.roles)})


def list_keys(engine: Engine, token: str) -> list[ApiKey]:
    k = a.api_keys.c
    columns = [c for c in a.api_keys.c if c.name != "secret_hash"]
    with engine.connect() as conn:
        rows = conn.execute(select(*columns).where(k.token == token.lower()).order_by(k.created_at))
        return [ApiKey(**row._asdict()) for row in rows]


def revoke(engine: Engine, token: str, key_id: str, *, now: float | None = None) -> None:
    at = time.time() if now is None else now
    k = a.api_keys.c
    with engine.begin() as conn:
        done = conn.execute(
            update(a.api_keys)
            .where(k.id == key_id, k.token == token.lower(), k.revoked_at.is_(None))
            .values(revoked_at=at)
        )
    if done.rowcount != 1:
        raise GatewayError("NotFound", "no such active key in this municipality", {"key": key_id})
