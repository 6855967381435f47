"""Query API over the index: municipalities, dashboards, programs, wallets, merchants.

Handlers are plain ``def``: the queries are synchronous SQLAlchemy, so FastAPI runs them in its
thread pool instead of blocking the event loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError

from chain.protocol.contracts import encode_function
from gateway import queries
from gateway.audit.settlement_lines import MerchantSettlement, merchant_settlements
from gateway.errors import GatewayError
from gateway.http.deps import EngineDep, ManifestDep
from gateway.http.openapi import codes
from gateway.http.params import ADDRESS_PATTERN, OptionalTime
from gateway.queries.scope import checksum

router = APIRouter(prefix="/v1", tags=["query"])

_ADDRESS = re.compile(ADDRESS_PATTERN)
T = TypeVar("T")

AddressPath = Annotated[
    str, Path(pattern=_ADDRESS.pattern, description="0x-prefixed 20-byte address, any case")
]
TokenQuery = Annotated[
    str | None, Query(pattern=_ADDRESS.pattern, description="only this municipality's token")
]


def _address(value: str, field: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise GatewayError(
            "InvalidRequest",
            f"{field} is not a 0x-prefixed 20-byte hex address",
            {"field": field, "value": value[:100]},
        )
    return value.lower()


def _optional_address(value: str | None, field: str) -> str | None:
    return None if value is None else _address(value, field)


def _read(query: Callable[[], T]) -> T:
    """Runs a query; a database that cannot be reached is a retryable 503."""
    try:
        return query()
    except OperationalError as exc:
        raise GatewayError(
            "DatabaseUnavailable", f"the index database is unavailable: {exc.orig}"
        ) from exc


def _paged(query: Callable[[], T]) -> T:
    """A paged read: a cursor the gateway did not make is the caller's 400, named."""
    try:
        return _read(query)
    except queries.InvalidCursorError as exc:
        raise GatewayError("InvalidRequest", str(exc), {"field": "cursor"}) from exc


def _known_token(engine: EngineDep, token: str) -> str:
    address = _address(token, "token")
    if _read(lambda: queries.municipality(engine, address)) is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return address


@router.get("/tokens", openapi_extra=codes("DatabaseUnavailable"))
def list_tokens(engine: EngineDep) -> list[queries.Municipality]:
    """Every municipality the factory has deployed, oldest first."""
    return _read(lambda: queries.municipalities(engine))


@router.get("/tokens/{token}/dashboard", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def token_dashboard(engine: EngineDep, token: AddressPath) -> queries.Dashboard:
    """Issued, subsidy, circulating supply, redeemed, cashback, refunds, holders, programs."""
    address = _address(token, "token")
    found = _read(lambda: queries.dashboard(engine, address))
    if found is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return found


@router.get("/tokens/{token}/programs", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def token_programs(
    engine: EngineDep,
    token: AddressPath,
    kind: Annotated[
        Literal["merkle", "reward"] | None,
        Query(description="merkle (recipient lists) or reward (attestations); default: both"),
    ] = None,
) -> list[queries.ProgramSummary]:
    """A municipality's policy programs with budget, granted, claimed, spent, returned."""
    address = _known_token(engine, token)
    found = _read(lambda: queries.programs(engine, address))
    return [p for p in found if kind is None or p.kind == kind]


@router.get(
    "/tokens/{token}/programs/{program_id}", openapi_extra=codes("NotFound", "DatabaseUnavailable")
)
def token_program(
    engine: EngineDep, token: AddressPath, program_id: Annotated[int, Path(ge=1, le=2**62)]
) -> queries.ProgramSummary:
    address = _known_token(engine, token)
    found = _read(lambda: queries.program(engine, address, program_id))
    if found is None:
        raise GatewayError(
            "NotFound",
            f"no program {program_id} in {token}",
            {"token": token, "program_id": program_id},
        )
    return found


@router.get("/tokens/{token}/funding", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def token_funding(engine: EngineDep, token: AddressPath) -> queries.Funding:
    """Who funds discounts and cashback: the funding plan versions, what each funded and every
    funder's totals (as the token's ``funderTotals`` computes them), and merchants' own extras."""
    address = _address(token, "token")
    found = _read(lambda: queries.funding(engine, address))
    if found is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return found


@router.get("/wallets/{address}/balances", openapi_extra=codes("DatabaseUnavailable"))
def wallet_balances(
    engine: EngineDep, address: AddressPath, token: TokenQuery = None
) -> list[queries.TokenBalance]:
    """General balance and program pockets (soonest expiry first) in every token touched."""
    holder = _address(address, "address")
    only = _optional_address(token, "token")
    return _read(lambda: queries.balances(engine, holder, token=only))


@router.get("/wallets/{address}/history", openapi_extra=codes("DatabaseUnavailable"))
def wallet_history(
    engine: EngineDep,
    address: AddressPath,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
    token: TokenQuery = None,
) -> queries.HistoryPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    holder = _address(address, "address")
    only = _optional_address(token, "token")
    return _paged(lambda: queries.history(engine, holder, cursor=cursor, limit=limit, token=only))


@router.get("/merchants/{address}/sales", openapi_extra=codes("DatabaseUnavailable"))
def merchant_sales(
    engine: EngineDep,
    address: AddressPath,
    token: TokenQuery = None,
    since: OptionalTime = None,
    until: OptionalTime = None,
) -> list[queries.MerchantSales]:
    """A merchant's payments, cancellations and redemptions per token."""
    merchant = _address(address, "address")
    only = _optional_address(token, "token")
    return _read(
        lambda: queries.merchant_sales(engine, merchant, token=only, since=since, until=until)
    )


StatusQuery = Annotated[
    queries.InvoiceStatus | None, Query(description="only invoices in this state (default: all)")
]
CursorQuery = Annotated[str | None, Query(max_length=64)]
LimitQuery = Annotated[int, Query(ge=1, le=queries.MAX_PAGE)]


@router.get("/wallets/{address}/payment-requests", openapi_extra=codes("DatabaseUnavailable"))
def wallet_payment_requests(
    engine: EngineDep,
    address: AddressPath,
    status: StatusQuery = None,
    token: TokenQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> queries.InvoicePage:
    """Remote payment requests merchants sent this wallet, newest first; pass
    ``next_cursor`` back as ``cursor`` for the next page."""
    payer = _address(address, "address")
    only = _optional_address(token, "token")
    return _paged(
        lambda: queries.payment_requests(
            engine, payer, status=status, token=only, cursor=cursor, limit=limit
        )
    )


@router.get("/merchants/{address}/invoices", openapi_extra=codes("DatabaseUnavailable"))
def merchant_invoices(
    engine: EngineDep,
    address: AddressPath,
    status: StatusQuery = None,
    token: TokenQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> queries.InvoicePage:
    """A merchant's invoices and payment requests, newest first, with the payment that paid
    each one."""
    merchant = _address(address, "address")
    only = _optional_address(token, "token")
    return _paged(
        lambda: queries.merchant_invoices(
            engine, merchant, status=status, token=only, cursor=cursor, limit=limit
        )
    )


@router.get("/indexer/status", openapi_extra=codes("NotReady", "DatabaseUnavailable"))
def indexer_status(engine: EngineDep) -> queries.IndexerStatus:
    """The last indexed block, the head the indexer last saw and the lag between them."""
    found = _read(lambda: queries.indexer_status(engine))
    if found is None:
        raise GatewayError("NotReady", "nothing is indexed yet")
    return found


@router.get("/tokens/{token}/series", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def token_series(
    engine: EngineDep,
    token: AddressPath,
    days: Annotated[int, Query(ge=1, le=400, description="buckets, ending today")] = 30,
) -> queries.DailySeries:
    """Daily figures in Korea Standard Time: sales face / paid / subsidy, payments and their
    volume, cashback, gifts, redemptions, and at each day's end the circulating supply,
    holders and registered merchants. Aggregates only, like the dashboard."""
    address = _address(token, "token")
    found = _read(lambda: queries.daily_series(engine, address, days=days))
    if found is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return found


@router.get("/tokens/{token}/rules", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def token_rules(engine: EngineDep, token: AddressPath) -> queries.RulesView:
    """The rules in force, proposed changes with the time they take effect, and every change
    (newest first). Public, as on chain."""
    address = _address(token, "token")
    found = _read(lambda: queries.rules_view(engine, address))
    if found is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return found


@router.get("/tokens/{token}/rules/history", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def token_rules_history(engine: EngineDep, token: AddressPath) -> list[queries.RuleChange]:
    """Every rule change of a municipality (proposed, activated, cancelled), newest first,
    from the index. Public, as on chain."""
    address = _address(token, "token")
    found = _read(lambda: queries.rules_view(engine, address))
    if found is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return found.history


@router.get("/tokens/{token}/merchants", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def token_merchants(
    engine: EngineDep,
    token: AddressPath,
    search: Annotated[str | None, Query(max_length=42, pattern=r"^(0x)?[0-9a-fA-F]*$")] = None,
    status: Annotated[
        Literal["active", "suspended", "cancelled"] | None, Query(description="lifecycle")
    ] = None,
    tier: Annotated[int | None, Query(ge=0, le=255)] = None,
    category: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="KSIC code")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
) -> queries.MerchantPage:
    """A municipality's merchants (part of an address, status, tier, category), in pages."""
    address = _known_token(engine, token)

    def page() -> queries.MerchantPage:
        return queries.merchant_list(
            engine, address, search=search, status=status, tier=tier, category=category,
            offset=offset, limit=limit,
        )  # fmt: skip

    return _read(page)


@router.get(
    "/wallets/{address}/caps", openapi_extra=codes("NotFound", "NotReady", "DatabaseUnavailable")
)
def wallet_caps(
    engine: EngineDep,
    address: AddressPath,
    token: Annotated[str, Query(pattern=_ADDRESS.pattern, description="the municipality")],
) -> queries.MonthlyCaps:
    """This month's (KST) purchase and gift caps in one municipality, and what is left."""
    holder = _address(address, "address")
    tok = _known_token(engine, token)
    found = _read(lambda: queries.monthly_caps(engine, tok, holder))
    if found is None:
        raise GatewayError("NotReady", "the municipality's rules are not indexed yet")
    return found


class MerchantCall(BaseModel):
    """A registrar's transaction on one merchant, for their own wallet to sign and send."""

    to: str = Field(description="the municipality's token")
    data: str = Field(description="calldata, 0x-hex")
    function: str


_STATUS_CODES = {"reactivate": 1, "suspend": 2, "cancel": 3, "ban": 3}  # MerchantStatus


@router.get(
    "/tokens/{token}/merchants/{merchant}/call",
    openapi_extra=codes("NotFound", "InvalidRequest", "DatabaseUnavailable"),
)
def merchant_call(
    engine: EngineDep,
    token: AddressPath,
    merchant: AddressPath,
    action: Annotated[Literal["suspend", "reactivate", "cancel", "ban", "tier"], Query()],
    tier: Annotated[int | None, Query(ge=0, le=255, description="for action=tier")] = None,
    ban_days: Annotated[int, Query(ge=1, le=3650, description="for action=ban")] = 365,
) -> MerchantCall:
    """Builds ``setMerchantStatus`` (suspend, reactivate, cancel, ban: cancel barring
    re-registration for ``ban_days``) or ``updateMerchant`` (a new revenue tier). The gateway
    signs nothing: the registrar's wallet does, and the contract checks the role."""
    address = _known_token(engine, token)
    shop = _address(merchant, "merchant")
    page = _read(lambda: queries.merchant_list(engine, address, address=shop, limit=1))
    if not page.items:
        detail = f"{merchant} is not a merchant of {token}"
        raise GatewayError("NotFound", detail, {"merchant": merchant})
    record = page.items[0]
    if action == "tier":
        if tier is None:
            raise GatewayError("InvalidRequest", "action=tier needs tier", {"field": "tier"})
        function, args = "updateMerchant", (record.merchant, record.category, tier)
    else:
        until = int(time.time()) + ban_days * 86_400 if action == "ban" else 0
        function, args = "setMerchantStatus", (record.merchant, _STATUS_CODES[action], until)
    data = "0x" + encode_function(function, args).hex()
    return MerchantCall(to=checksum(address), data=data, function=function)


@router.get(
    "/merchants/{address}/settlements",
    openapi_extra=codes("NotFound", "DatabaseUnavailable"),
)
def merchant_settlement_lines(
    engine: EngineDep,
    manifest: ManifestDep,
    address: AddressPath,
    token: Annotated[str, Query(pattern=_ADDRESS.pattern, description="the municipality")],
) -> list[MerchantSettlement]:
    """The merchant's lines in the municipality's issued settlement batches: which of its
    redemptions (by its own references) the bank was told to pay, in which batch."""
    merchant = _address(address, "address")
    tok = _known_token(engine, token)
    return _read(lambda: merchant_settlements(engine, manifest.chain_id, tok, merchant))
