"""Merchant profiles as stored: the full (private) view, the upsert a bulk import uses, and
the step that marks an approved profile `registered` once the index has seen the merchant.

The chain is the source of truth for registration: a profile says `registered` only when the
indexer has folded ``MerchantRegistered`` for that wallet into ``index_merchants``; the
gateway never marks it so on a registrar's word.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Select, and_, exists, insert, select, update
from sqlalchemy.engine import Row

from gateway.db.tables import index as t
from gateway.db.tables.registry import APPLIED, APPROVED, REGISTERED, merchant_profiles
from gateway.errors import GatewayError
from gateway.queries.merchant_list import MERCHANT_STATUS
from gateway.queries.scope import checksum
from gateway.registry.business_number import format_business_number
from gateway.registry.validation import ValidProfile

__all__ = [
    "ON_CHAIN",
    "ON_CHAIN_NAMES",
    "MerchantProfile",
    "find_profile",
    "profile_of",
    "promote_registered",
    "read_profile",
    "select_profiles",
    "upsert_profile",
]

ON_CHAIN = (1, 2)  # MerchantStatus Active, Suspended: registered and not cancelled
ON_CHAIN_NAMES = frozenset(MERCHANT_STATUS[code] for code in ON_CHAIN)
p = merchant_profiles.c
m = t.merchants.c


@dataclass(frozen=True, slots=True)
class MerchantProfile:
    """Everything about a shop: for the shop itself, its city's staff and its settlement bank."""

    token: str
    merchant: str
    business_name: str
    business_number: str  # 123-45-67890
    address: str
    legal_dong: str
    category: int
    latitude: float | None
    longitude: float | None
    market: bool
    phone: str | None
    email: str | None
    bank_code: str | None
    bank_account: str | None
    account_holder: str | None
    status: str  # applied | approved | registered | rejected
    tier: int
    reviewed_by: str | None
    review_note: str | None
    applied_at: float
    updated_at: float
    on_chain: str | None  # the index's status (active, suspended, cancelled), None if never


def upsert_profile(
    conn: Connection,
    chain_id: int,
    token: str,
    merchant: str,
    profile: ValidProfile,
    *,
    status: str = APPLIED,
    tier: int = 0,
    reviewed_by: str | None = None,
    review_note: str | None = None,
    replacing: str | None = None,
    now: float | None = None,
) -> bool:
    """Writes ``profile`` for (token, merchant), replacing what was there: for an
    application and for a bulk import of existing shops. With ``replacing``, only a profile
    in that state is replaced (and none is created); answers whether it was written."""
    at = time.time() if now is None else now
    key = _key(chain_id, token, merchant)
    values: dict[str, object] = {
        "business_name": profile.business_name,
        "business_number": profile.business_number,
        "address": profile.address,
        "legal_dong": profile.legal_dong,
        "category": profile.category,
        "latitude": profile.latitude,
        "longitude": profile.longitude,
        "market": int(profile.market),
        "phone": profile.phone,
        "email": profile.email,
        "bank_code": profile.bank_code,
        "bank_account": profile.bank_account,
        "account_holder": profile.account_holder,
        "status": status,
        "tier": tier,
        "reviewed_by": reviewed_by,
        "review_note": review_note,
        "updated_at": at,
    }
    if status == APPLIED:  # a new application (again after a rejection) queues from now
        values["applied_at"] = at
    where = _where(key)
    if replacing is not None:
        where.append(p.status == replacing)
    done = conn.execute(update(merchant_profiles).where(*where).values(values))
    if done.rowcount == 0:
        if replacing is not None:
            return False
        conn.execute(
            insert(merchant_profiles).values({"applied_at": at, **_columns(key), **values})
        )
    return True


def promote_registered(
    conn: Connection, chain_id: int, token: str, merchant: str | None = None
) -> int:
    """Approved profiles whose wallet the index shows registered become `registered`; the
    number promoted. Cheap: only `approved` rows are looked at."""
    on_chain = exists().where(
        m.chain_id == p.chain_id,
        m.token == p.token,
        m.merchant == p.merchant,
        m.status.in_(ON_CHAIN),
    )
    where = [p.chain_id == chain_id, p.token == token.lower(), p.status == APPROVED, on_chain]
    if merchant is not None:
        where.append(p.merchant == merchant.lower())
    done = conn.execute(
        update(merchant_profiles).where(*where).values(status=REGISTERED, updated_at=time.time())
    )
    return int(done.rowcount or 0)


def find_profile(
    conn: Connection, chain_id: int, token: str, merchant: str
) -> MerchantProfile | None:
    key = _key(chain_id, token, merchant)
    row = conn.execute(select_profiles().where(*_where(key))).first()
    return None if row is None else profile_of(row)


def read_profile(conn: Connection, chain_id: int, token: str, merchant: str) -> MerchantProfile:
    """The profile (its registration caught up with the index first), or a 404."""
    promote_registered(conn, chain_id, token, merchant)
    found = find_profile(conn, chain_id, token, merchant)
    if found is None:
        raise GatewayError(
            "MerchantApplicationNotFound",
            f"{merchant} has no profile in {token}",
            {"token": token, "merchant": merchant},
        )
    return found


def select_profiles() -> Select[tuple[object, ...]]:
    """Profiles with their wallet's on-chain status (the one join of profile and index)."""
    joined = merchant_profiles.outerjoin(
        t.merchants,
        and_(m.chain_id == p.chain_id, m.token == p.token, m.merchant == p.merchant),
    )
    return select(merchant_profiles, m.status.label("chain_status")).select_from(joined)


def profile_of(row: Row[tuple[object, ...]]) -> MerchantProfile:
    r = row._mapping
    chain_status = r["chain_status"]
    return MerchantProfile(
        token=checksum(str(r["token"])),
        merchant=checksum(str(r["merchant"])),
        business_name=r["business_name"],
        business_number=format_business_number(r["business_number"]),
        address=r["address"],
        legal_dong=r["legal_dong"],
        category=r["category"],
        latitude=r["latitude"],
        longitude=r["longitude"],
        market=bool(r["market"]),
        phone=r["phone"],
        email=r["email"],
        bank_code=r["bank_code"],
        bank_account=r["bank_account"],
        account_holder=r["account_holder"],
        status=r["status"],
        tier=r["tier"],
        reviewed_by=None if r["reviewed_by"] is None else checksum(str(r["reviewed_by"])),
        review_note=r["review_note"],
        applied_at=r["applied_at"],
        updated_at=r["updated_at"],
        on_chain=None if chain_status is None else MERCHANT_STATUS.get(int(chain_status)),
    )


_Key = tuple[int, str, str]


def _key(chain_id: int, token: str, merchant: str) -> _Key:
    return chain_id, token.lower(), merchant.lower()


def _columns(key: _Key) -> dict[str, object]:
    return {"chain_id": key[0], "token": key[1], "merchant": key[2]}


def _where(key: _Key) -> list[ColumnElement[bool]]:
    return [p.chain_id == key[0], p.token == key[1], p.merchant == key[2]]
