"""money rules (issue 13): invoices, funding plans, merchant terms and exclusions, platform and
employee payments, rewards, institutions' limits, recoveries; partial cancellations

Revision ID: 0006_money_rules
Revises: 0005_relay_leases
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_money_rules"
down_revision = "0005_relay_leases"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(42)
_HASH = sa.String(66)


def _event_table(name: str, *items: sa.schema.SchemaItem) -> None:
    """Provenance columns, `items`, and the two unique keys every event table has."""
    op.create_table(
        name,
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", _HASH, nullable=False),
        sa.Column("tx_hash", _HASH, nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("block_time", sa.BigInteger, nullable=False),
        *items,
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index", name=f"pk_{name}"),
        sa.UniqueConstraint("chain_id", "tx_hash", "log_index", name=f"uq_{name}_tx_log"),
    )


def _index(table: str, suffix: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{suffix}", table, ["chain_id", *columns])


def _amount(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def _list(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON, nullable=False, server_default="[]")


_PAYMENT_COLUMNS = ("program_ids", "extra", "platform", "fee", "employee")
_CANCELLATION_COLUMNS = (
    "cancelled_total", "from_general", "cashback", "fee", "extra", "program_ids",
    "program_amounts", "recipient",
)  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("index_payments") as batch:
        batch.add_column(_list("program_ids"))
        batch.add_column(_amount("extra"))
        batch.add_column(sa.Column("platform", _ADDRESS, nullable=True))
        batch.add_column(_amount("fee"))
        batch.add_column(sa.Column("employee", _ADDRESS, nullable=True))
    _index("index_payments", "invoice", "token", "merchant", "payment_id")
    _index("index_payments", "employee", "employee", "block_number", "log_index")
    with op.batch_alter_table("index_cancellations") as batch:
        for name in ("cancelled_total", "from_general", "cashback", "fee", "extra"):
            batch.add_column(_amount(name))
        batch.add_column(_list("program_ids"))
        batch.add_column(_list("program_amounts"))
        batch.add_column(sa.Column("recipient", _ADDRESS, nullable=True))
    _index("index_cancellations", "seq", "token", "payer", "seq")
    _index("index_cancellations", "recipient", "recipient", "block_number", "log_index")

    _event_table(
        "index_invoices",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("invoice_id", _HASH, nullable=False),
        sa.Column("payer", _ADDRESS, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("expiry", sa.BigInteger, nullable=False),
    )
    _index("index_invoices", "merchant", "merchant", "block_number", "log_index")
    _index("index_invoices", "payer", "payer", "block_number", "log_index")
    _event_table(
        "index_invoice_cancels",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("invoice_id", _HASH, nullable=False),
    )
    _index("index_invoice_cancels", "invoice", "token", "merchant", "invoice_id")
    _event_table(
        "index_funding_changes",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("effective_at", sa.BigInteger, nullable=True),
        sa.Column("shares", sa.JSON, nullable=True),
        sa.Column("subsidy_at", sa.BigInteger, nullable=True),
        sa.Column("cashback_at", sa.BigInteger, nullable=True),
    )
    _index("index_funding_changes", "token", "token", "version")
    _event_table(
        "index_merchant_terms",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("extra_bps", sa.Integer, nullable=False),
        sa.Column("platform", sa.Boolean, nullable=False),
        sa.Column("platform_fee_bps", sa.Integer, nullable=False),
    )
    _event_table(
        "index_category_exclusions",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("category", sa.Integer, nullable=False),
        sa.Column("excluded", sa.Boolean, nullable=False),
    )
    _event_table(
        "index_merchant_exclusions",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("excluded", sa.Boolean, nullable=False),
    )
    _event_table(
        "index_merchant_funded",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("payer", _ADDRESS, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("extra", sa.BigInteger, nullable=False),
    )
    _event_table(
        "index_platform_payments",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("payer", _ADDRESS, nullable=False),
        sa.Column("platform", _ADDRESS, nullable=False),
        sa.Column("shop", _ADDRESS, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
    )
    _event_table(
        "index_reward_programs",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("daily_cap", sa.BigInteger, nullable=False),
        sa.Column("monthly_cap", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "chain_id", "token", "program_id", name="uq_index_reward_programs_program"
        ),
    )
    _event_table(
        "index_rewards",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("recipient", _ADDRESS, nullable=False),
        sa.Column("attestation_id", _HASH, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    _index("index_rewards", "recipient", "recipient", "block_number", "log_index")
    _event_table(
        "index_institution_limits",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("institution", _ADDRESS, nullable=False),
        sa.Column("per_payment", sa.BigInteger, nullable=False),
        sa.Column("per_month", sa.BigInteger, nullable=False),
    )
    _event_table(
        "index_institution_blocked",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("institution", _ADDRESS, nullable=False),
        sa.Column("category", sa.Integer, nullable=False),
        sa.Column("blocked", sa.Boolean, nullable=False),
    )
    _event_table(
        "index_employees",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("institution", _ADDRESS, nullable=False),
        sa.Column("employee", _ADDRESS, nullable=False),
        sa.Column("monthly_limit", sa.BigInteger, nullable=False),
    )
    _event_table(
        "index_employee_payments",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("institution", _ADDRESS, nullable=False),
        sa.Column("employee", _ADDRESS, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    for name in ("index_wallet_recoveries", "index_pocket_recoveries"):
        pocket = name == "index_pocket_recoveries"
        _event_table(
            name,
            sa.Column("token", _ADDRESS, nullable=False),
            *([sa.Column("program_id", sa.BigInteger, nullable=False)] if pocket else []),
            sa.Column("lost", _ADDRESS, nullable=False),
            sa.Column("recipient", _ADDRESS, nullable=False),
            sa.Column("amount" if pocket else "balance", sa.BigInteger, nullable=False),
        )
        _index(name, "lost", "lost", "block_number", "log_index")
        _index(name, "recipient", "recipient", "block_number", "log_index")
    _event_table(
        "index_recoveries",
        sa.Column("registry", _ADDRESS, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("lost", _ADDRESS, nullable=False),
        sa.Column("recipient", _ADDRESS, nullable=True),
        sa.Column("effective_at", sa.BigInteger, nullable=True),
        sa.Column("sender", _ADDRESS, nullable=True),
    )
    _index("index_recoveries", "lost", "lost", "block_number", "log_index")
    _event_table(
        "index_recovery_delays",
        sa.Column("registry", _ADDRESS, nullable=False),
        sa.Column("delay", sa.BigInteger, nullable=False),
    )


_TABLES = (
    "index_recovery_delays",
    "index_recoveries",
    "index_pocket_recoveries",
    "index_wallet_recoveries",
    "index_employee_payments",
    "index_employees",
    "index_institution_blocked",
    "index_institution_limits",
    "index_rewards",
    "index_reward_programs",
    "index_platform_payments",
    "index_merchant_funded",
    "index_merchant_exclusions",
    "index_category_exclusions",
    "index_merchant_terms",
    "index_funding_changes",
    "index_invoice_cancels",
    "index_invoices",
)


def downgrade() -> None:
    for name in _TABLES:
        op.drop_table(name)
    op.drop_index("ix_index_cancellations_recipient", "index_cancellations")
    op.drop_index("ix_index_cancellations_seq", "index_cancellations")
    with op.batch_alter_table("index_cancellations") as batch:
        for column in _CANCELLATION_COLUMNS:
            batch.drop_column(column)
    op.drop_index("ix_index_payments_employee", "index_payments")
    op.drop_index("ix_index_payments_invoice", "index_payments")
    with op.batch_alter_table("index_payments") as batch:
        for column in _PAYMENT_COLUMNS:
            batch.drop_column(column)
