"""relayer: token-native signed payments (payBySig) as a request kind; a request's nonce scope
(the token, for a payment's payment sequence) joins the live-nonce arbiter, so a payment's
nonce never collides with the same signer's forwarder nonce

Existing rows are forwarder requests: kind "forward", scope "".

Revision ID: 0014_relay_signed_payments
Revises: 0013_index_hex_collation
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_relay_signed_payments"
down_revision = "0013_index_hex_collation"
branch_labels = None
depends_on = None

_NOT_FAILED = sa.text("status != 'failed'")


def upgrade() -> None:
    # ADD COLUMN with a constant default: no table rebuild on SQLite, none on PostgreSQL 11+.
    op.drop_index("ux_relay_requests_live_nonce", "relay_requests")
    op.add_column(
        "relay_requests",
        sa.Column("kind", sa.String(16), nullable=False, server_default="forward"),
    )
    op.add_column(
        "relay_requests",
        sa.Column("nonce_scope", sa.String(42), nullable=False, server_default=""),
    )
    op.create_index(
        "ux_relay_requests_live_nonce",
        "relay_requests",
        ["chain_id", "nonce_scope", "signer", "nonce"],
        unique=True,
        sqlite_where=_NOT_FAILED,
        postgresql_where=_NOT_FAILED,
    )


def downgrade() -> None:
    op.drop_index("ux_relay_requests_live_nonce", "relay_requests")
    op.execute("DELETE FROM relay_requests WHERE kind != 'forward'")
    op.create_index(
        "ux_relay_requests_live_nonce",
        "relay_requests",
        ["chain_id", "signer", "nonce"],
        unique=True,
        sqlite_where=_NOT_FAILED,
        postgresql_where=_NOT_FAILED,
    )
    with op.batch_alter_table("relay_requests") as batch:
        batch.drop_column("nonce_scope")
        batch.drop_column("kind")
