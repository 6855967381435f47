"""Bulk onboarding jobs: a residents' or merchants' CSV loaded onto the chain in batches.

A job is keyed by what it loads (kind, the file's SHA-256, the registry or voucher token), so
running the same file again finds the same job: a finished job is a no-op, an unfinished one
resumes after ``cursor``, the last line whose window is on chain and in these tables. Rows
refused by validation or by the chain are kept in ``import_errors`` in the same transaction
as the cursor, so the error report is exact whatever crashed when.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from gateway.db.schema import metadata

ADDRESS = String(42)

# Job kinds and statuses: `running` while an importer works on it (or died doing so: the
# next run of the same file resumes it), `done` once every line is read and committed.
RESIDENTS, MERCHANTS = "residents", "merchants"
RUNNING, DONE = "running", "done"

import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("chain_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # residents | merchants
    Column("file_digest", String(64), nullable=False),  # SHA-256 of the CSV, hex
    Column("file_name", Text, nullable=False),  # as given, for people; the digest decides
    # The identity registry (residents) or the municipality's voucher token (merchants).
    Column("token", ADDRESS, nullable=False),
    Column("region", Integer, nullable=True),  # merchants: the municipality's region
    Column("rows_read", BigInteger, nullable=False),
    Column("rows_ok", BigInteger, nullable=False),  # registered now or found registered
    Column("rows_failed", BigInteger, nullable=False),
    Column("rows_existing", BigInteger, nullable=False),  # of rows_ok: already on chain
    Column("cursor", BigInteger, nullable=False),  # the last committed line (1: the header)
    Column("transactions", Integer, nullable=False),
    Column("gas_used", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("seconds", Float, nullable=False),  # time spent importing, over every run
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_import_jobs_file", "chain_id", "kind", "token", "file_digest"),
)

# One line of the error report: the CSV's line number (the header is line 1), the wallet as
# written (it may be what is wrong), the error code and what a person should fix.
import_errors = Table(
    "import_errors",
    metadata,
    Column("job_id", String(32), ForeignKey("import_jobs.id"), primary_key=True),
    Column("line", BigInteger, primary_key=True),
    Column("wallet", Text, nullable=False),
    Column("code", String(64), nullable=False),
    Column("detail", Text, nullable=False),
)

__all__ = ["DONE", "MERCHANTS", "RESIDENTS", "RUNNING", "import_errors", "import_jobs"]
