"""automatic settlement (issue 16): batches' status, origin, refunds and bank-file total; the
payout lines (merchants' redemptions and residents' refunds' cash, held without an account)

Revision ID: 0011_settlement
Revises: 0010_purchases
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_settlement"
down_revision = "0010_purchases"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(42)
_BATCH_COLUMNS = ("status", "origin", "refunds", "refund_cash", "payable", "value_date")


def upgrade() -> None:
    with op.batch_alter_table("settlement_batches") as batch:
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="released")
        )
        batch.add_column(sa.Column("origin", sa.String(8), nullable=False, server_default="manual"))
        batch.add_column(sa.Column("refunds", sa.Integer, nullable=False, server_default="0"))
        for name in ("refund_cash", "payable"):
            batch.add_column(sa.Column(name, sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("value_date", sa.String(8), nullable=True))
    # Batches issued before: what they paid was their redemptions' total.
    op.execute("UPDATE settlement_batches SET payable = total")
    op.create_table(
        "settlement_lines",
        sa.Column("line_reference", sa.String(72), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payee", _ADDRESS, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("burned", sa.BigInteger, nullable=False),
        sa.Column("refs", sa.JSON, nullable=False),
        sa.Column("first_time", sa.BigInteger, nullable=False),
        sa.Column("last_time", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("released_in", sa.String(64), nullable=True),
        sa.Column("bank_code", sa.String(8), nullable=True),
        sa.Column("bank_account", sa.String(32), nullable=True),
        sa.Column("account_holder", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("line_reference", name="pk_settlement_lines"),
    )
    op.create_index("ix_settlement_lines_batch", "settlement_lines", ["reference"])
    op.create_index("ix_settlement_lines_released", "settlement_lines", ["released_in"])
    op.create_index(
        "ix_settlement_lines_status", "settlement_lines", ["chain_id", "token", "status"]
    )
    op.create_index("ix_settlement_lines_payee", "settlement_lines", ["chain_id", "payee"])


def downgrade() -> None:
    op.drop_table("settlement_lines")
    with op.batch_alter_table("settlement_batches") as batch:
        for name in _BATCH_COLUMNS:
            batch.drop_column(name)
