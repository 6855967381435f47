"""In-app voucher purchases: the city's sale discount, residents' purchase orders and the
payment provider's webhook events seen (so a redelivered event does nothing twice).

An order's life (``gateway.purchase.orders``): ``created`` (the row exists before the bank
is asked) -> ``awaiting_payment`` (a virtual account was issued) -> ``paid`` (the deposit's
webhook arrived, amount checked) -> ``issuing`` (the signed ``issue`` transaction is recorded
BEFORE it is sent) -> ``issued`` (its receipt). Side exits: ``refunding`` -> ``refunded`` (the
issue failed definitively, a wrong amount, or a deposit after expiry), ``expired`` (no deposit
in time), ``cancelled`` (by the resident before paying), ``failed`` (the bank refused).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gateway.db.schema import metadata

ADDRESS = String(42)

CREATED, AWAITING_PAYMENT, PAID, ISSUING, ISSUED = (
    "created", "awaiting_payment", "paid", "issuing", "issued"
)  # fmt: skip
REFUNDING, REFUNDED, EXPIRED, CANCELLED, FAILED = (
    "refunding", "refunded", "expired", "cancelled", "failed"
)  # fmt: skip
# Orders whose face value is not on chain yet but may still be: they count against the caps.
PENDING_STATES = (CREATED, AWAITING_PAYMENT, PAID, ISSUING)
FINAL_STATES = (ISSUED, REFUNDED, EXPIRED, CANCELLED, FAILED)

# The city's discount on in-app sales, set by its admin (within the on-chain bounds).
sale_settings = Table(
    "sale_settings",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("token", ADDRESS, primary_key=True),
    Column("discount_bps", Integer, nullable=False),
    Column("on_sale", Integer, nullable=False),  # 0: in-app sales paused by the city
    Column("updated_by", String(80), nullable=False),
    Column("updated_at", Float, nullable=False),
)

purchase_orders = Table(
    "purchase_orders",
    metadata,
    Column("id", String(40), primary_key=True),  # "po_" + random hex: the bank's reference
    Column("chain_id", Integer, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("buyer", ADDRESS, nullable=False),
    Column("idempotency_key", String(80), nullable=False),
    Column("face", BigInteger, nullable=False),  # won of vouchers
    Column("price", BigInteger, nullable=False),  # won to pay: face minus the discount
    Column("discount_bps", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("payment_id", String(64), nullable=True),  # the provider's virtual account / payment
    Column("bank_code", String(8), nullable=True),
    Column("account_number", String(32), nullable=True),
    Column("account_holder", String(100), nullable=True),
    Column("expires_at", Float, nullable=False),  # pay before this (unix seconds)
    Column("deposited", BigInteger, nullable=True),  # won the bank says arrived
    Column("paid_at", Float, nullable=True),
    # The issue transaction, recorded before it is sent: a restart resends the same bytes,
    # so the sale can run once at most whatever fails.
    Column("tx_hash", String(66), nullable=True),
    Column("tx_nonce", BigInteger, nullable=True),
    Column("raw_tx", LargeBinary, nullable=True),
    Column("block_number", BigInteger, nullable=True),
    Column("refund_id", String(64), nullable=True),
    Column("error_code", String(80), nullable=True),
    Column("error_detail", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("chain_id", "buyer", "idempotency_key", name="uq_purchase_orders_idem"),
    Index("ix_purchase_orders_buyer", "chain_id", "buyer", "created_at"),
    Index("ix_purchase_orders_state", "state"),
    Index("ix_purchase_orders_payment", "provider", "payment_id"),
)

# Webhook events already applied, by the provider's event id.
purchase_webhook_events = Table(
    "purchase_webhook_events",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("event_id", String(80), primary_key=True),
    Column("order_id", String(40), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("received_at", Float, nullable=False),
)

__all__ = [
    "AWAITING_PAYMENT",
    "CANCELLED",
    "CREATED",
    "EXPIRED",
    "FAILED",
    "FINAL_STATES",
    "ISSUED",
    "ISSUING",
    "PAID",
    "PENDING_STATES",
    "REFUNDED",
    "REFUNDING",
    "purchase_orders",
    "purchase_webhook_events",
    "sale_settings",
]
