"""A merchant's sales: payments, cancellations and redemptions over a window."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Engine,
    Table,
    func,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.tables import index as t
from gateway.queries.scope import as_int, chain_of, checksum


@dataclass(frozen=True, slots=True)
class MerchantSales:
    merchant: str
    token: str
    payments: int
    gross: int  # everything paid to the merchant
    from_general: int
    from_pockets: int  # policy money (never subject to the revenue cap)
    cancellations: int
    cancelled: int
    net: int  # gross - cancelled
    redemptions: int
    redeemed: int
    first_time: int | None
    last_time: int | None


def merchant_sales(
    engine: Engine,
    merchant: str,
    *,
    token: str | None = None,
    since: int | None = None,
    until: int | None = None,
    chain_id: int | None = None,
) -> list[MerchantSales]:
    """A merchant's takings per token, optionally within [since, until) block times."""
    who = merchant.lower()

    def where(table: Table) -> list[ColumnElement[bool]]:
        c = table.c
        clauses: list[ColumnElement[bool]] = [c.chain_id == chain, c.merchant == who]
        if token is not None:
            clauses.append(c.token == token.lower())
        if since is not None:
            clauses.append(c.block_time >= since)
        if until is not None:
            clauses.append(c.block_time < until)
        return clauses

    p, x, r = t.payments.c, t.cancellations.c, t.redemptions.c
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        paid = {
            row.token: row
            for row in conn.execute(
                select(
                    p.token,
                    func.count().label("n"),
                    func.sum(p.amount).label("gross"),
                    func.sum(p.from_general).label("general"),
                    func.sum(p.from_pockets).label("pockets"),
                    func.min(p.block_time).label("first"),
                    func.max(p.block_time).label("last"),
                )
                .where(*where(t.payments))
                .group_by(p.token)
            )
        }
        cancelled = {
            row.token: row
            for row in conn.execute(
                select(x.token, func.count().label("n"), func.sum(x.amount).label("total"))
                .where(*where(t.cancellations))
                .group_by(x.token)
            )
        }
        redeemed = {
            row.token: row
            for row in conn.execute(
                select(r.token, func.count().label("n"), func.sum(r.amount).label("total"))
                .where(*where(t.redemptions))
                .group_by(r.token)
            )
        }
    out = []
    for tok in sorted(set(paid) | set(cancelled) | set(redeemed)):
        a, b, c = paid.get(tok), cancelled.get(tok), redeemed.get(tok)
        gross, minus = as_int(a and a.gross), as_int(b and b.total)
        out.append(
            MerchantSales(
                merchant=checksum(who),
                token=checksum(tok),
                payments=as_int(a and a.n),
                gross=gross,
                from_general=as_int(a and a.general),
                from_pockets=as_int(a and a.pockets),
                cancellations=as_int(b and b.n),
                cancelled=minus,
                net=gross - minus,
                redemptions=as_int(c and c.n),
                redeemed=as_int(c and c.total),
                first_time=None if a is None else a.first,
                last_time=None if a is None else a.last,
            )
        )
    return out
