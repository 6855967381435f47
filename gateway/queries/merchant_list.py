"""A municipality's merchants with their registration (category, tier, status, ban), for the
officers' merchant page: filtered, in pages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from gateway.db.tables import index as t
from gateway.queries.scope import as_int, chain_of, checksum

__all__ = ["MERCHANT_STATUS", "MerchantPage", "MerchantRecord", "merchant_list"]

MERCHANT_STATUS = {0: "none", 1: "active", 2: "suspended", 3: "cancelled"}  # MerchantStatus


@dataclass(frozen=True, slots=True)
class MerchantRecord:
    merchant: str
    region: int
    category: int
    tier: int
    status: str
    market: bool
    banned_until: int
    registered_block: int


@dataclass(frozen=True, slots=True)
class MerchantPage:
    total: int  # merchants matching the filter
    items: list[MerchantRecord]


def merchant_list(
    engine: Engine,
    token: str,
    *,
    search: str | None = None,
    address: str | None = None,
    status: str | None = None,
    tier: int | None = None,
    category: int | None = None,
    offset: int = 0,
    limit: int = 50,
    chain_id: int | None = None,
) -> MerchantPage:
    """Merchants of ``token`` in registration order; ``search`` matches part of the address,
    ``address`` the whole of it (one merchant, or none)."""
    m = t.merchants.c
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        where = [m.chain_id == chain, m.token == token.lower()]
        if search:
            where.append(m.merchant.contains(search.lower(), autoescape=True))
        if address is not None:
            where.append(m.merchant == address.lower())
        if status is not None:
            codes = [code for code, name in MERCHANT_STATUS.items() if name == status]
            where.append(m.status.in_(codes))
        if tier is not None:
            where.append(m.tier == tier)
        if category is not None:
            where.append(m.category == category)
        total = as_int(conn.execute(select(func.count()).where(*where)).scalar())
        rows = conn.execute(
            select(t.merchants)
            .where(*where)
            .order_by(m.registered_block, m.merchant)
            .offset(offset)
            .limit(limit)
        )
        items = [
            MerchantRecord(
                merchant=checksum(r.merchant),
                region=r.region,
                category=r.category,
                tier=r.tier,
                status=MERCHANT_STATUS.get(r.status, str(r.status)),
                market=bool(r.market),
                banned_until=r.banned_until,
                registered_block=r.registered_block,
            )
            for r in rows
        ]
    return MerchantPage(total, items)
