"""Auditor endpoints: reconciliation, ledger export, distribution verification, fraud flags
and settlement batches, per municipality under ``/v1/audit/{token}``.

Handlers are plain ``def`` (synchronous SQLAlchemy and ``chain.rpc``, run in the thread pool).
Reads of the chain use a client per request: audits are rare and long, not a hot path.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import Engine, Select, select
from sqlalchemy.exc import OperationalError

from chain.rpc import NodeUnavailableError, RpcClient, RpcError
from gateway import audit
from gateway.audit import bank_file, fraud, funders, payouts, settlement
from gateway.audit.settlement_schedule import indexed_time
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t
from gateway.distribution import trees_dir
from gateway.errors import GatewayError
from gateway.http.access import record_staff_action
from gateway.http.deps import EngineDep, ManifestDep, SettingsDep
from gateway.http.openapi import codes
from gateway.http.params import (
    ADDRESS_PATTERN,
    MAX_TIME,
    MIN_TIME,
    OptionalTime,
    Time,
    check_window,
    parse_time,
    plain_text,
)
from gateway.http.uploads import csv_upload
from gateway.settings import Settings

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_ADDRESS = re.compile(ADDRESS_PATTERN)
T = TypeVar("T")

TokenPath = Annotated[
    str, Path(pattern=_ADDRESS.pattern, description="the municipality's token address")
]
Since = OptionalTime
Until = OptionalTime
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
JSONL_MEDIA_TYPE = "application/x-ndjson"


def address(value: str, field: str) -> str:
    """A 0x address in lowercase, or a 400 naming the field."""
    if not _ADDRESS.fullmatch(value):
        args = {"field": field, "value": value[:100]}
        raise GatewayError("InvalidRequest", f"{field} is not a 0x-prefixed 20-byte address", args)
    return value.lower()


def guarded(work: Callable[[], T]) -> T:
    """Runs ``work``; an unreachable database or node is a retryable 503."""
    try:
        return work()
    except OperationalError as exc:
        raise GatewayError(
            "DatabaseUnavailable", f"the database is unavailable: {exc.orig}"
        ) from exc
    except NodeUnavailableError as exc:
        raise GatewayError("NodeUnavailable", str(exc)) from exc
    except RpcError as exc:  # e.g. a pruned node asked for the state at the index's block
        raise GatewayError(
            "NodeUnavailable", f"the node refused {exc.method}: {exc.message}"
        ) from exc


def known_token(engine: Engine, chain_id: int, token: str) -> str:
    """The token in lowercase if the index knows its municipality, else a 404."""
    found = address(token, "token")
    m = t.municipalities.c
    query = select(m.token).where(m.chain_id == chain_id, m.token == found)
    if guarded(lambda: _scalar(engine, query)) is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    return found


def _scalar(engine: Engine, query: Select[Any]) -> object:
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def _rpc(settings: Settings) -> RpcClient:
    return RpcClient(settings.rpc_url, timeout=60.0)


# ------------------------------------------------------------------------------ reconciliation


@router.get(
    "/{token}/reconcile",
    openapi_extra=codes("NotFound", "NotReady", "NodeUnavailable", "DatabaseUnavailable"),
)
def reconcile(
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: TokenPath,
    sample: Annotated[int | None, Query(ge=1, description="check a random sample")] = None,
    seed: Annotated[int | None, Query(ge=0, description="the sample's seed, to repeat it")] = None,
) -> audit.Reconciliation:
    """Index against chain at the index's block: supply, holders' balances, pockets, programs."""
    chain_id = manifest.chain_id
    found = known_token(engine, chain_id, token)
    with _rpc(settings) as rpc:
        return guarded(
            lambda: audit.reconcile(engine, rpc, chain_id, found, sample_size=sample, seed=seed)
        )


@router.get(
    "/{token}/ledger",
    response_class=Response,
    responses={
        200: {
            "description": "the rows, then the trailer line",
            "content": {
                CSV_MEDIA_TYPE.split(";")[0]: {"schema": {"type": "string"}},
                JSONL_MEDIA_TYPE: {"schema": {"type": "string"}},
            },
        }
    },
    openapi_extra=codes("NotFound", "DatabaseUnavailable"),
)
def ledger(
    engine: EngineDep,
    manifest: ManifestDep,
    token: TokenPath,
    since: Since = None,
    until: Until = None,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "csv",
) -> StreamingResponse:
    """Every money event in ``[since, until)``, in chain order: CSV or JSON lines, ending
    with a trailer (the row count and the SHA-256 of the rows) so a cut stream shows."""
    found = known_token(engine, manifest.chain_id, token)
    check_window(since, until, 1 << 30)  # the ledger has no cap, only an order
    entries = audit.ledger_entries(engine, manifest.chain_id, found, since, until)
    body: Iterator[str] = (
        audit.ledger_csv(entries) if format == "csv" else audit.ledger_jsonl(entries)
    )
    media = CSV_MEDIA_TYPE if format == "csv" else JSONL_MEDIA_TYPE
    name = f"ledger-{found}-{since or 0}-{until or 'now'}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=media, headers=headers)


# ------------------------------------------------------------------------------ distributions

ProgramPath = Annotated[int, Path(ge=1, le=2**62)]


@router.get(
    "/{token}/programs/{program_id}/verify",
    openapi_extra=codes("NotFound", "NodeUnavailable", "DatabaseUnavailable"),
)
def verify_program(
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: TokenPath,
    program_id: ProgramPath,
) -> audit.DistributionVerification:
    """Every indexed grant checked against the committed root with the gateway's saved tree."""
    found = known_token(engine, manifest.chain_id, token)
    trees = trees_dir(settings)
    return guarded(
        lambda: audit.verify_distribution(
            engine, manifest.chain_id, found, program_id, trees_dir=trees
        )
    )


@router.post(
    "/{token}/programs/{program_id}/verify",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "maxLength": 256 << 20}}},
        },
        **codes("NotFound", "NodeUnavailable", "DatabaseUnavailable"),
    },
)
async def verify_program_list(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: TokenPath,
    program_id: ProgramPath,
) -> audit.DistributionVerification:
    """The same checks against a recipients list the auditor brings (``text/csv`` body),
    streamed to disk and read line by line."""
    found = await asyncio.to_thread(known_token, engine, manifest.chain_id, token)
    upload = await csv_upload(request, trees_dir(settings) / "uploads", settings.max_upload_bytes)
    try:
        return await asyncio.to_thread(
            guarded,
            lambda: audit.verify_distribution(
                engine, manifest.chain_id, found, program_id, csv_text=upload
            ),
        )
    finally:
        upload.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ fraud


@router.get(
    "/{token}/fraud", openapi_extra=codes("WindowTooLarge", "NotFound", "DatabaseUnavailable")
)
def fraud_flags(
    engine: EngineDep,
    manifest: ManifestDep,
    token: TokenPath,
    settings: SettingsDep,
    since: Time,
    until: Time,
) -> list[fraud.Flag]:
    """Flags of every enabled rule, each with its thresholds and evidence rows."""
    found = known_token(engine, manifest.chain_id, token)
    check_window(since, until, settings.report_window_max_days)
    return guarded(lambda: fraud.flags(engine, manifest.chain_id, found, since, until))


@router.get("/{token}/thresholds", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def get_thresholds(engine: EngineDep, manifest: ManifestDep, token: TokenPath) -> fraud.Thresholds:
    found = known_token(engine, manifest.chain_id, token)
    return guarded(lambda: fraud.thresholds(engine, manifest.chain_id, found))


@router.put("/{token}/thresholds", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def put_thresholds(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    token: TokenPath,
    config: fraud.Thresholds,
) -> fraud.Thresholds:
    """Replaces the municipality's thresholds; rules or fields left out take the defaults."""
    found = known_token(engine, manifest.chain_id, token)
    before = guarded(lambda: fraud.thresholds(engine, manifest.chain_id, found))
    after = guarded(lambda: fraud.set_thresholds(engine, manifest.chain_id, found, config))
    record_staff_action(request, engine, "fraud.thresholds", token=found, before=before,
                        after=after)  # fmt: skip
    return after


class LinkIn(BaseModel):
    wallet: Annotated[str, Field(pattern=_ADDRESS.pattern)]
    relation: Annotated[str, plain_text(32, min_length=1)]
    note: Annotated[str, plain_text(500)] = ""


@router.get("/{token}/links", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def get_links(engine: EngineDep, manifest: ManifestDep, token: TokenPath) -> list[fraud.WalletLink]:
    """Wallets the city declared as linked to merchants (owner, family, staff)."""
    found = known_token(engine, manifest.chain_id, token)
    return guarded(lambda: fraud.links(engine, manifest.chain_id, found))


@router.put(
    "/{token}/merchants/{merchant}/links", openapi_extra=codes("NotFound", "DatabaseUnavailable")
)
def put_links(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    token: TokenPath,
    merchant: Annotated[str, Path(pattern=_ADDRESS.pattern)],
    wallets: Annotated[list[LinkIn], Body(max_length=1_000)],
) -> list[fraud.WalletLink]:
    """Replaces the wallets declared as linked to one merchant."""
    found = known_token(engine, manifest.chain_id, token)
    shop = address(merchant, "merchant")
    declared = [fraud.WalletLink(shop, w.wallet, w.relation, w.note) for w in wallets]
    every = guarded(lambda: fraud.links(engine, manifest.chain_id, found))
    before = [link for link in every if link.merchant.lower() == shop.lower()]
    after = guarded(lambda: fraud.set_links(engine, manifest.chain_id, found, shop, declared))
    record_staff_action(request, engine, "fraud.links", token=found, before=before, after=after)
    return after


# ------------------------------------------------------------------------------ settlement


class Window(BaseModel):
    since: Annotated[int, BeforeValidator(parse_time), Field(ge=MIN_TIME, le=MAX_TIME)]
    until: Annotated[int, BeforeValidator(parse_time), Field(ge=MIN_TIME, le=MAX_TIME)]


@router.get("/{token}/settlements", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def list_settlements(
    engine: EngineDep, manifest: ManifestDep, token: TokenPath
) -> list[settlement.SettlementBatch]:
    found = known_token(engine, manifest.chain_id, token)
    return guarded(lambda: settlement.list_batches(engine, manifest.chain_id, found))


@router.get(
    "/{token}/settlements/preview",
    openapi_extra=codes("WindowTooLarge", "NotFound", "DatabaseUnavailable"),
)
def preview_settlement(
    engine: EngineDep,
    manifest: ManifestDep,
    token: TokenPath,
    settings: SettingsDep,
    since: Time,
    until: Time,
) -> settlement.SettlementBatch:
    """What a batch of the window would hold now, without issuing it."""
    found = known_token(engine, manifest.chain_id, token)
    check_window(since, until, settings.report_window_max_days)
    return guarded(lambda: settlement.preview_batch(engine, manifest.chain_id, found, since, until))


@router.post(
    "/{token}/settlements",
    openapi_extra=codes(
        "WindowTooLarge",
        "NotFound",
        "SettlementWindowOpen",
        "SettlementOverlap",
        "SettlementUnreconciled",
        "NotReady",
        "NodeUnavailable",
        "DatabaseUnavailable",
    ),
    status_code=201,
)
def issue_settlement(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: TokenPath,
    window: Window,
) -> settlement.SettlementBatch:
    """Issues the batch of a closed window: per-merchant totals reconciled with the burns."""
    chain_id = manifest.chain_id
    found = known_token(engine, chain_id, token)
    check_window(window.since, window.until, settings.report_window_max_days)
    with _rpc(settings) as rpc:
        indexed_until = guarded(lambda: indexed_time(engine, chain_id, rpc))
    if indexed_until is None:
        raise GatewayError("NotReady", "nothing is indexed yet")
    batch = guarded(
        lambda: settlement.issue_batch(
            engine, chain_id, found, window.since, window.until, indexed_until=indexed_until
        )
    )
    summary = {"reference": batch.reference, "since": window.since, "until": window.until}
    record_staff_action(request, engine, "settlement.issue", token=found, after=summary)
    return batch


@router.get(
    "/{token}/settlements/{reference}",
    response_model=None,
    responses={
        200: {
            "description": "the batch (``format=json``) or the bank file (``format=csv``)",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SettlementBatch"}},
                CSV_MEDIA_TYPE.split(";")[0]: {"schema": {"type": "string"}},
            },
        }
    },
    openapi_extra=codes("NotFound", "DatabaseUnavailable"),
)
def get_settlement(
    engine: EngineDep,
    manifest: ManifestDep,
    token: TokenPath,
    reference: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> settlement.SettlementBatch | Response:
    """An issued batch, recomputed now (``issued_total`` keeps what it was issued with); with
    ``format=csv`` the bank file."""
    found = known_token(engine, manifest.chain_id, token)
    batch = guarded(lambda: settlement.get_batch(engine, manifest.chain_id, reference))
    if batch.token.lower() != found:
        raise GatewayError("NotFound", f"no settlement batch {reference} in {token}")
    if format == "json":
        return batch
    headers = {"Content-Disposition": f'attachment; filename="{reference}.csv"'}
    return Response(settlement.batch_csv(batch), media_type=CSV_MEDIA_TYPE, headers=headers)


BANK_MEDIA_TYPE = f"text/plain; charset={bank_file.ENCODING}"
Reference = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def _issued_batch(engine: Engine, chain_id: int, token: str, reference: str) -> str:
    """The batch's token if ``reference`` is a batch of ``token``, else a 404."""
    found = known_token(engine, chain_id, token)
    s = d.settlement_batches.c
    query = select(s.token).where(s.chain_id == chain_id, s.reference == reference)
    if guarded(lambda: _scalar(engine, query)) != found:
        raise GatewayError("NotFound", f"no settlement batch {reference} in {token}",
                           {"reference": reference})  # fmt: skip
    return found


@router.get(
    "/{token}/settlements/{reference}/file",
    response_model=bank_file.BankFile,  # the JSON twin; the bank file is sent as it is
    responses={
        200: {
            "description": "the bank's fixed-width file (``format=bank``, EUC-KR) or its JSON "
            "twin (``format=json``): header, a line per payee, trailer with control totals",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    openapi_extra=codes("NotFound", "SettlementUnreconciled", "DatabaseUnavailable"),
)
def settlement_file(
    engine: EngineDep,
    manifest: ManifestDep,
    token: TokenPath,
    reference: Reference,
    format: Annotated[Literal["bank", "json"], Query()] = "bank",
) -> bank_file.BankFile | Response:
    """The file the settlement bank loads: every line released in this batch (its own payees
    with an account on file, and earlier held lines whose account exists now). Refused while
    the batch does not reconcile with the burns."""
    _issued_batch(engine, manifest.chain_id, token, reference)
    batch = guarded(lambda: settlement.get_batch(engine, manifest.chain_id, reference))
    if batch.status != "released":
        raise GatewayError("SettlementUnreconciled", f"{reference} does not reconcile yet",
                           {"reference": reference, "unmatched": batch.unmatched})  # fmt: skip
    content = bank_file.bank_json(
        batch, [p for p in batch.lines if p.released_in == reference and p.status != "held"]
    )
    if format == "json":
        return content
    headers = {"Content-Disposition": f'attachment; filename="{reference}.txt"'}
    return Response(bank_file.bank_file(content), media_type=BANK_MEDIA_TYPE, headers=headers)


class Paid(BaseModel):
    reference: str
    lines: int  # lines marked paid


@router.post(
    "/{token}/settlements/{reference}/paid",
    openapi_extra=codes("NotFound", "SettlementAlreadyPaid", "DatabaseUnavailable"),
)
def settlement_paid(
    request: Request, engine: EngineDep, manifest: ManifestDep, token: TokenPath,
    reference: Reference,
) -> Paid:  # fmt: skip
    """The settlement bank confirms it paid the batch's file: its lines become ``paid``."""
    found = _issued_batch(engine, manifest.chain_id, token, reference)
    lines = guarded(lambda: payouts.mark_paid(engine, manifest.chain_id, reference))
    record_staff_action(request, engine, "settlement.paid", token=found,
                        after={"reference": reference, "lines": lines})  # fmt: skip
    return Paid(reference=reference, lines=lines)


# ------------------------------------------------------------------------------ funders


@router.get(
    "/{token}/funders",
    openapi_extra=codes("NotFound", "InvalidRequest", "NodeUnavailable", "DatabaseUnavailable"),
)
def funder_report(
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: TokenPath,
    since: Since = None,
    until: Until = None,
) -> funders.FunderReport:
    """What each funder owes for ``[since, until)`` (block time): its shares of discount
    subsidies and cashback under the funding plan in force at each event, and merchants' own
    extras. Without a window, the all-time report is checked against the chain's
    ``funderTotals`` and each merchant's ``extraTotal`` (``reconciled``)."""
    found = known_token(engine, manifest.chain_id, token)
    with _rpc(settings) as rpc:
        return guarded(
            lambda: funders.funder_report(engine, manifest.chain_id, found, since, until, rpc)
        )


# ------------------------------------------------------------------------------ deployed code


class ContractCheck(BaseModel):
    label: str
    contract: str
    address: str
    status: str  # match | differs | missing ...
    first_difference: int | None
    detail: str


class LinkCheck(BaseModel):
    contract: str
    what: str
    expected: str
    actual: str
    ok: bool


class CodeReport(BaseModel):
    ok: bool
    chain_id: int
    compiler: str
    contracts: list[ContractCheck]
    checks: list[LinkCheck]
    checked_at: float


_CODE_REPORT_TTL_S = 300.0  # a recompile takes seconds; deployed code changes only by upgrade
_code_reports: dict[str, CodeReport] = {}


@router.get(
    "/{token}/code",
    openapi_extra=codes("NotFound", "NodeUnavailable", "DatabaseUnavailable"),
)
def verify_code(
    engine: EngineDep, manifest: ManifestDep, settings: SettingsDep, token: TokenPath
) -> CodeReport:
    """Recompiles the pinned sources and compares every deployed contract of the network with
    the chain (``dongne audit verify-code``); the report is kept for five minutes."""
    # Lazily: the compiler toolchain is loaded only by the auditors who ask.
    from chain.verify import VerificationError, verify_deployment

    known_token(engine, manifest.chain_id, token)
    cached = _code_reports.get(settings.rpc_url)
    if cached is not None and time.time() - cached.checked_at < _CODE_REPORT_TTL_S:
        return cached
    try:
        report = guarded(lambda: verify_deployment(settings.rpc_url, manifest))
    except VerificationError as exc:
        raise GatewayError("NodeUnavailable", str(exc)) from exc
    answer = CodeReport(
        ok=report.ok,
        chain_id=report.chain_id,
        compiler=report.compiler,
        contracts=[
            ContractCheck(
                label=c.label,
                contract=c.contract,
                address=c.address,
                status=c.status,
                first_difference=c.first_difference,
                detail=c.detail,
            )
            for c in report.contracts
        ],
        checks=[
            LinkCheck(
                contract=c.contract, what=c.what, expected=c.expected, actual=c.actual, ok=c.ok
            )
            for c in report.checks
        ],
        checked_at=time.time(),
    )
    _code_reports[settings.rpc_url] = answer
    return answer
