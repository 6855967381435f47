"""Merchant registry routes: a shop applies with its own wallet, the city's registrar reviews
(approval answers the ``registerMerchant`` transaction for the registrar's wallet), anyone
searches the public directory, and the shop, its city's staff and its settlement bank read
the full profile (logged when it is not the shop itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine

from gateway import queries
from gateway.access.policies import Principal
from gateway.errors import GatewayError
from gateway.http.access import record_staff_action
from gateway.http.deps import EngineDep, ManifestDep
from gateway.http.openapi import CODES_KEY, codes
from gateway.http.params import ADDRESS_PATTERN, plain_text
from gateway.http.routes.audit import address, guarded
from gateway.registry import applications, directory
from gateway.registry.applications import ApplicationPage, RegistrationCall
from gateway.registry.directory import MAX_RADIUS_M, DirectoryPage
from gateway.registry.profiles import MerchantProfile, read_profile
from gateway.registry.validation import KOREA_BOUNDS, ProfileInput, validate_profile

router = APIRouter(prefix="/v1/tokens", tags=["registry"])
T = TypeVar("T")

AddressPath = Annotated[str, Path(pattern=ADDRESS_PATTERN, description="0x address, any case")]
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # one line of text: PostgreSQL refuses NUL in text
_OPTIONAL_TEXT = Field(default=None, max_length=200, pattern=_PRINTABLE)


class ApplicationIn(BaseModel):
    """A shop's profile as the applicant gives it (checked field by field: a refusal is
    InvalidMerchantProfile naming the field, or InvalidBusinessNumber)."""

    business_name: Annotated[str, plain_text(200, 1)]
    business_number: Annotated[str, Field(max_length=20, description="e.g. 123-45-67891")]
    address: Annotated[str, plain_text(500, 1)]
    legal_dong: Annotated[str, Field(max_length=20, description="10-digit 법정동 code")]
    category: Annotated[int, Field(ge=0, le=999_999, description="5-digit KSIC code")]
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    market: bool = False
    phone: Annotated[str | None, _OPTIONAL_TEXT] = None
    email: Annotated[str | None, _OPTIONAL_TEXT] = None
    bank_code: Annotated[str | None, _OPTIONAL_TEXT] = None
    bank_account: Annotated[str | None, _OPTIONAL_TEXT] = None
    account_holder: Annotated[str | None, _OPTIONAL_TEXT] = None


class ApproveIn(BaseModel):
    tier: Annotated[int, Field(ge=0, le=255, description="revenue tier (0 smallest)")] = 0
    note: Annotated[str | None, plain_text(1000)] = None


class RejectIn(BaseModel):
    note: Annotated[str, plain_text(1000, 1)]


class Approval(BaseModel):
    """The approved profile and, until the index sees the shop on chain, the transaction the
    registrar's own wallet sends (``call`` is null once it is registered)."""

    profile: MerchantProfile
    call: RegistrationCall | None


def _in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    def run() -> T:
        with engine.begin() as conn:
            return work(conn)

    return guarded(run)


def _region(engine: Engine, chain_id: int, token: str) -> tuple[str, int]:
    found = address(token, "token")
    city = guarded(lambda: queries.municipality(engine, found, chain_id=chain_id))
    if city is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return found, city.region


def _wallet(request: Request) -> str:
    who: Principal = request.state.principal
    if who.address is None:  # an API key acts for a service, never as a shop
        raise GatewayError("Forbidden", "apply signed in with the shop's own wallet")
    return who.address


@router.post(
    "/{token}/merchant-applications",
    status_code=201,
    openapi_extra=codes(
        "InvalidMerchantProfile",
        "InvalidBusinessNumber",
        "MerchantApplicationExists",
        "MerchantNotVerified",
        "Forbidden",
        "NotFound",
        "DatabaseUnavailable",
    ),
)
def apply_as_merchant(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    token: AddressPath,
    body: ApplicationIn,
) -> MerchantProfile:
    """Apply to be a merchant of this municipality with the signed-in wallet (again after a
    rejection). The profile's private fields are seen by the shop, its city's staff and its
    settlement bank only."""
    found, region = _region(engine, manifest.chain_id, token)
    profile = validate_profile(ProfileInput(**body.model_dump()), region)
    wallet = _wallet(request)
    return _in_transaction(
        engine, lambda conn: applications.apply(conn, manifest.chain_id, found, wallet, profile)
    )


@router.get(
    "/{token}/merchant-applications",
    openapi_extra=codes("NotFound", "DatabaseUnavailable"),
)
def merchant_applications(
    engine: EngineDep,
    manifest: ManifestDep,
    token: AddressPath,
    status: Annotated[
        Literal["applied", "approved", "registered", "rejected", "all"], Query()
    ] = "applied",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ApplicationPage:
    """A city's applications in one state (default: waiting for review), oldest first;
    without contact or bank fields (open the profile for those: that read is logged)."""
    found, _ = _region(engine, manifest.chain_id, token)
    only = None if status == "all" else status
    return _in_transaction(
        engine,
        lambda conn: applications.list_applications(
            conn, manifest.chain_id, found, status=only, offset=offset, limit=limit
        ),
    )


Review = Callable[[Connection, str, str, str], MerchantProfile]
"""A review of (token, merchant) by a reviewer, in one transaction."""


def _reviewed(
    request: Request, engine: Engine, chain_id: int, token: str, merchant: str, action: str,
    review: Review,
) -> tuple[MerchantProfile, int]:  # fmt: skip
    """Runs ``review`` and writes the staff log entry of a change of state (not the
    contact or bank fields: the log is for auditors, the profile read is logged apart);
    the profile and the city's region."""
    found, region = _region(engine, chain_id, token)
    shop = address(merchant, "merchant")
    reviewer = request.state.principal.actor

    def work(conn: Connection) -> tuple[str, MerchantProfile]:
        before = read_profile(conn, chain_id, found, shop).status
        return before, review(conn, found, shop, reviewer)

    before, profile = _in_transaction(engine, work)
    if before != profile.status:
        record_staff_action(request, engine, action, token=found,
                            before={"merchant": profile.merchant, "status": before},
                            after={"merchant": profile.merchant, "status": profile.status,
                                   "tier": profile.tier, "note": profile.review_note})  # fmt: skip
    return profile, region


_REVIEW_CODES = codes(
    "MerchantApplicationNotFound", "MerchantApplicationState", "NotFound", "DatabaseUnavailable"
)


@router.post(
    "/{token}/merchant-applications/{merchant}/approve",
    openapi_extra=codes(*_REVIEW_CODES[CODES_KEY], "MerchantNotVerified"),
)
def approve_merchant(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    token: AddressPath,
    merchant: AddressPath,
    body: ApproveIn,
) -> Approval:
    """Approve an application; answers the ``registerMerchant`` call for your own wallet to
    send (the gateway holds no registrar key). The profile becomes `registered` when the
    index sees the shop on chain. Approving again answers the same call."""
    chain_id = manifest.chain_id

    def review(conn: Connection, found: str, shop: str, reviewer: str) -> MerchantProfile:
        return applications.approve(conn, chain_id, found, shop, reviewer=reviewer,
                                    tier=body.tier, note=body.note)  # fmt: skip

    profile, region = _reviewed(request, engine, chain_id, token, merchant, "merchant.approve",
                                review)  # fmt: skip
    return Approval(profile=profile, call=applications.registration_call(profile, region))


@router.post("/{token}/merchant-applications/{merchant}/reject", openapi_extra=_REVIEW_CODES)
def reject_merchant(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    token: AddressPath,
    merchant: AddressPath,
    body: RejectIn,
) -> MerchantProfile:
    """Reject an application not yet registered on chain, with the reason the shop reads."""
    chain_id = manifest.chain_id

    def review(conn: Connection, found: str, shop: str, reviewer: str) -> MerchantProfile:
        return applications.reject(conn, chain_id, found, shop, reviewer=reviewer,
                                   note=body.note)  # fmt: skip

    profile, _ = _reviewed(request, engine, chain_id, token, merchant, "merchant.reject", review)
    return profile


@router.get(
    "/{token}/merchants/{merchant}/profile",
    openapi_extra=codes("MerchantApplicationNotFound", "NotFound", "DatabaseUnavailable"),
)
def merchant_profile(
    engine: EngineDep, manifest: ManifestDep, token: AddressPath, merchant: AddressPath
) -> MerchantProfile:
    """A shop's full profile with its application state and bank account: for the shop, its
    city's registrars, admins and auditors, and its settlement bank (an API key with the
    SETTLEMENT_BANK scope). Anyone's read but the shop's own is in its access log."""
    found, _ = _region(engine, manifest.chain_id, token)
    shop = address(merchant, "merchant")
    return _in_transaction(engine, lambda conn: read_profile(conn, manifest.chain_id, found, shop))


_NEAR = r"^-?\d{1,3}(\.\d{1,10})?,-?\d{1,3}(\.\d{1,10})?$"


def _point(near: str | None) -> tuple[float, float] | None:
    if near is None:
        return None
    lat, lng = (float(part) for part in near.split(","))
    south, north, west, east = KOREA_BOUNDS
    if not (south <= lat <= north and west <= lng <= east):
        raise GatewayError(
            "InvalidRequest", "near is lat,lng in Korea, e.g. 37.38,126.80", {"field": "near"}
        )
    return lat, lng


@router.get("/{token}/directory", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def merchant_directory(
    engine: EngineDep,
    manifest: ManifestDep,
    token: AddressPath,
    q: Annotated[
        str | None, Query(max_length=100, pattern=_PRINTABLE, description="part of the name")
    ] = None,
    category: Annotated[int | None, Query(ge=0, le=999_999, description="KSIC code")] = None,
    dong: Annotated[
        str | None, Query(pattern=r"^\d{2,10}$", description="법정동 code prefix (district)")
    ] = None,
    near: Annotated[str | None, Query(pattern=_NEAR, description="lat,lng: by distance")] = None,
    radius_m: Annotated[int, Query(ge=1, le=MAX_RADIUS_M, description="with near")] = 1_000,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DirectoryPage:
    """Registered, active shops of a municipality: public fields only (name, address,
    district, category, location, market, wallet). By name, or by distance ``near`` a point
    within ``radius_m``; pass ``next_cursor`` back as ``cursor`` for the next page."""
    found, _ = _region(engine, manifest.chain_id, token)
    point = _point(near)

    def page(conn: Connection) -> DirectoryPage:
        return directory.directory(
            conn,
            manifest.chain_id,
            found,
            q=q,
            category=category,
            dong=dong,
            near=point,
            radius_m=radius_m,
            cursor=cursor,
            limit=limit,
        )

    return _in_transaction(engine, page)
