"""The payout lines of settlement batches: who the bank pays, how much, to which account.

A batch (``distribution.settlement_batches``) covers a window; each of its lines pays one
payee for one kind of money: a merchant's redemptions (``redemption``) or a resident's refunds'
cash (``refund``). A line whose payee has no bank account on file is ``held`` (reason
``NoBankAccount``) and stays in its own batch; a later batch, once the account exists,
releases it into its own bank file (``released_in`` names that batch) under the line's
original reference, so the bank and the payee quote one reference from first to last.
The account is copied onto the line when it is released: the file issued never changes when
a merchant later edits its profile.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Float, Index, Integer, String, Table

from gateway.db.schema import metadata

ADDRESS = String(42)

# A line's life: `pending` (its batch does not reconcile yet), `released` (in a bank file),
# `paid` (the bank confirmed), `held` (no bank account on file; released by a later batch).
PENDING, RELEASED, PAID, HELD = "pending", "released", "paid", "held"
REDEMPTION, REFUND = "redemption", "refund"

settlement_lines = Table(
    "settlement_lines",
    metadata,
    Column("line_reference", String(72), primary_key=True),  # batch reference + "-" + number
    Column("reference", String(64), nullable=False),  # the batch whose window it belongs to
    Column("chain_id", Integer, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("kind", String(16), nullable=False),  # redemption | refund
    Column("payee", ADDRESS, nullable=False),  # the merchant's or the resident's wallet
    Column("events", Integer, nullable=False),  # redemptions or refunds it pays
    Column("amount", BigInteger, nullable=False),  # won to pay
    Column("burned", BigInteger, nullable=False),  # won the chain destroyed for them
    Column("refs", JSON, nullable=False),  # the merchant's redemption references
    Column("first_time", BigInteger, nullable=False),
    Column("last_time", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(32), nullable=True),  # why held: NoBankAccount, InvalidBankAccount
    Column("released_in", String(64), nullable=True),  # the batch whose bank file pays it
    Column("bank_code", String(8), nullable=True),  # copied when released
    Column("bank_account", String(32), nullable=True),
    Column("account_holder", String(100), nullable=True),
    Column("updated_at", Float, nullable=False),
    Index("ix_settlement_lines_batch", "reference"),
    Index("ix_settlement_lines_released", "released_in"),
    Index("ix_settlement_lines_status", "chain_id", "token", "status"),
    Index("ix_settlement_lines_payee", "chain_id", "payee"),
)

__all__ = [
    "HELD",
    "PAID",
    "PENDING",
    "REDEMPTION",
    "REFUND",
    "RELEASED",
    "settlement_lines",
]
