"""the HTTP request id (X-Request-ID) that brought each relayed request, so the batcher's log
line for its batch names it even after a restart

Revision ID: 0008_relay_request_trace
Revises: 0007_registry
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_relay_request_trace"
down_revision = "0007_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("relay_requests", sa.Column("http_request_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relay_requests") as batch:
        batch.drop_column("http_request_id")
