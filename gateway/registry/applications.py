"""A merchant's application and its review: apply, list, approve (with the registration
transaction for the registrar's own wallet), reject.

Why the gateway answers a transaction instead of sending one: ``registerMerchant`` needs the
city's MERCHANT_REGISTRAR_ROLE, and that key belongs to the registrar (a hardware wallet, a
city back office), never to the gateway; the contract checks the role, the chain records who
registered whom, and the profile turns `registered` only when the index sees the event
(:func:`gateway.registry.profiles.promote_registered`). The same call serves the portal
(the registrar's browser wallet sends it) and the CLI (`dongne merchant approve` signs it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from chain.protocol.calls import encode_register_merchant
from gateway.db.tables import index as t
from gateway.db.tables.registry import (
    APPLIED,
    APPROVED,
    REGISTERED,
    REJECTED,
    merchant_profiles,
)
from gateway.errors import GatewayError
from gateway.queries.scope import as_int, checksum
from gateway.registry.profiles import (
    ON_CHAIN_NAMES,
    MerchantProfile,
    find_profile,
    p,
    profile_of,
    promote_registered,
    read_profile,
    select_profiles,
    upsert_profile,
)
from gateway.registry.validation import ValidProfile

__all__ = [
    "ApplicationPage",
    "ApplicationSummary",
    "RegistrationCall",
    "apply",
    "approve",
    "list_applications",
    "registration_call",
    "reject",
]


@dataclass(frozen=True, slots=True)
class RegistrationCall:
    """``registerMerchant`` for the registrar's wallet to sign and send to the token."""

    to: str
    data: str  # calldata, 0x-hex
    function: str


@dataclass(frozen=True, slots=True)
class ApplicationSummary:
    """An application in a registrar's list: who and what, without the private contact and
    bank fields (reading those is opening the profile, which the data-access log records)."""

    merchant: str
    business_name: str
    business_number: str
    address: str
    legal_dong: str
    category: int
    market: bool
    status: str
    tier: int
    on_chain: str | None
    reviewed_by: str | None
    review_note: str | None
    applied_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class ApplicationPage:
    total: int
    items: list[ApplicationSummary]


def summary_of(profile: MerchantProfile) -> ApplicationSummary:
    names = ApplicationSummary.__dataclass_fields__
    return ApplicationSummary(**{name: getattr(profile, name) for name in names})


MERCHANT_KIND = 2  # IIdentityRegistry.Kind.Merchant


def identity_kind(conn: Connection, chain_id: int, wallet: str) -> int | None:
    """The wallet's kind in the identity registry, as indexed (None: not registered)."""
    i = t.identities.c
    kind = conn.execute(
        select(i.kind).where(i.chain_id == chain_id, i.account == wallet.lower())
    ).scalar()
    return None if kind is None else int(kind)


def _not_verified(wallet: str, why: str) -> GatewayError:
    return GatewayError(
        "MerchantNotVerified", f"{wallet} is not a verified merchant wallet: {why}",
        {"merchant": checksum(wallet)},
    )  # fmt: skip


def _state(profile: MerchantProfile, wanted: str) -> GatewayError:
    return GatewayError(
        "MerchantApplicationState",
        f"the application of {profile.merchant} is {profile.status}; cannot {wanted}",
        {"status": profile.status},
    )


def apply(
    conn: Connection,
    chain_id: int,
    token: str,
    merchant: str,
    profile: ValidProfile,
    now: float | None = None,
) -> MerchantProfile:
    """A new application (or a new one after a rejection); one open at a time. A wallet
    the registry knows as a citizen or an institution is refused at once: a wallet's kind
    never changes, so it could never be registered."""
    kind = identity_kind(conn, chain_id, merchant)
    if kind is not None and kind != MERCHANT_KIND:
        raise _not_verified(merchant, "it is registered as another kind: apply with a new wallet")
    existing = find_profile(conn, chain_id, token, merchant)
    if existing is not None and existing.status != REJECTED:
        raise GatewayError(
            "MerchantApplicationExists",
            f"{merchant} already has an application in {token} ({existing.status})",
            {"status": existing.status},
        )
    raced = GatewayError(
        "MerchantApplicationExists",
        f"{merchant} already has an application in {token}",
        {"status": APPLIED},
    )
    replacing = None if existing is None else REJECTED
    try:
        with conn.begin_nested():  # two racing first applications: one wins, one is told
            written = upsert_profile(conn, chain_id, token, merchant, profile, status=APPLIED,
                                     replacing=replacing, now=now)  # fmt: skip
    except IntegrityError as exc:
        raise raced from exc
    if not written:  # another application replaced the rejected one first
        raise raced
    return read_profile(conn, chain_id, token, merchant)


def list_applications(
    conn: Connection,
    chain_id: int,
    token: str,
    *,
    status: str | None = APPLIED,
    offset: int = 0,
    limit: int = 50,
) -> ApplicationPage:
    """A city's applications in one state (default: waiting for review), oldest first."""
    promote_registered(conn, chain_id, token)
    where = [p.chain_id == chain_id, p.token == token.lower()]
    if status is not None:
        where.append(p.status == status)
    total = as_int(
        conn.execute(select(func.count()).select_from(merchant_profiles).where(*where)).scalar()
    )
    rows = conn.execute(
        select_profiles()
        .where(*where)
        .order_by(p.applied_at, p.merchant)
        .offset(offset)
        .limit(limit)
    )
    return ApplicationPage(total, [summary_of(profile_of(row)) for row in rows])


def approve(
    conn: Connection,
    chain_id: int,
    token: str,
    merchant: str,
    *,
    reviewer: str,
    tier: int,
    note: str | None,
    now: float | None = None,
) -> MerchantProfile:
    """Approves an application. A wallet the index already shows registered (a shop the
    city registered before the registry existed) becomes `registered` at once; approving an
    approved one again is a no-op, so a registrar who lost the answer may ask again."""
    profile = read_profile(conn, chain_id, token, merchant)
    if profile.status == APPROVED and profile.tier == tier:
        return profile
    status = REGISTERED if profile.on_chain in ON_CHAIN_NAMES else APPROVED
    if status == APPROVED and identity_kind(conn, chain_id, merchant) != MERCHANT_KIND:
        # registerMerchant would revert (VoucherNotMerchant): KYC comes first.
        raise _not_verified(merchant, "a KYC registrar must register it as a merchant first")
    return _review(conn, profile, chain_id, (APPLIED,), "approve it", reviewer, note, now,
                   status=status, tier=tier)  # fmt: skip


def reject(
    conn: Connection,
    chain_id: int,
    token: str,
    merchant: str,
    *,
    reviewer: str,
    note: str,
    now: float | None = None,
) -> MerchantProfile:
    """Rejects an application not yet on chain (applied, or approved but never sent)."""
    profile = read_profile(conn, chain_id, token, merchant)
    return _review(conn, profile, chain_id, (APPLIED, APPROVED), "reject it", reviewer, note,
                   now, status=REJECTED)  # fmt: skip


def _review(
    conn: Connection,
    profile: MerchantProfile,
    chain_id: int,
    allowed: tuple[str, ...],
    wanted: str,
    reviewer: str,
    note: str | None,
    now: float | None,
    **values: object,
) -> MerchantProfile:
    """Moves ``profile`` from one of the ``allowed`` states, recording who and why; the
    state is checked again in the UPDATE, so two racing reviews cannot both pass."""
    if profile.status not in allowed:
        raise _state(profile, wanted)
    at = time.time() if now is None else now
    token, merchant = profile.token.lower(), profile.merchant.lower()
    done = conn.execute(
        update(merchant_profiles)
        .where(p.chain_id == chain_id, p.token == token, p.merchant == merchant)
        .where(p.status.in_(allowed))
        .values(reviewed_by=reviewer.lower(), review_note=note, updated_at=at, **values)
    )
    after = read_profile(conn, chain_id, token, merchant)
    if done.rowcount != 1:
        raise _state(after, wanted)
    return after


def registration_call(profile: MerchantProfile, region: int) -> RegistrationCall | None:
    """The transaction registering an approved profile (None once it is registered). A city
    token records its own region; the national voucher (region 0) the stall's."""
    if profile.status != APPROVED:
        return None
    shop_region = region if region != 0 else int(profile.legal_dong[:5])
    data = encode_register_merchant(
        profile.merchant, shop_region, profile.category, profile.tier, profile.market
    )
    return RegistrationCall(
        to=checksum(profile.token), data="0x" + data.hex(), function="registerMerchant"
    )
