"""Distribution jobs over HTTP, and the Merkle proofs wallets pull their grants with.

    POST /v1/distributions?token=0x..      recipients CSV (text/csv, or a multipart file part)
    GET  /v1/distributions/{id}            status and progress
    GET  /v1/distributions/{id}/commit-call the createProgram call for the manager's wallet
    POST /v1/distributions/{id}/push       start (or resume) pushing; 202, then poll the status
    GET  /v1/distributions/{id}/report     figures, every batch, transaction hashes, gas

Pushes run in a daemon thread of this process. A push cut short by a restart is resumed by
asking for it again: the job's records and the claimed bitmap make resuming exact.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Annotated

from eth_account import Account
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import Engine

from chain.protocol.calls import ProgramParams, encode_create_program
from chain.rpc import RpcClient
from gateway import distribution
from gateway.errors import GatewayError
from gateway.http.access import record_staff_action
from gateway.http.deps import EngineDep, ManifestDep, SettingsDep
from gateway.http.openapi import codes
from gateway.http.params import ADDRESS_PATTERN
from gateway.http.routes.audit import address, guarded, known_token
from gateway.http.uploads import csv_upload
from gateway.settings import Settings

router = APIRouter(tags=["distribution"])
log = logging.getLogger("dongne.distribution")

JobPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
MAX_CSV_BYTES = 256 * 1024 * 1024


_running: dict[str, threading.Thread] = {}
_running_lock = threading.Lock()


CSV_BODY: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": "address,amount\n0x...,300000\n"},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.post(
    "/v1/distributions",
    status_code=201,
    openapi_extra={**CSV_BODY, **codes("NotFound", "DistributionBusy", "DatabaseUnavailable")},
)
async def create_distribution(
    request: Request,
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: Annotated[str, Query(pattern=ADDRESS_PATTERN, description="the municipality's token")],
    batch_size: Annotated[int, Query(ge=1, le=2_000)] = distribution.DEFAULT_BATCH,
) -> distribution.JobStatus:
    """Builds the tree of a recipients list (``address,amount`` rows) and answers its root,
    total and count. The program manager then commits the root with their own key."""
    found = await asyncio.to_thread(known_token, engine, manifest.chain_id, token)
    trees = distribution.trees_dir(settings)
    upload = await csv_upload(request, trees / "uploads", MAX_CSV_BYTES)
    try:
        job: distribution.JobStatus = await asyncio.to_thread(
            guarded,
            lambda: distribution.create_job(
                engine, trees, manifest.chain_id, found, upload, batch_size=batch_size
            ),
        )
    finally:
        upload.unlink(missing_ok=True)
    summary = {"job": job.id, "root": job.root, "count": job.count, "total": job.total}
    await asyncio.to_thread(
        record_staff_action, request, engine, "distribution.create", token=found, after=summary
    )
    return job


@router.get("/v1/distributions", openapi_extra=codes("DatabaseUnavailable"))
def list_distributions(
    engine: EngineDep,
    manifest: ManifestDep,
    token: Annotated[str | None, Query(pattern=ADDRESS_PATTERN)] = None,
) -> list[distribution.JobStatus]:
    only = None if token is None else address(token, "token")
    return guarded(lambda: distribution.list_jobs(engine, manifest.chain_id, only))


@router.get("/v1/distributions/{job_id}", openapi_extra=codes("NotFound", "DatabaseUnavailable"))
def get_distribution(engine: EngineDep, job_id: JobPath) -> distribution.JobStatus:
    """Status and progress; ``program_id`` appears once the commit is indexed."""
    return guarded(lambda: distribution.job_status(engine, job_id))


@router.get(
    "/v1/distributions/{job_id}/report", openapi_extra=codes("NotFound", "DatabaseUnavailable")
)
def distribution_report(engine: EngineDep, job_id: JobPath) -> distribution.JobReport:
    """Count, total, pushed, skipped as already claimed, every batch with its transaction."""
    return guarded(lambda: distribution.job_report(engine, job_id))


@router.post(
    "/v1/distributions/{job_id}/push",
    openapi_extra=codes(
        "NotFound",
        "DistributionNotCommitted",
        "DistributionBusy",
        "NotReady",
        "DatabaseUnavailable",
    ),
    status_code=202,
)
def push_distribution(
    request: Request, engine: EngineDep, settings: SettingsDep, job_id: JobPath
) -> distribution.JobStatus:
    """Starts pushing (or resumes) in the background; poll the job for progress."""
    key = settings.distribution_key
    if key is None:
        raise GatewayError(
            "NotReady", "no distribution key is configured (DONGNE_DISTRIBUTION_KEY)"
        )
    status = guarded(lambda: distribution.job_status(engine, job_id))
    if status.program_id is None:
        args = {"root": status.root}
        detail = "no indexed program commits this root yet"
        raise GatewayError("DistributionNotCommitted", detail, args)
    with _running_lock:
        thread = _running.get(job_id)
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=_push, args=(engine, settings, key, job_id), name=f"push-{job_id[:8]}"
            )
            thread.daemon = True  # a push cut by shutdown resumes exactly when asked again
            _running[job_id] = thread
            thread.start()
    after = {"job": job_id, "program_id": status.program_id}
    record_staff_action(request, engine, "distribution.push", token=status.token, after=after)
    return status


class CommitCall(BaseModel):
    """The ``createProgram`` transaction committing a job's root, for the program manager's
    own wallet to sign and send (the portal, or any wallet that takes ``to`` and ``data``)."""

    to: str = Field(description="the municipality's token")
    data: str = Field(description="calldata, 0x-hex")
    root: str
    budget: int
    start: int
    expiry: int
    categories: list[int]
    ref: str = Field(description="bytes32: the job id, so the program names its list")


@router.get(
    "/v1/distributions/{job_id}/commit-call",
    openapi_extra=codes("NotFound", "DistributionCommitted", "DatabaseUnavailable"),
)
def commit_call(
    engine: EngineDep,
    job_id: JobPath,
    days: Annotated[int, Query(ge=1, le=3650, description="days the grants may be spent")] = 30,
    categories: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,6}(,[0-9]{1,6}){0,63}$", description="KSIC codes")
    ] = None,
    waive_revenue_cap: bool = False,
) -> CommitCall:
    """Builds the commit of a job's root (budget = the list's total, from now for ``days``)
    with the same calldata builder as the CLI; the gateway signs nothing. Only for a job
    still ``built``: once its program is committed (or the job moved on), 409
    DistributionCommitted, so no wallet is handed a second program for the same list."""
    status = guarded(lambda: distribution.job_status(engine, job_id))
    if status.program_id is not None or status.status != "built":
        args = {"job": job_id, "status": status.status, "program_id": status.program_id}
        detail = f"job {job_id} is {status.status}, program {status.program_id}: push it"
        raise GatewayError("DistributionCommitted", detail, args)
    now = int(time.time())
    allowed = tuple(sorted({int(c) for c in categories.split(",")})) if categories else ()
    ref = bytes.fromhex(job_id).ljust(32, b"\0")
    params = ProgramParams(
        root=bytes.fromhex(status.root.removeprefix("0x")),
        budget=status.total,
        start=now - 60,  # already open when the transaction mines
        expiry=now + days * 86_400,
        revenue_cap_waived=waive_revenue_cap,
        categories=allowed,
        ref=ref,
    )
    return CommitCall(
        to=status.token,
        data="0x" + encode_create_program(params).hex(),
        root=status.root,
        budget=params.budget,
        start=params.start,
        expiry=params.expiry,
        categories=list(allowed),
        ref="0x" + ref.hex(),
    )


def _push(engine: Engine, settings: Settings, key: SecretStr, job_id: str) -> None:
    sender = Account.from_key(key.get_secret_value())
    try:
        with RpcClient(settings.rpc_url) as rpc:
            distribution.push(engine, rpc, sender, distribution.trees_dir(settings), job_id)
    except Exception as exc:  # recorded on the job by push; the thread only logs it
        log.warning("distribution %s stopped: %s", job_id, exc)


# ------------------------------------------------------------------------------ proofs


@router.get(
    "/v1/programs/{token}/{program_id}/proofs/{index}",
    openapi_extra=codes("NotFound", "DatabaseUnavailable"),
)
def leaf_proof(
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: Annotated[str, Path(pattern=ADDRESS_PATTERN)],
    program_id: Annotated[int, Path(ge=1, le=2**62)],
    index: Annotated[int, Path(ge=0, le=2**62)],
) -> distribution.LeafProof:
    """The proof of one leaf, for ``claim`` or ``claimAndPay``."""
    found = known_token(engine, manifest.chain_id, token)
    trees = distribution.trees_dir(settings)
    proof = guarded(
        lambda: distribution.proof_for(engine, trees, manifest.chain_id, found, program_id, index)
    )
    if proof is None:
        args = {"token": token, "program_id": program_id, "index": index}
        raise GatewayError("NotFound", f"no leaf {index} of program {program_id} is known", args)
    return proof


@router.get(
    "/v1/programs/{token}/{program_id}/recipients/{recipient}/proofs",
    openapi_extra=codes("NotFound", "DatabaseUnavailable"),
)
def recipient_proofs(
    engine: EngineDep,
    manifest: ManifestDep,
    settings: SettingsDep,
    token: Annotated[str, Path(pattern=ADDRESS_PATTERN)],
    program_id: Annotated[int, Path(ge=1, le=2**62)],
    recipient: Annotated[str, Path(pattern=ADDRESS_PATTERN)],
) -> list[distribution.LeafProof]:
    """Every leaf of one recipient (a list may name someone more than once)."""
    found = known_token(engine, manifest.chain_id, token)
    wallet = address(recipient, "recipient")
    trees = distribution.trees_dir(settings)
    proofs = guarded(
        lambda: distribution.proofs_for_address(
            engine, trees, manifest.chain_id, found, program_id, wallet
        )
    )
    if proofs is None:
        args = {"token": token, "program_id": program_id}
        raise GatewayError("NotFound", f"the list of program {program_id} is not kept here", args)
    return proofs
