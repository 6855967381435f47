"""indexer: checkpoint, recent block hashes, decoded events and the state they fold into

Revision ID: 0002_indexer
Revises: 0001_relayer
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_indexer"
down_revision = "0001_relayer"
branch_labels = None
depends_on = None

_ADDRESS = sa.String(42)
_HASH = sa.String(66)


def _event_table(name: str, *items: sa.schema.SchemaItem, position: bool = False) -> None:
    """Provenance columns, `items`, and the two unique keys every event table has."""
    key = ["chain_id", "block_number", "log_index"] + (["position"] if position else [])
    unique = ["chain_id", "tx_hash", "log_index"] + (["position"] if position else [])
    op.create_table(
        name,
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", _HASH, nullable=False),
        sa.Column("tx_hash", _HASH, nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("block_time", sa.BigInteger, nullable=False),
        *([sa.Column("position", sa.SmallInteger, nullable=False)] if position else []),
        *items,
        sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
        sa.UniqueConstraint(*unique, name=f"uq_{name}_tx_log"),
    )


def _index(table: str, suffix: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{suffix}", table, ["chain_id", *columns])


def upgrade() -> None:
    op.create_table(
        "index_checkpoints",
        sa.Column("chain_id", sa.Integer, primary_key=True),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", _HASH, nullable=False),
        sa.Column("head_block", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "index_blocks",
        sa.Column("chain_id", sa.Integer, primary_key=True),
        sa.Column("number", sa.BigInteger, primary_key=True),
        sa.Column("hash", _HASH, nullable=False),
    )
    _event_table(
        "index_municipalities",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("region", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("symbol", sa.Text, nullable=False),
        sa.Column("admin", _ADDRESS, nullable=False),
        sa.UniqueConstraint("chain_id", "token", name="uq_index_municipalities_token"),
    )
    _event_table(
        "index_identity_events",
        sa.Column("account", _ADDRESS, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("kind", sa.SmallInteger, nullable=True),
        sa.Column("previous_kind", sa.SmallInteger, nullable=True),
        sa.Column("frozen", sa.Boolean, nullable=True),
        sa.Column("registrar", _ADDRESS, nullable=True),
    )
    _index("index_identity_events", "account", "account")
    op.create_table(
        "index_identities",
        sa.Column("chain_id", sa.Integer, primary_key=True),
        sa.Column("account", _ADDRESS, primary_key=True),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("frozen", sa.Boolean, nullable=False),
        sa.Column("registered_block", sa.BigInteger, nullable=False),
        sa.Column("updated_block", sa.BigInteger, nullable=False),
    )
    _event_table(
        "index_relayed",
        sa.Column("forwarder", _ADDRESS, nullable=False),
        sa.Column("signer", _ADDRESS, nullable=False),
        sa.Column("nonce", sa.BigInteger, nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
    )
    _index("index_relayed", "signer", "signer", "nonce")
    _event_table(
        "index_role_changes",
        sa.Column("contract", _ADDRESS, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("role", _HASH, nullable=False),
        sa.Column("account", _ADDRESS, nullable=True),
        sa.Column("sender", _ADDRESS, nullable=True),
        sa.Column("admin_role", _HASH, nullable=True),
    )
    _event_table(
        "index_merchant_events",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("region", sa.BigInteger, nullable=True),
        sa.Column("category", sa.Integer, nullable=True),
        sa.Column("tier", sa.SmallInteger, nullable=True),
        sa.Column("market", sa.Boolean, nullable=True),
        sa.Column("status", sa.SmallInteger, nullable=True),
        sa.Column("banned_until", sa.BigInteger, nullable=True),
    )
    _index("index_merchant_events", "merchant", "token", "merchant")
    op.create_table(
        "index_merchants",
        sa.Column("chain_id", sa.Integer, primary_key=True),
        sa.Column("token", _ADDRESS, primary_key=True),
        sa.Column("merchant", _ADDRESS, primary_key=True),
        sa.Column("region", sa.BigInteger, nullable=False),
        sa.Column("category", sa.Integer, nullable=False),
        sa.Column("tier", sa.SmallInteger, nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("market", sa.Boolean, nullable=False),
        sa.Column("banned_until", sa.BigInteger, nullable=False),
        sa.Column("registered_block", sa.BigInteger, nullable=False),
        sa.Column("updated_block", sa.BigInteger, nullable=False),
    )
    _index("index_merchants", "account", "merchant")
    _event_table(
        "index_rule_changes",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("effective_at", sa.BigInteger, nullable=True),
        sa.Column("rules", sa.JSON, nullable=True),
    )
    _index("index_rule_changes", "token", "token", "version")
    _event_table(
        "index_pauses",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("account", _ADDRESS, nullable=False),
    )
    _event_table(
        "index_institution_categories",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("category", sa.Integer, nullable=False),
        sa.Column("blocked", sa.Boolean, nullable=False),
    )
    _event_table(
        "index_transfers",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("sender", _ADDRESS, nullable=False),
        sa.Column("recipient", _ADDRESS, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    _index("index_transfers", "sender", "sender", "token")
    _index("index_transfers", "recipient", "recipient", "token")
    _event_table(
        "index_sales",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("buyer", _ADDRESS, nullable=False),
        sa.Column("issuer", _ADDRESS, nullable=False),
        sa.Column("face", sa.BigInteger, nullable=False),
        sa.Column("paid", sa.BigInteger, nullable=False),
        sa.Column("subsidy", sa.BigInteger, nullable=False),
    )
    _index("index_sales", "buyer", "buyer", "block_number", "log_index")
    _index("index_sales", "token", "token", "block_time")
    _event_table(
        "index_payments",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("payer", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("payment_id", _HASH, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("from_general", sa.BigInteger, nullable=False),
        sa.Column("from_pockets", sa.BigInteger, nullable=False),
        sa.Column("cashback", sa.BigInteger, nullable=False),
        sa.Column("pockets", sa.JSON, nullable=False),
    )
    _index("index_payments", "payer", "payer", "block_number", "log_index")
    _index("index_payments", "merchant", "merchant", "block_number", "log_index")
    _index("index_payments", "seq", "token", "payer", "seq")
    _event_table(
        "index_pocket_moves",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("holder", _ADDRESS, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("pocket_delta", sa.BigInteger, nullable=False),
        sa.Column("spent_delta", sa.BigInteger, nullable=False),
        position=True,
    )
    _index("index_pocket_moves", "holder", "holder", "token", "program_id")
    _event_table(
        "index_cancellations",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("payer", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("payment_id", _HASH, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=True),
        sa.Column("returned", sa.BigInteger, nullable=True),
        sa.Column("payment_tx_hash", _HASH, nullable=True),
    )
    _index("index_cancellations", "payer", "payer", "block_number", "log_index")
    _index("index_cancellations", "merchant", "merchant", "block_number", "log_index")
    _event_table(
        "index_gifts",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("sender", _ADDRESS, nullable=False),
        sa.Column("recipient", _ADDRESS, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    _index("index_gifts", "sender", "sender", "block_number", "log_index")
    _index("index_gifts", "recipient", "recipient", "block_number", "log_index")
    _event_table(
        "index_redemptions",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("merchant", _ADDRESS, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("ref", _HASH, nullable=False),
    )
    _index("index_redemptions", "merchant", "merchant", "block_number", "log_index")
    _index("index_redemptions", "token", "token", "block_time")
    _event_table(
        "index_refunds",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("holder", _ADDRESS, nullable=False),
        sa.Column("face", sa.BigInteger, nullable=False),
        sa.Column("cash", sa.BigInteger, nullable=False),
    )
    _index("index_refunds", "holder", "holder", "block_number", "log_index")
    _event_table(
        "index_programs",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("root", _HASH, nullable=False),
        sa.Column("budget", sa.BigInteger, nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("expiry", sa.BigInteger, nullable=False),
        sa.Column("revenue_cap_waived", sa.Boolean, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("ref", _HASH, nullable=False),
        sa.Column("granted", sa.BigInteger, nullable=False),
        sa.Column("claimed_count", sa.BigInteger, nullable=False),
        sa.Column("spent", sa.BigInteger, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("returned", sa.BigInteger, nullable=True),
        sa.Column("closed_block", sa.BigInteger, nullable=True),
        sa.Column("closed_log_index", sa.Integer, nullable=True),
        sa.UniqueConstraint("chain_id", "token", "program_id", name="uq_index_programs_program"),
    )
    _event_table(
        "index_grants",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("recipient", _ADDRESS, nullable=False),
        sa.Column("grant_index", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    _index("index_grants", "recipient", "recipient", "block_number", "log_index")
    _event_table(
        "index_program_closes",
        sa.Column("token", _ADDRESS, nullable=False),
        sa.Column("program_id", sa.BigInteger, nullable=False),
        sa.Column("granted", sa.BigInteger, nullable=False),
        sa.Column("spent", sa.BigInteger, nullable=False),
        sa.Column("returned", sa.BigInteger, nullable=False),
    )


_TABLES = (
    "index_program_closes",
    "index_grants",
    "index_programs",
    "index_refunds",
    "index_redemptions",
    "index_gifts",
    "index_cancellations",
    "index_pocket_moves",
    "index_payments",
    "index_sales",
    "index_transfers",
    "index_institution_categories",
    "index_pauses",
    "index_rule_changes",
    "index_merchants",
    "index_merchant_events",
    "index_role_changes",
    "index_relayed",
    "index_identities",
    "index_identity_events",
    "index_municipalities",
    "index_blocks",
    "index_checkpoints",
)


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
