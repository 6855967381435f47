"""relayer scale-out: each request's shard (its signer's queue, claimed by one replica at a time
through a `shard:<k>` lease), and the database as the arbiter of a signer's nonces: at most one
request per (chain, signer, nonce) that has not failed, whichever replica stored it

Revision ID: 0012_relay_shards
Revises: 0011_settlement
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_relay_shards"
down_revision = "0011_settlement"
branch_labels = None
depends_on = None

_NOT_FAILED = sa.text("status != 'failed'")


def upgrade() -> None:
    # Nullable: rows stored before sharding get theirs when a relayer starts (the shard
    # count is a setting, unknown here; gateway.relayer.shards).
    op.add_column("relay_requests", sa.Column("shard", sa.Integer, nullable=True))
    op.create_index(
        "ix_relay_requests_shard_status", "relay_requests", ["shard", "status", "created_at"]
    )
    op.create_index(
        "ux_relay_requests_live_nonce",
        "relay_requests",
        ["chain_id", "signer", "nonce"],
        unique=True,
        sqlite_where=_NOT_FAILED,
        postgresql_where=_NOT_FAILED,
    )


def downgrade() -> None:
    op.drop_index("ux_relay_requests_live_nonce", "relay_requests")
    op.drop_index("ix_relay_requests_shard_status", "relay_requests")
    with op.batch_alter_table("relay_requests") as batch:
        batch.drop_column("shard")
