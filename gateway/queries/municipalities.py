"""Municipalities, their dashboards and programs, and where the index stands: the public figures."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    func,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from chain.protocol.hashing import ZERO_ADDRESS
from gateway.db.tables import index as t
from gateway.queries.scope import as_int, chain_of, checksum


@dataclass(frozen=True, slots=True)
class Municipality:
    token: str
    region: int
    name: str
    symbol: str
    admin: str
    block_number: int
    deployed_at: int


def municipality_rows(conn: Connection, chain: int, token: str | None) -> list[Municipality]:
    c = t.municipalities.c
    query = select(t.municipalities).where(c.chain_id == chain)
    if token is not None:
        query = query.where(c.token == token.lower())
    rows = conn.execute(query.order_by(c.block_number, c.log_index))
    return [
        Municipality(
            checksum(r.token),
            r.region,
            r.name,
            r.symbol,
            checksum(r.admin),
            r.block_number,
            r.block_time,
        )
        for r in rows
    ]


def municipalities(engine: Engine, *, chain_id: int | None = None) -> list[Municipality]:
    """Every municipality the factory has deployed, oldest first."""
    with engine.connect() as conn:
        return municipality_rows(conn, chain_of(conn, chain_id), None)


def municipality(engine: Engine, token: str, *, chain_id: int | None = None) -> Municipality | None:
    with engine.connect() as conn:
        found = municipality_rows(conn, chain_of(conn, chain_id), token)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class Dashboard:
    token: str
    region: int
    name: str
    symbol: str
    sales: int
    issued_face: int  # face value sold
    issued_paid: int  # cash buyers paid for it
    subsidy: int  # issued_face - issued_paid: the discount the city funds
    circulating: int  # totalSupply: minted - burned, from transfers
    payments: int
    payment_volume: int
    cashback: int
    gifts: int
    gift_volume: int
    redemptions: int
    redeemed: int
    refunds: int
    refunded_face: int
    refunded_cash: int
    holders: int  # wallets with a general balance
    merchants: int  # active merchants
    programs: int
    policy_budget: int
    policy_granted: int
    policy_spent: int
    as_of_block: int


def _dashboard_sums(conn: Connection, chain: int, token: str) -> dict[str, int]:
    s, p, g, r, f, x, q = (
        t.sales.c,
        t.payments.c,
        t.gifts.c,
        t.redemptions.c,
        t.refunds.c,
        t.transfers.c,
        t.programs.c,
    )
    n = func.count()
    figures: list[tuple[Table, dict[str, ColumnElement[int]]]] = [
        (t.sales, {"sales": n, "issued_face": func.sum(s.face), "issued_paid": func.sum(s.paid),
                   "subsidy": func.sum(s.subsidy)}),
        (t.payments, {"payments": n, "payment_volume": func.sum(p.amount),
                      "cashback": func.sum(p.cashback)}),
        (t.gifts, {"gifts": n, "gift_volume": func.sum(g.amount)}),
        (t.redemptions, {"redemptions": n, "redeemed": func.sum(r.amount)}),
        (t.refunds, {"refunds": n, "refunded_face": func.sum(f.face),
                     "refunded_cash": func.sum(f.cash)}),
        (t.transfers, {"minted": func.sum(x.amount).filter(x.sender == ZERO_ADDRESS),
                       "burned": func.sum(x.amount).filter(x.recipient == ZERO_ADDRESS)}),
        (t.programs, {"programs": n, "policy_budget": func.sum(q.budget),
                      "policy_granted": func.sum(q.granted), "policy_spent": func.sum(q.spent)}),
    ]  # fmt: skip
    sums: dict[str, int] = {}
    for table, columns in figures:
        labelled = [column.label(name) for name, column in columns.items()]
        where = (table.c.chain_id == chain, table.c.token == token)
        row = conn.execute(select(*labelled).where(*where)).one()
        sums.update((name, as_int(value)) for name, value in row._mapping.items())
    m = t.merchants.c
    active = select(func.count()).where(m.chain_id == chain, m.token == token, m.status == 1)
    sums["merchants"] = as_int(conn.execute(active).scalar_one())
    return sums


def dashboard(engine: Engine, token: str, *, chain_id: int | None = None) -> Dashboard | None:
    """A municipality's figures from its indexed events; None for an unknown token."""
    tok = token.lower()
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        found = municipality_rows(conn, chain, tok)
        if not found:
            return None
        info = found[0]
        sums = _dashboard_sums(conn, chain, tok)
        c = t.checkpoints.c
        as_of = conn.execute(select(c.block_number).where(c.chain_id == chain)).scalar()
        holders = _holders(conn, chain, tok)
    circulating = sums.pop("minted") - sums.pop("burned")
    return Dashboard(
        token=info.token,
        region=info.region,
        name=info.name,
        symbol=info.symbol,
        circulating=circulating,
        holders=holders,
        as_of_block=as_int(as_of),
        **sums,
    )


def _holders(conn: Connection, chain: int, token: str) -> int:
    x = t.transfers.c
    mine = and_(x.chain_id == chain, x.token == token)
    moves = union_all(
        select(x.recipient.label("account"), x.amount.label("delta")).where(mine),
        select(x.sender.label("account"), (-x.amount).label("delta")).where(mine),
    ).subquery()
    positive = (
        select(moves.c.account)
        .where(moves.c.account != ZERO_ADDRESS)
        .group_by(moves.c.account)
        .having(func.sum(moves.c.delta) > 0)
        .subquery()
    )
    return as_int(conn.execute(select(func.count()).select_from(positive)).scalar_one())


@dataclass(frozen=True, slots=True)
class ProgramSummary:
    token: str
    program_id: int
    root: str
    budget: int
    granted: int
    claimed_count: int  # grants paid (pushed or pulled)
    spent: int
    returned: int | None  # budget - spent, once closed
    closed: bool
    start_time: int
    expiry: int
    revenue_cap_waived: bool
    categories: list[int]
    ref: str
    created_block: int
    progress_pct: float  # granted / budget
    kind: str  # merkle (a committed recipient list) | reward (paid on attestations)
    daily_cap: int | None  # a reward program's caps per person (0: none)
    monthly_cap: int | None


def _program_summaries(
    conn: Connection, chain: int, *where: ColumnElement[bool]
) -> list[ProgramSummary]:
    c, r = t.programs.c, t.reward_programs.c
    reward = and_(r.chain_id == c.chain_id, r.token == c.token, r.program_id == c.program_id)
    query = (
        select(t.programs, r.daily_cap, r.monthly_cap, r.program_id.label("reward_id"))
        .outerjoin(t.reward_programs, reward)
        .where(c.chain_id == chain, *where)
        .order_by(c.token, c.program_id)
    )
    return [
        ProgramSummary(
            token=checksum(r.token),
            program_id=r.program_id,
            root=r.root,
            budget=r.budget,
            granted=r.granted,
            claimed_count=r.claimed_count,
            spent=r.spent,
            returned=r.returned,
            closed=bool(r.closed),
            start_time=r.start_time,
            expiry=r.expiry,
            revenue_cap_waived=bool(r.revenue_cap_waived),
            categories=list(r.categories),
            ref=r.ref,
            created_block=r.block_number,
            progress_pct=round(100.0 * r.granted / r.budget, 2) if r.budget else 0.0,
            kind="merkle" if r.reward_id is None else "reward",
            daily_cap=r.daily_cap,
            monthly_cap=r.monthly_cap,
        )
        for r in conn.execute(query)
    ]


def programs(engine: Engine, token: str, *, chain_id: int | None = None) -> list[ProgramSummary]:
    """A municipality's policy programs with their distribution figures."""
    with engine.connect() as conn:
        return _program_summaries(
            conn, chain_of(conn, chain_id), t.programs.c.token == token.lower()
        )


def program(
    engine: Engine, token: str, program_id: int, *, chain_id: int | None = None
) -> ProgramSummary | None:
    c = t.programs.c
    with engine.connect() as conn:
        found = _program_summaries(
            conn, chain_of(conn, chain_id), c.token == token.lower(), c.program_id == program_id
        )
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class IndexerStatus:
    chain_id: int
    block_number: int  # last block indexed
    block_hash: str
    head: int  # chain head when the indexer last looked
    lag: int  # blocks behind that head
    updated_at: float  # unix time of the indexer's last look


def indexer_status(engine: Engine, *, chain_id: int | None = None) -> IndexerStatus | None:
    """Where the index stands; None before the first range is written."""
    c = t.checkpoints.c
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        row = conn.execute(select(t.checkpoints).where(c.chain_id == chain)).first()
    if row is None:
        return None
    return IndexerStatus(
        row.chain_id,
        row.block_number,
        row.block_hash,
        row.head_block,
        max(0, row.head_block - row.block_number),
        row.updated_at,
    )
