"""distribution jobs, settlement batches, fraud thresholds and declared wallet links

Revision ID: 0003_distribution
Revises: 0002_indexer
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_distribution"
down_revision = "0002_indexer"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(42)
_HASH = sa.String(66)


def upgrade() -> None:
    op.create_table(
        "distribution_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("root", _HASH, nullable=False),
        sa.Column("leaf_count", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("program_id", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_detail", sa.Text, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_distribution_jobs"),
    )
    op.create_index("ix_distribution_jobs_root", "distribution_jobs", ["chain_id", "token", "root"])
    op.create_table(
        "distribution_leaves",
        sa.Column("root", _HASH, nullable=False),
        sa.Column("leaf_index", sa.BigInteger, nullable=False),
        sa.Column("recipient", _ADDRESS, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("root", "leaf_index", name="pk_distribution_leaves"),
    )
    op.create_index(
        "ix_distribution_leaves_recipient", "distribution_leaves", ["root", "recipient"]
    )
    op.create_table(
        "distribution_batches",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("first_index", sa.BigInteger, nullable=False),
        sa.Column("last_index", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sent", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("paid", sa.Integer, nullable=False),
        sa.Column("paid_amount", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", _HASH, nullable=True),
        sa.Column("nonce", sa.BigInteger, nullable=True),
        sa.Column("gas_used", sa.BigInteger, nullable=True),
        sa.Column("block_number", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["distribution_jobs.id"],
            name="fk_distribution_batches_job_id_distribution_jobs",
        ),
        sa.PrimaryKeyConstraint("job_id", "first_index", name="pk_distribution_batches"),
    )
    op.create_table(
        "settlement_batches",
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("since", sa.BigInteger, nullable=False),
        sa.Column("until", sa.BigInteger, nullable=False),
        sa.Column("merchants", sa.Integer, nullable=False),
        sa.Column("redemptions", sa.Integer, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("reference", name="pk_settlement_batches"),
    )
    op.create_index(
        "ix_settlement_batches_window", "settlement_batches", ["chain_id", "token", "since"]
    )
    op.create_table(
        "audit_thresholds",
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "token", name="pk_audit_thresholds"),
    )
    op.create_table(
        "audit_wallet_links",
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("wallet", _ADDRESS, nullable=False),
        sa.Column("relation", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint(
            "chain_id", "token", "merchant", "wallet", name="pk_audit_wallet_links"
        ),
    )


def downgrade() -> None:
    op.drop_table("audit_wallet_links")
    op.drop_table("audit_thresholds")
    op.drop_index("ix_settlement_batches_window", table_name="settlement_batches")
    op.drop_table("settlement_batches")
    op.drop_table("distribution_batches")
    op.drop_index("ix_distribution_leaves_recipient", table_name="distribution_leaves")
    op.drop_table("distribution_leaves")
    op.drop_index("ix_distribution_jobs_root", table_name="distribution_jobs")
    op.drop_table("distribution_jobs")
