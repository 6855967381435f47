"""Tables of the gateway's own bookkeeping beside the index: distribution jobs, settlement
batches, and the fraud rules' per-municipality thresholds and declared wallet links.

Unlike the index tables these are not derived from the chain and are never rebuilt by a
reindex: they record what the gateway did (pushes sent, settlement files issued) and what city
staff decided (thresholds, linked wallets). Addresses and hashes are lowercase ``0x`` hex, as
in the index, so the two join without case folding.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from gateway.db.schema import metadata

ADDRESS = String(42)
HASH = String(66)

# Job statuses. A job is `built` until the index shows its root committed, then `committed`;
# `pushing` while a pusher holds its lease (`interrupted`, only as reported, once a pusher died
# and its lease ran out); `done` once every leaf is claimed on chain; `failed` keeps the last
# error. An unfinished job of any status resumes when pushed again.
BUILT, COMMITTED, PUSHING, DONE, FAILED = "built", "committed", "pushing", "done", "failed"
INTERRUPTED = "interrupted"

# Batch statuses: `sent` (signed, its hash stored before sending), `mined`, `skipped` (every
# leaf of the range was already claimed when checked, nothing sent), `failed` (reverted).
SENT, MINED, SKIPPED = "sent", "mined", "skipped"

distribution_jobs = Table(
    "distribution_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("chain_id", Integer, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("root", HASH, nullable=False),
    Column("leaf_count", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("batch_size", Integer, nullable=False),
    Column("program_id", BigInteger, nullable=True),  # set once the commit is indexed
    Column("status", String(16), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("error_detail", Text, nullable=True),
    # One pusher at a time across replicas; a crashed pusher's lease simply runs out.
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_distribution_jobs_root", "chain_id", "token", "root"),
)

# The leaves of every tree the gateway keeps, for proofs by recipient address and for audits
# in SQL. Keyed by root: two jobs with the same list share one tree.
distribution_leaves = Table(
    "distribution_leaves",
    metadata,
    Column("root", HASH, primary_key=True),
    Column("leaf_index", BigInteger, primary_key=True),
    Column("recipient", ADDRESS, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Index("ix_distribution_leaves_recipient", "root", "recipient"),
)

# One row per contiguous leaf range [first_index, last_index] of a job, in push order.
distribution_batches = Table(
    "distribution_batches",
    metadata,
    Column("job_id", String(32), ForeignKey("distribution_jobs.id"), primary_key=True),
    Column("first_index", BigInteger, primary_key=True),
    Column("last_index", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("sent", Integer, nullable=False),  # leaves put in the transaction
    Column("skipped", Integer, nullable=False),  # already claimed when the range was checked
    Column("paid", Integer, nullable=False),  # Granted events of the transaction
    Column("paid_amount", BigInteger, nullable=False),
    Column("tx_hash", HASH, nullable=True),
    Column("nonce", BigInteger, nullable=True),
    Column("gas_used", BigInteger, nullable=True),
    Column("block_number", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

settlement_batches = Table(
    "settlement_batches",
    metadata,
    Column("reference", String(64), primary_key=True),
    Column("chain_id", Integer, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("since", BigInteger, nullable=False),  # block time, inclusive
    Column("until", BigInteger, nullable=False),  # block time, exclusive
    Column("merchants", Integer, nullable=False),
    Column("redemptions", Integer, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    # Since 0011: refunds' cash beside redemptions, and the lines of gateway.audit.payouts.
    # `released` (its file may be paid) or `unreconciled` (held back until the index agrees
    # with the burns again); `manual` (an auditor's POST) or `auto` (the cut-off scheduler).
    Column("status", String(16), nullable=False, server_default="released"),
    Column("origin", String(8), nullable=False, server_default="manual"),
    Column("refunds", Integer, nullable=False, server_default="0"),
    Column("refund_cash", BigInteger, nullable=False, server_default="0"),
    Column("payable", BigInteger, nullable=False, server_default="0"),  # the bank file's total
    Column("value_date", String(8), nullable=True),  # YYYYMMDD (KST) the bank pays on
    Index("ix_settlement_batches_window", "chain_id", "token", "since"),
)

audit_thresholds = Table(
    "audit_thresholds",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("config", JSON, nullable=False),  # gateway.fraud.Thresholds, as JSON
    Column("updated_at", Float, nullable=False),
)

# Wallets a municipality knows belong to a merchant's owner, family or staff (from KYC and
# business registration): the chain cannot see that two addresses share an owner.
audit_wallet_links = Table(
    "audit_wallet_links",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("merchant", ADDRESS, primary_key=True),
    Column("wallet", ADDRESS, primary_key=True),
    Column("relation", String(32), nullable=False),  # owner | family | employee | ...
    Column("note", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
