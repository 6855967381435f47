"""Invoices: a merchant's single-use payment ids, and the remote payment requests (invoices
that name their payer) a wallet has been sent.

An invoice's status is derived from the events, never stored: cancelled once its merchant
cancelled it (``InvoiceCancelled``), paid once a payment used its id (``Paid`` or
``PaidWithPockets`` with that payment id at that merchant), expired when neither happened and
its expiry has passed, open otherwise. So a reorg or a reindex needs nothing but the event tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, Row, and_, case, desc, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from chain.protocol.hashing import ZERO_ADDRESS
from gateway.db.tables import index as t
from gateway.queries.scope import MAX_PAGE, chain_of, checksum
from gateway.queries.wallets import decode_cursor, encode_cursor

__all__ = ["Invoice", "InvoicePage", "InvoiceStatus", "merchant_invoices", "payment_requests"]

InvoiceStatus = Literal["open", "paid", "expired", "cancelled"]


@dataclass(frozen=True, slots=True)
class Invoice:
    token: str
    merchant: str
    payer: str | None  # who may pay it (None: anyone)
    invoice_id: str  # the payment id a payment must carry (bytes32 hex)
    amount: int  # exact amount due (0: any amount)
    expiry: int  # unix seconds from which it cannot be paid (0: never expires)
    status: InvoiceStatus
    created_block: int
    created_time: int
    created_tx_hash: str
    paid_seq: int | None  # the payment that used it: the payer's sequence number
    paid_tx_hash: str | None
    paid_time: int | None
    paid_by: str | None
    cancelled_time: int | None


@dataclass(frozen=True, slots=True)
class InvoicePage:
    items: list[Invoice]
    next_cursor: str | None  # pass back to get the next (older) page; None on the last page


def payment_requests(
    engine: Engine,
    payer: str,
    *,
    status: InvoiceStatus | None = None,
    token: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    now: int | None = None,
    chain_id: int | None = None,
) -> InvoicePage:
    """Remote payment requests addressed to ``payer``, newest first."""
    where = t.invoices.c.payer == payer.lower()
    return _invoices(engine, where, status, token, cursor, limit, now, chain_id)


def merchant_invoices(
    engine: Engine,
    merchant: str,
    *,
    status: InvoiceStatus | None = None,
    token: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    now: int | None = None,
    chain_id: int | None = None,
) -> InvoicePage:
    """A merchant's invoices (to anyone or to a named payer), newest first."""
    where = t.invoices.c.merchant == merchant.lower()
    return _invoices(engine, where, status, token, cursor, limit, now, chain_id)


def _invoices(
    engine: Engine,
    who: ColumnElement[bool],
    status: InvoiceStatus | None,
    token: str | None,
    cursor: str | None,
    limit: int,
    now: int | None,
    chain_id: int | None,
) -> InvoicePage:
    """Raises :class:`InvalidCursorError` for a cursor this module did not make."""
    i, x, p = t.invoices.c, t.invoice_cancels.c, t.payments.c
    limit = max(1, min(limit, MAX_PAGE))
    moment = int(time.time()) if now is None else now
    before = decode_cursor(cursor) if cursor else None
    derived = case(
        (x.block_number.is_not(None), literal("cancelled")),
        (p.seq.is_not(None), literal("paid")),
        (and_(i.expiry != 0, i.expiry <= moment), literal("expired")),
        else_=literal("open"),
    ).label("status")
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        cancelled = and_(x.chain_id == i.chain_id, x.token == i.token,
                         x.merchant == i.merchant, x.invoice_id == i.invoice_id)  # fmt: skip
        paid = and_(p.chain_id == i.chain_id, p.token == i.token,
                    p.merchant == i.merchant, p.payment_id == i.invoice_id)  # fmt: skip
        query = (
            select(
                t.invoices,
                derived,
                p.seq.label("paid_seq"),
                p.tx_hash.label("paid_tx_hash"),
                p.block_time.label("paid_time"),
                p.payer.label("paid_by"),
                x.block_time.label("cancelled_time"),
            )
            .outerjoin(t.invoice_cancels, cancelled)
            .outerjoin(t.payments, paid)
            .where(i.chain_id == chain, who)
        )
        if token is not None:
            query = query.where(i.token == token.lower())
        if status is not None:
            query = query.where(derived == status)
        if before is not None:
            block, log_index = before
            query = query.where(
                or_(i.block_number < block, and_(i.block_number == block, i.log_index < log_index))
            )
        query = query.order_by(desc(i.block_number), desc(i.log_index)).limit(limit + 1)
        found = conn.execute(query).all()
    more, found = len(found) > limit, found[:limit]
    last = found[-1] if found else None
    next_cursor = encode_cursor(last.block_number, last.log_index) if more and last else None
    return InvoicePage([_invoice(r) for r in found], next_cursor)


def _invoice(r: Row[Any]) -> Invoice:
    return Invoice(
        token=checksum(r.token),
        merchant=checksum(r.merchant),
        payer=None if r.payer == ZERO_ADDRESS else checksum(r.payer),
        invoice_id=r.invoice_id,
        amount=r.amount,
        expiry=r.expiry,
        status=r.status,
        created_block=r.block_number,
        created_time=r.block_time,
        created_tx_hash=r.tx_hash,
        paid_seq=r.paid_seq,
        paid_tx_hash=r.paid_tx_hash,
        paid_time=r.paid_time,
        paid_by=None if r.paid_by is None else checksum(r.paid_by),
        cancelled_time=r.cancelled_time,
    )
