"""Tables of the chain indexer: one table per kind of event, plus the state they fold into.

Every event row carries where it came from (chain id, block number and hash, transaction hash,
log index, block time). Its primary key is (chain id, block number, log index): unique within
the canonical chain, in insertion order (cheap appends) and what reorg deletes and cursors use.
(chain id, tx hash, log index) is UNIQUE as well, so a log can never be stored twice even if a
bug fed the same range again.

Addresses and hashes are lowercase ``0x`` hex: checksumming costs a keccak per address, which
matters at 20,000 events a second; the API checksums what it returns. Amounts are whole won in
BigInteger: the token bounds every movement to uint48 and every program figure to uint64
budgets, so int64 holds any realistic value, and the decoder refuses (loudly) one that does not
fit rather than storing it wrong.

State (identities, merchants, program figures) is a fold of event tables; on a reorg, what the
deleted rows changed is rebuilt from the events that remain (see ``gateway.indexer.store``).
Indexes serve the queries in ``gateway.queries``; the primary key serves reorg deletes.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.schema import SchemaItem

from gateway.db.schema import metadata

# Byte-wise comparison (COLLATE "C") on PostgreSQL: hex is ASCII, so byte order is the order
# any collation gives it, and a catch-up maintains B-trees keyed on these columns (the unique
# (chain_id, tx_hash, log_index) of every event table) for every row it writes, where the
# database's default collation goes through strcoll. SQLite compares bytes already (and has no
# collation named "C"). Migration 0013_index_hex_collation.
ADDRESS = String(42).with_variant(String(42, collation="C"), "postgresql")
HASH = String(66).with_variant(String(66, collation="C"), "postgresql")

EVENT_COLUMNS = ("chain_id", "block_number", "block_hash", "tx_hash", "log_index", "block_time")
"""Columns every event table starts with, in this order."""


def _event_table(name: str, *items: SchemaItem, position: bool = False) -> Table:
    """An event table: provenance columns, ``items``, and the two unique keys.

    ``position`` adds a column numbering several rows derived from one log (a payment that
    spends three program pockets makes three pocket moves).
    """
    key = ["chain_id", "block_number", "log_index"] + (["position"] if position else [])
    unique = ["chain_id", "tx_hash", "log_index"] + (["position"] if position else [])
    return Table(
        name,
        metadata,
        Column("chain_id", Integer, nullable=False),
        Column("block_number", BigInteger, nullable=False),
        Column("block_hash", HASH, nullable=False),
        Column("tx_hash", HASH, nullable=False),
        Column("log_index", Integer, nullable=False),
        Column("block_time", BigInteger, nullable=False),
        *([Column("position", SmallInteger, nullable=False)] if position else []),
        *items,
        PrimaryKeyConstraint(*key, name=f"pk_{name}"),
        UniqueConstraint(*unique, name=f"uq_{name}_tx_log"),
    )


# ---------------------------------------------------------------------- progress and reorgs

checkpoints = Table(
    "index_checkpoints",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("block_number", BigInteger, nullable=False),  # last block fully indexed
    Column("block_hash", HASH, nullable=False),
    Column("head_block", BigInteger, nullable=False),  # chain head when last synced
    Column("updated_at", Float, nullable=False),
)

# Hashes of recently indexed blocks (the last REORG_WINDOW, and every block with logs in it):
# the walk back to the common ancestor compares them with the chain's.
blocks = Table(
    "index_blocks",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("number", BigInteger, primary_key=True),
    Column("hash", HASH, nullable=False),
)

# ---------------------------------------------------------------------- network contracts

municipalities = _event_table(
    "index_municipalities",
    Column("token", ADDRESS, nullable=False),
    Column("region", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("admin", ADDRESS, nullable=False),
    UniqueConstraint("chain_id", "token", name="uq_index_municipalities_token"),
)

identity_events = _event_table(
    "index_identity_events",
    Column("account", ADDRESS, nullable=False),
    Column("action", String(16), nullable=False),  # registered | frozen_set
    Column("kind", SmallInteger, nullable=True),
    Column("previous_kind", SmallInteger, nullable=True),
    Column("frozen", Boolean, nullable=True),
    Column("registrar", ADDRESS, nullable=True),
    Index("ix_index_identity_events_account", "chain_id", "account"),
)

identities = Table(
    "index_identities",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("account", ADDRESS, primary_key=True),
    Column("kind", SmallInteger, nullable=False),  # IIdentityRegistry.Kind
    Column("frozen", Boolean, nullable=False),
    Column("registered_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

relayed = _event_table(
    "index_relayed",
    Column("forwarder", ADDRESS, nullable=False),
    Column("signer", ADDRESS, nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("success", Boolean, nullable=False),
    Index("ix_index_relayed_signer", "chain_id", "signer", "nonce"),
)

role_changes = _event_table(
    "index_role_changes",
    Column("contract", ADDRESS, nullable=False),
    Column("action", String(16), nullable=False),  # granted | revoked | admin_changed
    Column("role", HASH, nullable=False),
    Column("account", ADDRESS, nullable=True),
    Column("sender", ADDRESS, nullable=True),
    Column("admin_role", HASH, nullable=True),
)

# ---------------------------------------------------------------------- municipality admin

merchant_events = _event_table(
    "index_merchant_events",
    Column("token", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("action", String(16), nullable=False),  # registered | updated | status_set
    Column("region", BigInteger, nullable=True),
    Column("category", Integer, nullable=True),
    Column("tier", SmallInteger, nullable=True),
    Column("market", Boolean, nullable=True),
    Column("status", SmallInteger, nullable=True),
    Column("banned_until", BigInteger, nullable=True),
    Index("ix_index_merchant_events_merchant", "chain_id", "token", "merchant"),
)

merchants = Table(
    "index_merchants",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("merchant", ADDRESS, primary_key=True),
    Column("region", BigInteger, nullable=False),  # uint32; any region for the national one
    Column("category", Integer, nullable=False),
    Column("tier", SmallInteger, nullable=False),
    Column("status", SmallInteger, nullable=False),  # IVoucherTypes.MerchantStatus
    Column("market", Boolean, nullable=False),
    Column("banned_until", BigInteger, nullable=False),
    Column("registered_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_index_merchants_account", "chain_id", "merchant"),
)

rule_changes = _event_table(
    "index_rule_changes",
    Column("token", ADDRESS, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),  # proposed | activated | cancelled
    Column("effective_at", BigInteger, nullable=True),
    Column("rules", JSON, nullable=True),  # field name (as in Solidity) -> value
    Index("ix_index_rule_changes_token", "chain_id", "token", "version"),
)

pauses = _event_table(
    "index_pauses",
    Column("token", ADDRESS, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("account", ADDRESS, nullable=False),
)

institution_categories = _event_table(
    "index_institution_categories",
    Column("token", ADDRESS, nullable=False),
    Column("category", Integer, nullable=False),
    Column("blocked", Boolean, nullable=False),
)

# ---------------------------------------------------------------------- money

transfers = _event_table(
    "index_transfers",
    Column("token", ADDRESS, nullable=False),
    Column("sender", ADDRESS, nullable=False),  # zero address: mint
    Column("recipient", ADDRESS, nullable=False),  # zero address: burn
    Column("amount", BigInteger, nullable=False),
    Index("ix_index_transfers_sender", "chain_id", "sender", "token"),
    Index("ix_index_transfers_recipient", "chain_id", "recipient", "token"),
)

sales = _event_table(
    "index_sales",
    Column("token", ADDRESS, nullable=False),
    Column("buyer", ADDRESS, nullable=False),
    Column("issuer", ADDRESS, nullable=False),
    Column("face", BigInteger, nullable=False),
    Column("paid", BigInteger, nullable=False),
    Column("subsidy", BigInteger, nullable=False),  # face - paid: the discount the city funds
    Index("ix_index_sales_buyer", "chain_id", "buyer", "block_number", "log_index"),
    Index("ix_index_sales_token", "chain_id", "token", "block_time"),
)

payments = _event_table(
    "index_payments",
    Column("token", ADDRESS, nullable=False),
    Column("payer", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("payment_id", HASH, nullable=False),
    Column("seq", BigInteger, nullable=False),  # the payer's payment counter in this token
    Column("amount", BigInteger, nullable=False),
    Column("from_general", BigInteger, nullable=False),
    Column("from_pockets", BigInteger, nullable=False),
    Column("cashback", BigInteger, nullable=False),
    Column("pockets", JSON, nullable=False),  # [{"program_id": id, "amount": won}, ...]
    # Money rules (from the events emitted with Paid in the same transaction, see the fold):
    Column("program_ids", JSON, nullable=False, server_default="[]"),  # as named, zeros too
    Column("extra", BigInteger, nullable=False, server_default="0"),  # merchant-funded
    Column("platform", ADDRESS, nullable=True),  # the platform it went through
    Column("fee", BigInteger, nullable=False, server_default="0"),  # the platform's share
    Column("employee", ADDRESS, nullable=True),  # who spent an institution's money
    Index("ix_index_payments_payer", "chain_id", "payer", "block_number", "log_index"),
    Index("ix_index_payments_merchant", "chain_id", "merchant", "block_number", "log_index"),
    Index("ix_index_payments_seq", "chain_id", "token", "payer", "seq"),
    Index("ix_index_payments_invoice", "chain_id", "token", "merchant", "payment_id"),
    Index("ix_index_payments_employee", "chain_id", "employee", "block_number", "log_index"),
)

# Program pockets moved by payments (spent) and cancellations (restored); grants are in
# index_grants. pocket_delta is the holder's pocket change, spent_delta the program's.
pocket_moves = _event_table(
    "index_pocket_moves",
    Column("token", ADDRESS, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("holder", ADDRESS, nullable=False),
    Column("reason", String(16), nullable=False),  # payment | cancellation | recovery
    Column("pocket_delta", BigInteger, nullable=False),
    Column("spent_delta", BigInteger, nullable=False),
    Index("ix_index_pocket_moves_holder", "chain_id", "holder", "token", "program_id"),
    position=True,
)

cancellations = _event_table(
    "index_cancellations",
    Column("token", ADDRESS, nullable=False),
    Column("payer", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("payment_id", HASH, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=True),  # cancelled this time (all or part)
    Column("returned", BigInteger, nullable=True),  # back to a general pocket: general - cashback
    Column("payment_tx_hash", HASH, nullable=True),  # from the payment (null if not indexed)
    # The parts of this cancellation (PaymentCancelled) and where they went:
    Column("cancelled_total", BigInteger, nullable=False, server_default="0"),
    Column("from_general", BigInteger, nullable=False, server_default="0"),
    Column("cashback", BigInteger, nullable=False, server_default="0"),  # taken back
    Column("fee", BigInteger, nullable=False, server_default="0"),  # from the platform
    Column("extra", BigInteger, nullable=False, server_default="0"),  # merchant-funded part
    Column("program_ids", JSON, nullable=False, server_default="[]"),  # the payment's
    Column("program_amounts", JSON, nullable=False, server_default="[]"),  # back to each
    Column("recipient", ADDRESS, nullable=True),  # the payer, or its recovery wallet
    Index("ix_index_cancellations_payer", "chain_id", "payer", "block_number", "log_index"),
    Index("ix_index_cancellations_merchant", "chain_id", "merchant", "block_number", "log_index"),
    Index("ix_index_cancellations_seq", "chain_id", "token", "payer", "seq"),
    Index("ix_index_cancellations_recipient", "chain_id", "recipient", "block_number", "log_index"),
)

gifts = _event_table(
    "index_gifts",
    Column("token", ADDRESS, nullable=False),
    Column("sender", ADDRESS, nullable=False),
    Column("recipient", ADDRESS, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Index("ix_index_gifts_sender", "chain_id", "sender", "block_number", "log_index"),
    Index("ix_index_gifts_recipient", "chain_id", "recipient", "block_number", "log_index"),
)

redemptions = _event_table(
    "index_redemptions",
    Column("token", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("ref", HASH, nullable=False),  # ties the redemption to a settlement batch
    Index("ix_index_redemptions_merchant", "chain_id", "merchant", "block_number", "log_index"),
    Index("ix_index_redemptions_token", "chain_id", "token", "block_time"),
)

refunds = _event_table(
    "index_refunds",
    Column("token", ADDRESS, nullable=False),
    Column("holder", ADDRESS, nullable=False),
    Column("face", BigInteger, nullable=False),
    Column("cash", BigInteger, nullable=False),
    Index("ix_index_refunds_holder", "chain_id", "holder", "block_number", "log_index"),
)

# ---------------------------------------------------------------------- programs

# One row per ProgramCreated event, with figures kept up to date from later events.
programs = _event_table(
    "index_programs",
    Column("token", ADDRESS, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("root", HASH, nullable=False),
    Column("budget", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("expiry", BigInteger, nullable=False),
    Column("revenue_cap_waived", Boolean, nullable=False),
    Column("categories", JSON, nullable=False),  # KSIC codes; empty: every category
    Column("ref", HASH, nullable=False),
    Column("granted", BigInteger, nullable=False),
    Column("claimed_count", BigInteger, nullable=False),
    Column("spent", BigInteger, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("returned", BigInteger, nullable=True),  # budget - spent, set on close
    Column("closed_block", BigInteger, nullable=True),
    Column("closed_log_index", Integer, nullable=True),
    UniqueConstraint("chain_id", "token", "program_id", name="uq_index_programs_program"),
)

grants = _event_table(
    "index_grants",
    Column("token", ADDRESS, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("recipient", ADDRESS, nullable=False),
    Column("grant_index", BigInteger, nullable=False),  # the leaf index in the program's tree
    Column("amount", BigInteger, nullable=False),
    Index("ix_index_grants_recipient", "chain_id", "recipient", "block_number", "log_index"),
)

program_closes = _event_table(
    "index_program_closes",
    Column("token", ADDRESS, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("granted", BigInteger, nullable=False),
    Column("spent", BigInteger, nullable=False),
    Column("returned", BigInteger, nullable=False),
)

# ---------------------------------------------------------------------- money rules

invoices = _event_table(
    "index_invoices",
    Column("token", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("invoice_id", HASH, nullable=False),
    Column("payer", ADDRESS, nullable=False),  # zero address: anyone may pay it
    Column("amount", BigInteger, nullable=False),  # 0: any amount
    Column("expiry", BigInteger, nullable=False),  # 0: never expires
    Index("ix_index_invoices_merchant", "chain_id", "merchant", "block_number", "log_index"),
    Index("ix_index_invoices_payer", "chain_id", "payer", "block_number", "log_index"),
)

invoice_cancels = _event_table(
    "index_invoice_cancels",
    Column("token", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("invoice_id", HASH, nullable=False),
    Index("ix_index_invoice_cancels_invoice", "chain_id", "token", "merchant", "invoice_id"),
)

funding_changes = _event_table(
    "index_funding_changes",
    Column("token", ADDRESS, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),  # proposed | activated | cancelled
    Column("effective_at", BigInteger, nullable=True),  # proposed
    # proposed: [{"funder": bytes32 hex, "name", "subsidy_bps", "cashback_bps"}, ...]
    Column("shares", JSON, nullable=True),
    Column("subsidy_at", BigInteger, nullable=True),  # activated: the running totals then
    Column("cashback_at", BigInteger, nullable=True),
    Index("ix_index_funding_changes_token", "chain_id", "token", "version"),
)

merchant_terms = _event_table(
    "index_merchant_terms",
    Column("token", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("extra_bps", Integer, nullable=False),
    Column("platform", Boolean, nullable=False),
    Column("platform_fee_bps", Integer, nullable=False),
)

category_exclusions = _event_table(
    "index_category_exclusions",
    Column("token", ADDRESS, nullable=False),
    Column("category", Integer, nullable=False),
    Column("excluded", Boolean, nullable=False),
)

merchant_exclusions = _event_table(
    "index_merchant_exclusions",
    Column("token", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("excluded", Boolean, nullable=False),
)

merchant_funded = _event_table(
    "index_merchant_funded",
    Column("token", ADDRESS, nullable=False),
    Column("merchant", ADDRESS, nullable=False),
    Column("payer", ADDRESS, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("extra", BigInteger, nullable=False),
)

platform_payments = _event_table(
    "index_platform_payments",
    Column("token", ADDRESS, nullable=False),
    Column("payer", ADDRESS, nullable=False),
    Column("platform", ADDRESS, nullable=False),
    Column("shop", ADDRESS, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
)

reward_programs = _event_table(
    "index_reward_programs",
    Column("token", ADDRESS, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("daily_cap", BigInteger, nullable=False),  # 0: none
    Column("monthly_cap", BigInteger, nullable=False),
    UniqueConstraint("chain_id", "token", "program_id", name="uq_index_reward_programs_program"),
)

rewards = _event_table(
    "index_rewards",
    Column("token", ADDRESS, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("recipient", ADDRESS, nullable=False),
    Column("attestation_id", HASH, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Index("ix_index_rewards_recipient", "chain_id", "recipient", "block_number", "log_index"),
)

institution_limits = _event_table(
    "index_institution_limits",
    Column("token", ADDRESS, nullable=False),
    Column("institution", ADDRESS, nullable=False),
    Column("per_payment", BigInteger, nullable=False),
    Column("per_month", BigInteger, nullable=False),
)

institution_blocked = _event_table(
    "index_institution_blocked",
    Column("token", ADDRESS, nullable=False),
    Column("institution", ADDRESS, nullable=False),
    Column("category", Integer, nullable=False),
    Column("blocked", Boolean, nullable=False),
)

employees = _event_table(
    "index_employees",
    Column("token", ADDRESS, nullable=False),
    Column("institution", ADDRESS, nullable=False),
    Column("employee", ADDRESS, nullable=False),
    Column("monthly_limit", BigInteger, nullable=False),  # 0: removed
)

employee_payments = _event_table(
    "index_employee_payments",
    Column("token", ADDRESS, nullable=False),
    Column("institution", ADDRESS, nullable=False),
    Column("employee", ADDRESS, nullable=False),
    Column("seq", BigInteger, nullable=False),  # the institution's payment
    Column("amount", BigInteger, nullable=False),
)

wallet_recoveries = _event_table(
    "index_wallet_recoveries",
    Column("token", ADDRESS, nullable=False),
    Column("lost", ADDRESS, nullable=False),
    Column("recipient", ADDRESS, nullable=False),
    Column("balance", BigInteger, nullable=False),  # general money moved
    Index("ix_index_wallet_recoveries_lost", "chain_id", "lost", "block_number", "log_index"),
    Index(
        "ix_index_wallet_recoveries_recipient", "chain_id", "recipient", "block_number", "log_index"
    ),
)

pocket_recoveries = _event_table(
    "index_pocket_recoveries",
    Column("token", ADDRESS, nullable=False),
    Column("program_id", BigInteger, nullable=False),
    Column("lost", ADDRESS, nullable=False),
    Column("recipient", ADDRESS, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Index("ix_index_pocket_recoveries_lost", "chain_id", "lost", "block_number", "log_index"),
    Index(
        "ix_index_pocket_recoveries_recipient", "chain_id", "recipient", "block_number", "log_index"
    ),
)

# The identity registry's recoveries (network-wide: no token).
recoveries = _event_table(
    "index_recoveries",
    Column("registry", ADDRESS, nullable=False),
    Column("action", String(16), nullable=False),  # started | cancelled | finalized
    Column("lost", ADDRESS, nullable=False),
    Column("recipient", ADDRESS, nullable=True),  # started, finalized
    Column("effective_at", BigInteger, nullable=True),  # started
    Column("sender", ADDRESS, nullable=True),  # the registrar (started) or canceller
    Index("ix_index_recoveries_lost", "chain_id", "lost", "block_number", "log_index"),
)

recovery_delays = _event_table(
    "index_recovery_delays",
    Column("registry", ADDRESS, nullable=False),
    Column("delay", BigInteger, nullable=False),
)

EVENT_TABLES: tuple[Table, ...] = (
    municipalities,
    identity_events,
    relayed,
    role_changes,
    merchant_events,
    rule_changes,
    pauses,
    institution_categories,
    transfers,
    sales,
    payments,
    pocket_moves,
    cancellations,
    gifts,
    redemptions,
    refunds,
    programs,
    grants,
    program_closes,
    invoices,
    invoice_cancels,
    funding_changes,
    merchant_terms,
    category_exclusions,
    merchant_exclusions,
    merchant_funded,
    platform_payments,
    reward_programs,
    rewards,
    institution_limits,
    institution_blocked,
    employees,
    employee_payments,
    wallet_recoveries,
    pocket_recoveries,
    recoveries,
    recovery_delays,
)
"""Tables whose rows belong to one log each: deleted above the common ancestor on a reorg."""

STATE_TABLES: tuple[Table, ...] = (identities, merchants)
"""Folds of event tables, rebuilt for the keys a reorg touched."""

ALL_TABLES: tuple[Table, ...] = (checkpoints, blocks, *EVENT_TABLES, *STATE_TABLES)
