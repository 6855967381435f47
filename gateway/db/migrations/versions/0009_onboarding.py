"""bulk onboarding: import jobs (file digest, counters, cursor) and their per-row errors

Revision ID: 0009_onboarding
Revises: 0008_relay_request_trace
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_onboarding"
down_revision = "0008_relay_request_trace"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(42)


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_digest", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("region", sa.Integer, nullable=True),
        sa.Column("rows_read", sa.BigInteger, nullable=False),
        sa.Column("rows_ok", sa.BigInteger, nullable=False),
        sa.Column("rows_failed", sa.BigInteger, nullable=False),
        sa.Column("rows_existing", sa.BigInteger, nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("transactions", sa.Integer, nullable=False),
        sa.Column("gas_used", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_jobs"),
    )
    op.create_index(
        "ix_import_jobs_file", "import_jobs", ["chain_id", "kind", "token", "file_digest"]
    )
    op.create_table(
        "import_errors",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("wallet", sa.Text, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["import_jobs.id"], name="fk_import_errors_job_id_import_jobs"
        ),
        sa.PrimaryKeyConstraint("job_id", "line", name="pk_import_errors"),
    )


def downgrade() -> None:
    op.drop_table("import_errors")
    op.drop_table("import_jobs")
