"""the city's registers: merchant profiles (with their application state) and residents'
cash accounts

Revision ID: 0007_registry
Revises: 0006_money_rules
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_registry"
down_revision = "0006_money_rules"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(42)


def upgrade() -> None:
    op.create_table(
        "merchant_profiles",
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("business_name", sa.String(200), nullable=False),
        sa.Column("business_number", sa.String(10), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("legal_dong", sa.String(10), nullable=False),
        sa.Column("category", sa.Integer, nullable=False),
        sa.Column("latitude", sa.Float, nullable=True),
        sa.Column("longitude", sa.Float, nullable=True),
        sa.Column("market", sa.Integer, nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("bank_code", sa.String(8), nullable=True),
        sa.Column("bank_account", sa.String(32), nullable=True),
        sa.Column("account_holder", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("reviewed_by", _ADDRESS, nullable=True),
        sa.Column("review_note", sa.Text, nullable=True),
        sa.Column("applied_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "token", "merchant", name="pk_merchant_profiles"),
    )
    op.create_index(
        "ix_merchant_profiles_name", "merchant_profiles", ["chain_id", "token", "business_name"]
    )
    op.create_index(
        "ix_merchant_profiles_category", "merchant_profiles", ["chain_id", "token", "category"]
    )
    op.create_index("ix_merchant_profiles_dong", "merchant_profiles", ["chain_id", "legal_dong"])
    op.create_index(
        "ix_merchant_profiles_number", "merchant_profiles", ["chain_id", "business_number"]
    )
    op.create_table(
        "resident_accounts",
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("wallet", _ADDRESS, nullable=False),
        sa.Column("kyc_ref", sa.String(64), nullable=True),
        sa.Column("bank_code", sa.String(8), nullable=True),
        sa.Column("bank_account", sa.String(32), nullable=True),
        sa.Column("account_holder", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "wallet", name="pk_resident_accounts"),
    )
    op.create_index("ix_resident_accounts_kyc", "resident_accounts", ["chain_id", "kyc_ref"])


def downgrade() -> None:
    op.drop_table("resident_accounts")
    op.drop_table("merchant_profiles")
