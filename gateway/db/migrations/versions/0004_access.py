"""sign-in nonces and sessions, API keys, the staff action log and the data-access log

Revision ID: 0004_access
Revises: 0003_distribution
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_access"
down_revision = "0003_distribution"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(42)
_DIGEST = sa.String(64)
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "auth_nonces",
        sa.Column("nonce", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("nonce", name="pk_auth_nonces"),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("address", _ADDRESS, nullable=False),
        sa.Column("refresh_hash", _DIGEST, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_auth_sessions"),
        sa.UniqueConstraint("refresh_hash", name="uq_auth_sessions_refresh_hash"),
    )
    op.create_index("ix_auth_sessions_address", "auth_sessions", ["address"])
    op.create_table(
        "auth_events",
        sa.Column("id", _SERIAL, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("address", _ADDRESS, nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_events"),
    )
    op.create_index("ix_auth_events_address", "auth_events", ["address", "at"])
    op.create_index("ix_auth_events_client", "auth_events", ["client", "at"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("secret_hash", _DIGEST, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("created_by", _ADDRESS, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
        sa.Column("last_used_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_token", "api_keys", ["token"])
    op.create_table(
        "api_key_uses",
        sa.Column("id", _SERIAL, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("what", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_key_uses"),
    )
    op.create_index("ix_api_key_uses_key", "api_key_uses", ["key_id", "at"])
    op.create_table(
        "staff_log",
        sa.Column("seq", _SERIAL, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("token", _ADDRESS, nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("prev_hash", _DIGEST, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_staff_log"),
        sa.UniqueConstraint("prev_hash", name="uq_staff_log_prev_hash"),
    )
    op.create_table(
        "data_access_log",
        sa.Column("id", _SERIAL, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("subject", _ADDRESS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("token", _ADDRESS, nullable=True),
        sa.Column("what", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_data_access_log"),
    )
    op.create_index("ix_data_access_log_subject", "data_access_log", ["subject", "at"])
    op.create_index("ix_data_access_log_token", "data_access_log", ["token", "at"])


def downgrade() -> None:
    for table in (
        "data_access_log",
        "staff_log",
        "api_key_uses",
        "api_keys",
        "auth_events",
        "auth_sessions",
        "auth_nonces",
    ):
        op.drop_table(table)
