"""What each funder owes for a period: its shares of the discount subsidies and the cashback,
and the merchants' own extras, from the indexed events; the all-time report checked against
the chain's ``funderTotals`` and ``extraTotal``.

Every event belongs to the funding plan version in force when it happened: the last
``FundingPlanActivated`` before it in log order (events before the first plan belong to none:
``unplanned``). A funder's all-time share is ``VoucherAdmin.funderTotals``: per version, the
version's total cut by cumulative basis points, rounding toward zero (``gateway.queries.funding
.cut``). A period's share is that figure at its end minus that figure at its start, so the
reports of consecutive periods add up to the all-time totals to the won (cutting each period
on its own would round differently from the chain).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, Engine, Table, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from chain.reader import TokenReader
from chain.rpc import RpcClient
from gateway.db.tables import index as t
from gateway.errors import GatewayError
from gateway.queries.funding import FundingShare, cut, funding
from gateway.queries.scope import as_int

__all__ = ["FunderOwes", "FunderReport", "MerchantExtra", "funder_report"]


@dataclass(frozen=True, slots=True)
class FunderOwes:
    funder: str  # bytes32 hex, as on chain
    name: str
    subsidy: int  # its share of discount subsidies in the period
    cashback: int  # its share of cashback, net of cancellations (may be negative)
    total: int
    chain_subsidy: int | None  # funderTotals on chain (all-time reports only)
    chain_cashback: int | None


@dataclass(frozen=True, slots=True)
class MerchantExtra:
    merchant: str
    extras: int  # merchant-funded extras given, net of cancellations
    chain_extra_total: int | None  # extraTotal on chain (all-time reports only)


@dataclass(frozen=True, slots=True)
class FunderReport:
    token: str
    since: int | None  # block time, inclusive; None: from genesis
    until: int | None  # exclusive; None: everything indexed
    subsidy: int  # discount subsidies in the period (face - paid of every sale)
    cashback: int  # cashback in the period, net of cancellations
    unplanned_subsidy: int  # before the first funding plan: no funder's
    unplanned_cashback: int
    funders: list[FunderOwes]
    merchant_extras: list[MerchantExtra]
    merchant_extras_total: int
    reconciled: bool | None  # all-time: every figure equals the chain's; None for a period
    as_of_block: int


@dataclass(frozen=True, slots=True)
class _Version:
    shares: list[FundingShare]
    start: tuple[int, int]  # (block, log index) of its activation
    end: tuple[int, int] | None  # the next activation's


def _after(table: Table, at: tuple[int, int]) -> ColumnElement[bool]:
    c = table.c
    return or_(c.block_number > at[0], and_(c.block_number == at[0], c.log_index >= at[1]))


def _before(table: Table, at: tuple[int, int]) -> ColumnElement[bool]:
    c = table.c
    return or_(c.block_number < at[0], and_(c.block_number == at[0], c.log_index < at[1]))


class _Sums:
    """Running totals (subsidy, net cashback) of one token's events before a time."""

    def __init__(self, conn: Connection, chain_id: int, token: str) -> None:
        self.conn, self.chain_id, self.token = conn, chain_id, token

    def _sum(self, table: Table, column: str, *where: ColumnElement[bool]) -> int:
        c = table.c
        query = select(func.sum(c[column])).where(
            c.chain_id == self.chain_id, c.token == self.token, *where
        )
        return as_int(self.conn.execute(query).scalar())

    def totals(self, before: int | None, *where_of: tuple[int, int] | None) -> tuple[int, int]:
        """(subsidy, cashback) of events before time ``before`` (None: all) and positioned in
        ``[start, end)`` when ``where_of`` gives them."""
        start, end = where_of if where_of else (None, None)

        def bounds(table: Table) -> list[ColumnElement[bool]]:
            out = [] if before is None else [table.c.block_time < before]
            out += [] if start is None else [_after(table, start)]
            return out + ([] if end is None else [_before(table, end)])

        subsidy = self._sum(t.sales, "subsidy", *bounds(t.sales))
        cashback = self._sum(t.payments, "cashback", *bounds(t.payments)) - self._sum(
            t.cancellations, "cashback", *bounds(t.cancellations)
        )
        return subsidy, cashback


def _versions(conn: Connection, engine: Engine, chain_id: int, token: str) -> list[_Version]:
    plans = funding(engine, token, chain_id=chain_id)
    if plans is None:
        raise GatewayError("NotFound", f"no municipality with token {token}", {"token": token})
    f = t.funding_changes.c
    starts = {
        int(v): (int(b), int(i))
        for v, b, i in conn.execute(
            select(f.version, f.block_number, f.log_index).where(
                f.chain_id == chain_id, f.token == token, f.action == "activated"
            )
        )
    }
    positions = [starts[v.version] for v in plans.versions]
    return [
        _Version(v.shares, positions[n], positions[n + 1] if n + 1 < len(positions) else None)
        for n, v in enumerate(plans.versions)
    ]


def _owed(sums: _Sums, versions: list[_Version], before: int | None) -> dict[str, list[object]]:
    """Each funder's [name, subsidy, cashback] for the events before ``before``."""
    owed: dict[str, list[object]] = {}
    for version in versions:
        subsidy, cashback = sums.totals(before, version.start, version.end)
        subsidy_before = cashback_before = 0
        for share in version.shares:
            subsidy_up_to = subsidy_before + share.subsidy_bps
            cashback_up_to = cashback_before + share.cashback_bps
            entry = owed.setdefault(share.funder, [share.name, 0, 0])
            entry[1] = int(str(entry[1])) + cut(subsidy, subsidy_before, subsidy_up_to)
            entry[2] = int(str(entry[2])) + cut(cashback, cashback_before, cashback_up_to)
            subsidy_before, cashback_before = subsidy_up_to, cashback_up_to
    return owed


def _extras(
    conn: Connection, chain_id: int, token: str, since: int | None, until: int | None
) -> dict[str, int]:
    out: dict[str, int] = {}
    for table, sign in ((t.payments, 1), (t.cancellations, -1)):
        c = table.c
        where = [c.chain_id == chain_id, c.token == token, c.extra != 0]
        where += [] if since is None else [c.block_time >= since]
        where += [] if until is None else [c.block_time < until]
        query = select(c.merchant, func.sum(c.extra)).where(*where).group_by(c.merchant)
        for merchant, extra in conn.execute(query):
            out[str(merchant)] = out.get(str(merchant), 0) + sign * int(extra)
    return out


def funder_report(
    engine: Engine,
    chain_id: int,
    token: str,
    since: int | None,
    until: int | None,
    rpc: RpcClient | None = None,
) -> FunderReport:
    """The funders' and merchants' shares in ``[since, until)``; with both None and ``rpc``
    given, checked against the chain at the index's block."""
    token = token.lower()
    if since is not None and until is not None and since >= until:
        raise GatewayError("InvalidRequest", "since must be before until", {"since": since})
    with engine.connect() as conn:
        versions = _versions(conn, engine, chain_id, token)
        sums = _Sums(conn, chain_id, token)
        end = _owed(sums, versions, until)
        start = _owed(sums, versions, since) if since is not None else {}
        subsidy_end, cashback_end = sums.totals(until)
        subsidy_start, cashback_start = sums.totals(since) if since is not None else (0, 0)
        first = versions[0].start if versions else None
        planned_end = sums.totals(until, first, None) if first else (0, 0)
        planned_start = sums.totals(since, first, None) if first and since is not None else (0, 0)
        extras = _extras(conn, chain_id, token, since, until)
        c = t.checkpoints.c
        block = as_int(conn.execute(select(c.block_number).where(c.chain_id == chain_id)).scalar())
    subsidy, cashback = subsidy_end - subsidy_start, cashback_end - cashback_start
    rows = []
    for funder, (name, sub, back) in end.items():
        before = start.get(funder, [name, 0, 0])
        owed_sub = int(str(sub)) - int(str(before[1]))
        owed_back = int(str(back)) - int(str(before[2]))
        rows.append((funder, str(name), owed_sub, owed_back))
    merchants = sorted(extras)
    chain_funders: list[tuple[int, int]] | None = None
    chain_extras: list[int] | None = None
    if rpc is not None and since is None and until is None:
        reader = TokenReader(rpc, to_checksum_address(token), block)
        chain_funders = reader.funder_totals([bytes.fromhex(f[2:]) for f, *_ in rows])
        chain_extras = reader.extra_totals([to_checksum_address(m) for m in merchants])
    funders = [
        FunderOwes(
            funder,
            name,
            sub,
            back,
            sub + back,
            chain_funders[n][0] if chain_funders else None,
            chain_funders[n][1] if chain_funders else None,
        )
        for n, (funder, name, sub, back) in enumerate(rows)
    ]
    merchant_extras = [
        MerchantExtra(to_checksum_address(m), extras[m], chain_extras[n] if chain_extras else None)
        for n, m in enumerate(merchants)
    ]
    reconciled = None
    if chain_funders is not None and chain_extras is not None:
        reconciled = all(
            (f.subsidy, f.cashback) == (f.chain_subsidy, f.chain_cashback) for f in funders
        ) and all(m.extras == m.chain_extra_total for m in merchant_extras)
    return FunderReport(
        token=to_checksum_address(token),
        since=since,
        until=until,
        subsidy=subsidy,
        cashback=cashback,
        unplanned_subsidy=subsidy - (planned_end[0] - planned_start[0]),
        unplanned_cashback=cashback - (planned_end[1] - planned_start[1]),
        funders=funders,
        merchant_extras=merchant_extras,
        merchant_extras_total=sum(m.extras for m in merchant_extras),
        reconciled=reconciled,
        as_of_block=block,
    )
