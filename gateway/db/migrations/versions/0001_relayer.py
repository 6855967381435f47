"""relayer: accepted requests and batch transactions

Revision ID: 0001_relayer
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_relayer"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relay_requests",
        sa.Column("id", sa.String(66), primary_key=True),
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("signer", sa.String(42), nullable=False),
        sa.Column("target", sa.String(42), nullable=False),
        sa.Column("selector", sa.String(10), nullable=False),
        sa.Column("nonce", sa.BigInteger, nullable=False),
        sa.Column("deadline", sa.BigInteger, nullable=False),
        sa.Column("gas", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("block_number", sa.BigInteger, nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_args", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_relay_requests_status_created", "relay_requests", ["status", "created_at"])
    op.create_index("ix_relay_requests_signer_nonce", "relay_requests", ["signer", "nonce"])
    op.create_index("ix_relay_requests_tx_hash", "relay_requests", ["tx_hash"])
    op.create_table(
        "relay_batches",
        sa.Column("tx_hash", sa.String(66), primary_key=True),
        sa.Column("relayer", sa.String(42), nullable=False),
        sa.Column("relayer_nonce", sa.BigInteger, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("request_ids", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("gas_used", sa.BigInteger, nullable=True),
        sa.Column("block_number", sa.BigInteger, nullable=True),
        sa.Column("submitted_at", sa.Float, nullable=False),
    )
    op.create_index("ix_relay_batches_status", "relay_batches", ["status"])


def downgrade() -> None:
    op.drop_table("relay_batches")
    op.drop_table("relay_requests")
