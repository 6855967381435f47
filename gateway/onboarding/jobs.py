"""Import jobs in the gateway's database: found by the file they load, resumed at the cursor.

A window's outcome (its rows' profiles, its errors, the counters and the cursor) is committed
in one transaction after its transactions are mined, so a crash loses at most the window's
bookkeeping, never a registration: the next run re-reads the window and finds its wallets
registered on chain.
"""

from __future__ import annotations

import csv
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update

from gateway.db.tables import onboarding as o
from gateway.errors import GatewayError
from gateway.onboarding.rows import RowError

__all__ = [
    "ImportJob",
    "commit_window",
    "file_digest",
    "find_or_create_job",
    "import_job",
    "write_error_report",
]


@dataclass(frozen=True, slots=True)
class ImportJob:
    id: str
    kind: str
    file_digest: str
    token: str
    region: int | None
    rows_read: int
    rows_ok: int
    rows_failed: int
    rows_existing: int
    cursor: int
    transactions: int
    gas_used: int
    status: str
    seconds: float

    def summary(self) -> dict[str, object]:
        """What ``dongne import ... --json`` prints."""
        return {
            "job": self.id, "kind": self.kind, "status": self.status, "rows": self.rows_read,
            "ok": self.rows_ok, "failed": self.rows_failed, "already_registered":
            self.rows_existing, "transactions": self.transactions, "gas_used": self.gas_used,
            "seconds": round(self.seconds, 3), "cursor": self.cursor,
        }  # fmt: skip


def file_digest(path: Path) -> str:
    """SHA-256 of the file, read in blocks (it may be hundreds of megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _job(conn: Connection, job_id: str) -> ImportJob:
    row = conn.execute(select(o.import_jobs).where(o.import_jobs.c.id == job_id)).first()
    if row is None:
        raise GatewayError("NotFound", f"no import job {job_id}", {"job": job_id})
    return ImportJob(
        row.id, row.kind, row.file_digest, row.token, row.region, row.rows_read, row.rows_ok,
        row.rows_failed, row.rows_existing, row.cursor, row.transactions, row.gas_used,
        row.status, row.seconds,
    )  # fmt: skip


def import_job(engine: Engine, job_id: str) -> ImportJob:
    with engine.connect() as conn:
        return _job(conn, job_id)


def find_or_create_job(
    engine: Engine,
    *,
    chain_id: int,
    kind: str,
    token: str,
    region: int | None,
    path: Path,
    job_id: str | None = None,
) -> ImportJob:
    """The job loading ``path``: ``job_id``'s (the file must be the one it started with), or
    the newest job of the same file for the same registry or token, or a new one."""
    digest = file_digest(path)
    j = o.import_jobs.c
    with engine.begin() as conn:
        if job_id is not None:
            job = _job(conn, job_id)
            if (job.file_digest, job.kind, job.token) != (digest, kind, token.lower()):
                raise GatewayError(
                    "ImportFileChanged",
                    f"job {job_id} loads another file (or kind, or city) than {path.name}",
                    {"job": job_id, "file_digest": digest},
                )
            return job
        found = conn.execute(
            select(j.id)
            .where(j.chain_id == chain_id, j.kind == kind, j.token == token.lower())
            .where(j.file_digest == digest)
            .order_by(j.created_at.desc())
            .limit(1)
        ).scalar()
        if found is not None:
            return _job(conn, str(found))
        now = time.time()
        new_id = uuid.uuid4().hex
        conn.execute(
            insert(o.import_jobs).values(
                id=new_id,
                chain_id=chain_id,
                kind=kind,
                file_digest=digest,
                file_name=str(path),
                token=token.lower(),
                region=region,
                rows_read=0,
                rows_ok=0,
                rows_failed=0,
                rows_existing=0,
                cursor=1,
                transactions=0,
                gas_used=0,
                status=o.RUNNING,
                seconds=0.0,
                created_at=now,
                updated_at=now,
            )
        )
        return _job(conn, new_id)


@dataclass(frozen=True, slots=True)
class WindowOutcome:
    last_line: int  # the window's last line: the new cursor
    read: int
    ok: int
    existing: int
    errors: Sequence[RowError]
    transactions: int
    gas_used: int
    seconds: float


def commit_window(conn: Connection, job_id: str, outcome: WindowOutcome, *, done: bool) -> None:
    """Counters, errors and cursor of one window, in the caller's transaction (the one that
    writes the window's profiles)."""
    j = o.import_jobs.c
    if outcome.errors:
        conn.execute(
            insert(o.import_errors),
            [
                {
                    "job_id": job_id,
                    "line": e.line,
                    "wallet": e.wallet[:200],
                    "code": e.code,
                    "detail": e.detail,
                }
                for e in outcome.errors
            ],
        )
    conn.execute(
        update(o.import_jobs)
        .where(j.id == job_id)
        .values(
            rows_read=j.rows_read + outcome.read,
            rows_ok=j.rows_ok + outcome.ok,
            rows_failed=j.rows_failed + len(outcome.errors),
            rows_existing=j.rows_existing + outcome.existing,
            cursor=outcome.last_line,
            transactions=j.transactions + outcome.transactions,
            gas_used=j.gas_used + outcome.gas_used,
            seconds=j.seconds + outcome.seconds,
            status=o.DONE if done else o.RUNNING,
            updated_at=time.time(),
        )
    )


def write_error_report(engine: Engine, job_id: str, path: Path) -> int:
    """The job's refused rows as CSV (line, wallet, code, detail), in line order; the count."""
    e = o.import_errors.c
    count = 0
    with engine.connect() as conn, path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("line", "wallet", "code", "detail"))
        query = select(e.line, e.wallet, e.code, e.detail).where(e.job_id == job_id)
        for row in conn.execution_options(stream_results=True).execute(query.order_by(e.line)):
            writer.writerow(tuple(row))
            count += 1
    return count
