"""Who funds a municipality's discounts and cashback: its funding plan versions and each
funder's share, computed from indexed events exactly as ``VoucherAdmin`` does on chain.

The running totals are the discount subsidy of every sale (``Issued``: face - paid) and the
cashback of every payment net of the cashback taken back by cancellations, booked when they
happen. Activating a version records the totals it starts from (``FundingPlanActivated``); a
version funds what the totals grew by until the next one (``fundedBy``, negative if
cancellations took back more cashback than was paid meanwhile). A funder's share of a version
is cut by cumulative basis points, ``total * upTo / 10000 - total * before / 10000`` rounding
toward zero (``funderTotals``), so a version's funders add up to its totals to the won.
Merchant-funded extras (a merchant's own discount) are the merchants' alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.tables import index as t
from gateway.queries.municipalities import municipality_rows
from gateway.queries.scope import as_int, chain_of

__all__ = ["FunderTotal", "Funding", "FundingShare", "FundingVersion", "funding"]

BPS = 10_000


@dataclass(frozen=True, slots=True)
class FundingShare:
    funder: str  # bytes32 hex, as on chain
    name: str  # the funder id as text ("state", "siheung")
    subsidy_bps: int
    cashback_bps: int


@dataclass(frozen=True, slots=True)
class FundingVersion:
    version: int
    shares: list[FundingShare]
    effective_at: int  # when it could be activated
    activated_block: int | None  # None: pending
    activated_time: int | None
    subsidy_at: int | None  # the running totals when it took effect
    cashback_at: int | None
    subsidy: int | None  # what it funds (fundedBy): the totals' growth while in force
    cashback: int | None


@dataclass(frozen=True, slots=True)
class FunderTotal:
    funder: str
    name: str
    subsidy: int  # funderTotals: every version's share, summed
    cashback: int


@dataclass(frozen=True, slots=True)
class Funding:
    token: str
    subsidy_total: int  # fundingTotals: discount subsidies since genesis
    cashback_total: int  # cashback since genesis, net of cancellations
    versions: list[FundingVersion]  # activated, oldest first
    pending: FundingVersion | None  # proposed, not yet activated (nor withdrawn)
    funders: list[FunderTotal]  # in order of first appearance
    merchant_extras: int  # merchants' own discounts, net of cancellations
    as_of_block: int


def _toward_zero(numerator: int, denominator: int) -> int:
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def cut(total: int, before: int, up_to: int) -> int:
    """``VoucherAdmin._cut``: a share of ``total`` between cumulative basis points."""
    return _toward_zero(total * up_to, BPS) - _toward_zero(total * before, BPS)


def _sum(conn: Connection, column: ColumnElement[int], *where: ColumnElement[bool]) -> int:
    return as_int(conn.execute(select(func.sum(column)).where(*where)).scalar())


def funding(engine: Engine, token: str, *, chain_id: int | None = None) -> Funding | None:
    """A municipality's funding plans and funders' totals; None for an unknown token."""
    tok = token.lower()
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        found = municipality_rows(conn, chain, tok)
        if not found:
            return None
        s, p, x = t.sales.c, t.payments.c, t.cancellations.c
        subsidy_total = _sum(conn, s.subsidy, s.chain_id == chain, s.token == tok)
        cashback_total = _sum(conn, p.cashback, p.chain_id == chain, p.token == tok) - _sum(
            conn, x.cashback, x.chain_id == chain, x.token == tok
        )
        extras = _sum(conn, p.extra, p.chain_id == chain, p.token == tok) - _sum(
            conn, x.extra, x.chain_id == chain, x.token == tok
        )
        f = t.funding_changes.c
        changes = conn.execute(
            select(t.funding_changes)
            .where(f.chain_id == chain, f.token == tok)
            .order_by(f.block_number, f.log_index)
        ).all()
        c = t.checkpoints.c
        as_of = as_int(conn.execute(select(c.block_number).where(c.chain_id == chain)).scalar())
    proposed: dict[int, tuple[list[FundingShare], int]] = {}
    activated: list[tuple[int, list[FundingShare], int, int, int, int, int]] = []
    for r in changes:
        if r.action == "proposed":
            shares = [
                FundingShare(s["funder"], s["name"], s["subsidy_bps"], s["cashback_bps"])
                for s in cast(list[dict[str, Any]], r.shares)
            ]
            proposed[r.version] = (shares, r.effective_at)
        elif r.action == "cancelled":
            proposed.pop(r.version, None)
        elif r.version in proposed:
            shares, effective_at = proposed.pop(r.version)
            activated.append((r.version, shares, effective_at, r.block_number, r.block_time,
                              r.subsidy_at, r.cashback_at))  # fmt: skip
    versions: list[FundingVersion] = []
    funders: dict[str, list[object]] = {}
    for n, (version, shares, effective_at, block, when, subsidy_at, cashback_at) in enumerate(
        activated
    ):
        following = activated[n + 1] if n + 1 < len(activated) else None
        subsidy_to = subsidy_total if following is None else following[5]
        cashback_to = cashback_total if following is None else following[6]
        subsidy, cashback = subsidy_to - subsidy_at, cashback_to - cashback_at
        versions.append(FundingVersion(version, shares, effective_at, block, when, subsidy_at,
                                       cashback_at, subsidy, cashback))  # fmt: skip
        subsidy_before = cashback_before = 0
        for share in shares:
            subsidy_up_to = subsidy_before + share.subsidy_bps
            cashback_up_to = cashback_before + share.cashback_bps
            entry = funders.setdefault(share.funder, [share.name, 0, 0])
            entry[1] = cast(int, entry[1]) + cut(subsidy, subsidy_before, subsidy_up_to)
            entry[2] = cast(int, entry[2]) + cut(cashback, cashback_before, cashback_up_to)
            subsidy_before, cashback_before = subsidy_up_to, cashback_up_to
    pending = None
    if proposed:
        version = max(proposed)
        shares, effective_at = proposed[version]
        pending = FundingVersion(version, shares, effective_at, None, None, None, None, None, None)
    return Funding(
        token=found[0].token,
        subsidy_total=subsidy_total,
        cashback_total=cashback_total,
        versions=versions,
        pending=pending,
        funders=[
            FunderTotal(funder, cast(str, name), cast(int, sub), cast(int, back))
            for funder, (name, sub, back) in funders.items()
        ],
        merchant_extras=extras,
        as_of_block=as_of,
    )
