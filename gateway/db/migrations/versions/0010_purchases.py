"""in-app voucher purchases: the city's sale discount, purchase orders, webhook events

Revision ID: 0010_purchases
Revises: 0009_onboarding
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_purchases"
down_revision = "0009_onboarding"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(42)


def upgrade() -> None:
    op.create_table(
        "sale_settings",
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("discount_bps", sa.Integer, nullable=False),
        sa.Column("on_sale", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "token", name="pk_sale_settings"),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("buyer", _ADDRESS, nullable=False),
        sa.Column("idempotency_key", sa.String(80), nullable=False),
        sa.Column("face", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("discount_bps", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("bank_code", sa.String(8), nullable=True),
        sa.Column("account_number", sa.String(32), nullable=True),
        sa.Column("account_holder", sa.String(100), nullable=True),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("deposited", sa.BigInteger, nullable=True),
        sa.Column("paid_at", sa.Float, nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("tx_nonce", sa.BigInteger, nullable=True),
        sa.Column("raw_tx", sa.LargeBinary, nullable=True),
        sa.Column("block_number", sa.BigInteger, nullable=True),
        sa.Column("refund_id", sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(80), nullable=True),
        sa.Column("error_detail", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_purchase_orders"),
        sa.UniqueConstraint("chain_id", "buyer", "idempotency_key", name="uq_purchase_orders_idem"),
    )
    op.create_index(
        "ix_purchase_orders_buyer", "purchase_orders", ["chain_id", "buyer", "created_at"]
    )
    op.create_index("ix_purchase_orders_state", "purchase_orders", ["state"])
    op.create_index("ix_purchase_orders_payment", "purchase_orders", ["provider", "payment_id"])
    op.create_table(
        "purchase_webhook_events",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(80), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name="pk_purchase_webhook_events"),
    )


def downgrade() -> None:
    op.drop_table("purchase_webhook_events")
    op.drop_table("purchase_orders")
    op.drop_table("sale_settings")
