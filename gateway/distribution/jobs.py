"""Distribution jobs: a recipients CSV -> a saved tree -> a job bound to the committed program."""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, Engine, Row, func, insert, select, update

from chain.protocol.merkle import MerkleInputError, MerkleTree
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t
from gateway.distribution.trees import ensure_leaves, tree_path
from gateway.errors import GatewayError

DEFAULT_BATCH = 500
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class JobStatus:
    id: str
    token: str
    root: str
    count: int  # leaves (recipients, a recipient listed twice counting twice)
    total: int  # won over every leaf: the budget the program needs
    batch_size: int
    program_id: int | None  # once the commit is indexed
    status: str  # built | committed | pushing | interrupted | done | failed
    pushed: int  # grants paid by this job's transactions
    pushed_amount: int
    skipped_claimed: int  # leaves found already claimed (pulled, or pushed by a lost attempt)
    claimed_elsewhere: int  # sent, but paid by someone else before the transaction mined
    remaining: int
    progress_pct: float
    error_code: str | None
    error_detail: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class BatchRecord:
    first_index: int
    last_index: int
    status: str
    sent: int
    skipped: int
    paid: int
    paid_amount: int
    tx_hash: str | None
    gas_used: int | None
    block_number: int | None
    attempts: int


@dataclass(frozen=True, slots=True)
class JobReport:
    job: JobStatus
    batches: list[BatchRecord]
    tx_hashes: list[str]
    gas_used: int


def create_job(
    engine: Engine,
    trees_dir: Path,
    chain_id: int,
    token: str,
    csv: str | Path,
    *,
    batch_size: int = DEFAULT_BATCH,
) -> JobStatus:
    """Builds and saves the tree of a recipients CSV (``address,amount`` rows) for ``token``:
    the CSV's text, or a file it is read from line by line (an upload streamed to disk)."""
    try:
        source = io.StringIO(csv, newline="") if isinstance(csv, str) else csv
        tree = MerkleTree.from_csv(source)
    except MerkleInputError as exc:
        raise GatewayError("InvalidRequest", f"recipients CSV {exc}", {"line": exc.line}) from None
    root = "0x" + tree.root.hex()
    total = sum(leaf.amount for leaf in tree)
    if total > _INT64_MAX:
        raise GatewayError("InvalidRequest", "the list's total does not fit a program budget")
    trees_dir.mkdir(parents=True, exist_ok=True)
    path = tree_path(trees_dir, root)
    if not path.exists():
        tree.save(path)
    now = time.time()
    job_id = uuid.uuid4().hex
    row = {"id": job_id, "chain_id": chain_id, "token": token.lower(), "root": root,
           "leaf_count": len(tree), "total": total, "batch_size": max(1, min(batch_size, 2_000)),
           "status": d.BUILT, "created_at": now, "updated_at": now}  # fmt: skip
    with engine.begin() as conn:
        ensure_leaves(conn, root, tree)
        conn.execute(insert(d.distribution_jobs).values(row))
    return job_status(engine, job_id)


def job_row(conn: Connection, job_id: str) -> Row[tuple[object, ...]]:
    row = conn.execute(select(d.distribution_jobs).where(d.distribution_jobs.c.id == job_id))
    found = row.first()
    if found is None:
        raise GatewayError("NotFound", f"no distribution job {job_id}", {"job": job_id})
    return found


def bind_program(conn: Connection, job: Row[tuple[object, ...]]) -> int | None:
    """The program committing the job's root: the oldest one no other job has taken (a city
    may run the same list twice, as two programs with one root)."""
    if job.program_id is not None:
        return int(job.program_id)
    j, p = d.distribution_jobs.c, t.programs.c
    taken = select(j.program_id).where(
        j.chain_id == job.chain_id, j.token == job.token, j.program_id.is_not(None)
    )
    program_id = conn.execute(
        select(p.program_id)
        .where(p.chain_id == job.chain_id, p.token == job.token, p.root == job.root)
        .where(p.program_id.not_in(taken))
        .order_by(p.program_id)
        .limit(1)
    ).scalar()
    if program_id is None:
        return None
    status = d.COMMITTED if job.status == d.BUILT else job.status
    conn.execute(
        update(d.distribution_jobs)
        .where(j.id == job.id)
        .values(program_id=program_id, status=status, updated_at=time.time())
    )
    return int(program_id)


def attach_program(engine: Engine, job_id: str, program_id: int) -> JobStatus:
    """Binds a job to the program its caller has just committed (the CLI reads the id from
    its own receipt instead of waiting for the index). The pusher still checks the program's
    root on chain before sending anything."""
    j = d.distribution_jobs.c
    with engine.begin() as conn:
        job = job_row(conn, job_id)
        taken = conn.execute(
            select(j.id).where(
                j.chain_id == job.chain_id,
                j.token == job.token,
                j.program_id == program_id,
                j.id != job_id,
            )
        ).scalar()
        bound = job.program_id is not None and int(job.program_id) != program_id
        if taken is not None or bound:
            args = {"job": job_id, "program_id": program_id, "other_job": taken}
            raise GatewayError("DistributionBusy", "another job pushes that program", args)
        status = d.COMMITTED if job.status == d.BUILT else job.status
        conn.execute(
            update(d.distribution_jobs)
            .where(j.id == job_id)
            .values(program_id=program_id, status=status, updated_at=time.time())
        )
    return job_status(engine, job_id)


def job_status(engine: Engine, job_id: str) -> JobStatus:
    with engine.begin() as conn:
        job = job_row(conn, job_id)
        bind_program(conn, job)
        return status_of_job(conn, job_row(conn, job_id))


def list_jobs(engine: Engine, chain_id: int, token: str | None = None) -> list[JobStatus]:
    j = d.distribution_jobs.c
    query = select(j.id).where(j.chain_id == chain_id).order_by(j.created_at)
    if token is not None:
        query = query.where(j.token == token.lower())
    with engine.connect() as conn:
        ids = list(conn.execute(query).scalars())
    return [job_status(engine, job_id) for job_id in ids]


def lease_lapsed(job: Row[tuple[object, ...]]) -> bool:
    return job.status == d.PUSHING and (job.lease_until or 0) < time.time()


def status_of_job(conn: Connection, job: Row[tuple[object, ...]]) -> JobStatus:
    b = d.distribution_batches.c
    sums = conn.execute(
        select(
            func.coalesce(func.sum(b.paid), 0),
            func.coalesce(func.sum(b.paid_amount), 0),
            func.coalesce(func.sum(b.skipped), 0),
            func.coalesce(func.sum(b.sent - b.paid).filter(b.status == d.MINED), 0),
        ).where(b.job_id == job.id, b.status.in_((d.MINED, d.SKIPPED)))
    ).one()
    pushed, amount, skipped, elsewhere = (int(v) for v in sums)
    count = int(job.leaf_count)
    remaining = max(0, count - pushed - skipped - elsewhere)
    return JobStatus(
        id=str(job.id),
        token=to_checksum_address(str(job.token)),
        root=str(job.root),
        count=count,
        total=int(job.total),
        batch_size=int(job.batch_size),
        program_id=None if job.program_id is None else int(job.program_id),
        # A pusher that died keeps its status until its lease runs out; say so, not "pushing".
        status=d.INTERRUPTED if lease_lapsed(job) else str(job.status),
        pushed=pushed,
        pushed_amount=amount,
        skipped_claimed=skipped,
        claimed_elsewhere=elsewhere,
        remaining=remaining,
        progress_pct=round(100.0 * (count - remaining) / count, 2) if count else 100.0,
        error_code=job.error_code,
        error_detail=job.error_detail,
        created_at=float(job.created_at),
        updated_at=float(job.updated_at),
    )


def job_report(engine: Engine, job_id: str) -> JobReport:
    """The job's figures with every batch, its transaction hashes and the gas they used."""
    status = job_status(engine, job_id)
    b = d.distribution_batches.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(d.distribution_batches).where(b.job_id == job_id).order_by(b.first_index)
        ).all()
    fields = BatchRecord.__dataclass_fields__
    batches = [BatchRecord(**{name: r._mapping[name] for name in fields}) for r in rows]
    hashes = [x.tx_hash for x in batches if x.tx_hash is not None and x.status == d.MINED]
    gas = sum(x.gas_used or 0 for x in batches if x.status == d.MINED)
    return JobReport(status, batches, hashes, gas)
