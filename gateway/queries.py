"""Read models over the index: what wallets, city staff and the API ask for.

Pure functions of an Engine returning frozen dataclasses. Addresses are taken in any case and
answered in EIP-55 checksum form. Every figure is derived from indexed events (the chain is the
source of truth): a general balance is what transfers brought in minus what they took out, a
program pocket is its grants minus pocket spending plus what cancellations restored.

The chain id defaults to the one chain the database indexes (a gateway indexes one network).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, SupportsInt, cast

from eth_utils.address import to_checksum_address
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    and_,
    desc,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from gateway import index_tables as t

__all__ = [
    "ZERO_ADDRESS",
    "Dashboard",
    "GrantProof",
    "HistoryItem",
    "HistoryPage",
    "IndexerStatus",
    "InvalidCursorError",
    "MerchantSales",
    "Municipality",
    "Pocket",
    "ProgramSummary",
    "TokenBalance",
    "balances",
    "dashboard",
    "grant_proof",
    "history",
    "indexer_status",
    "merchant_sales",
    "municipalities",
    "municipality",
    "program",
    "programs",
]

ZERO_ADDRESS = "0x" + "00" * 20
MAX_PAGE = 200


class InvalidCursorError(ValueError):
    """A history cursor that this module did not produce."""


def _chain(conn: Connection, chain_id: int | None) -> int:
    if chain_id is not None:
        return chain_id
    found = conn.execute(select(t.checkpoints.c.chain_id).limit(2)).scalars().all()
    return found[0] if len(found) == 1 else -1  # nothing indexed (or several chains): no rows


def _int(value: object) -> int:
    """A count or sum as int (PostgreSQL sums bigints as Decimal; an empty sum is NULL)."""
    return 0 if value is None else int(cast(SupportsInt, value))


def _checksum(address: str) -> str:
    return to_checksum_address(address)


# ------------------------------------------------------------------------------ municipalities


@dataclass(frozen=True, slots=True)
class Municipality:
    token: str
    region: int
    name: str
    symbol: str
    admin: str
    block_number: int
    deployed_at: int


def _municipalities(conn: Connection, chain: int, token: str | None) -> list[Municipality]:
    c = t.municipalities.c
    query = select(t.municipalities).where(c.chain_id == chain)
    if token is not None:
        query = query.where(c.token == token.lower())
    rows = conn.execute(query.order_by(c.block_number, c.log_index))
    return [
        Municipality(
            _checksum(r.token),
            r.region,
            r.name,
            r.symbol,
            _checksum(r.admin),
            r.block_number,
            r.block_time,
        )
        for r in rows
    ]


def municipalities(engine: Engine, *, chain_id: int | None = None) -> list[Municipality]:
    """Every municipality the factory has deployed, oldest first."""
    with engine.connect() as conn:
        return _municipalities(conn, _chain(conn, chain_id), None)


def municipality(engine: Engine, token: str, *, chain_id: int | None = None) -> Municipality | None:
    with engine.connect() as conn:
        found = _municipalities(conn, _chain(conn, chain_id), token)
    return found[0] if found else None


# ------------------------------------------------------------------------------ balances


@dataclass(frozen=True, slots=True)
class Pocket:
    program_id: int
    amount: int
    start_time: int
    expiry: int
    closed: bool


@dataclass(frozen=True, slots=True)
class TokenBalance:
    token: str
    symbol: str
    general: int  # the ERC-20 balance: purchased money and what merchants received
    pockets: list[Pocket]  # policy money by program, soonest expiry first
    total: int  # general + pockets


def _sum_by(
    conn: Connection,
    table: Table,
    key: tuple[str, ...],
    amount: str,
    where: list[ColumnElement[bool]],
) -> dict[tuple[object, ...], int]:
    c = table.c
    columns = [c[name] for name in key]
    query = select(*columns, func.sum(c[amount])).where(*where).group_by(*columns)
    return {tuple(row[:-1]): _int(row[-1]) for row in conn.execute(query)}


def balances(
    engine: Engine, address: str, *, token: str | None = None, chain_id: int | None = None
) -> list[TokenBalance]:
    """General balance and program pockets of ``address`` in every token it has touched."""
    holder = address.lower()
    general: dict[str, int] = {}
    pockets: dict[tuple[str, int], int] = {}
    with engine.connect() as conn:
        chain = _chain(conn, chain_id)

        def where(table: Table, column: str) -> list[ColumnElement[bool]]:
            c = table.c
            clauses = [c.chain_id == chain, c[column] == holder]
            return clauses + ([c.token == token.lower()] if token is not None else [])

        for column, sign in (("recipient", 1), ("sender", -1)):
            moved = _sum_by(conn, t.transfers, ("token",), "amount", where(t.transfers, column))
            for (tok,), total in moved.items():
                general[cast(str, tok)] = general.get(cast(str, tok), 0) + sign * total
        key = ("token", "program_id")
        for table, column, amount in (
            (t.grants, "recipient", "amount"),
            (t.pocket_moves, "holder", "pocket_delta"),
        ):
            for (tok, program_id), total in _sum_by(
                conn, table, key, amount, where(table, column)
            ).items():
                pocket = (cast(str, tok), cast(int, program_id))
                pockets[pocket] = pockets.get(pocket, 0) + total
        p = t.programs.c
        tokens = {tok for tok, _ in pockets} | set(general)
        query = select(p.token, p.program_id, p.start_time, p.expiry, p.closed)
        query = query.where(p.chain_id == chain, p.token.in_(tokens))
        infos = {(r.token, r.program_id): r for r in conn.execute(query)} if pockets else {}
        symbols = {m.token.lower(): m.symbol for m in _municipalities(conn, chain, None)}
    out: list[TokenBalance] = []
    for tok in sorted(tokens):
        mine = [
            Pocket(pid, amount, info.start_time, info.expiry, bool(info.closed))
            for (pocket_token, pid), amount in pockets.items()
            if pocket_token == tok and (info := infos.get((tok, pid))) is not None
        ]
        mine.sort(key=lambda pocket: (pocket.expiry, pocket.program_id))
        money = general.get(tok, 0)
        total = money + sum(pocket.amount for pocket in mine)
        out.append(TokenBalance(_checksum(tok), symbols.get(tok, ""), money, mine, total))
    return out


# ------------------------------------------------------------------------------ history


@dataclass(frozen=True, slots=True)
class HistoryItem:
    kind: str  # sale | payment | cancellation | gift | redemption | refund | grant
    token: str
    block_number: int
    log_index: int
    tx_hash: str
    block_time: int
    direction: str  # in | out, seen from the wallet asked about
    amount: int
    counterparty: str | None
    details: dict[str, object]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: list[HistoryItem]
    next_cursor: str | None  # pass back to get the next (older) page; None on the last page


# Kind, table and the columns that make a row part of a wallet's history.
_HISTORY: tuple[tuple[str, Table, tuple[str, ...]], ...] = (
    ("sale", t.sales, ("buyer",)),
    ("payment", t.payments, ("payer", "merchant")),
    ("cancellation", t.cancellations, ("payer", "merchant")),
    ("gift", t.gifts, ("sender", "recipient")),
    ("redemption", t.redemptions, ("merchant",)),
    ("refund", t.refunds, ("holder",)),
    ("grant", t.grants, ("recipient",)),
)


def encode_cursor(block_number: int, log_index: int) -> str:
    raw = f"{block_number}:{log_index}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        block, log_index = raw.split(":")
        position = int(block), int(log_index)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError(f"not a history cursor: {cursor!r}") from None
    if min(position) < 0:
        raise InvalidCursorError(f"not a history cursor: {cursor!r}")
    return position


def _item(kind: str, r: Row[Any], holder: str) -> HistoryItem:
    """One history entry of ``holder`` from a row of ``kind``'s table."""
    out_, in_ = "out", "in"
    counterparty: str | None = None
    details: dict[str, object] = {}
    amount = _int(getattr(r, "amount", 0))
    if kind == "sale":
        direction, counterparty, amount = in_, r.issuer, r.face
        details = {"paid": r.paid, "subsidy": r.subsidy}
    elif kind in ("payment", "cancellation"):
        payer = r.payer == holder
        direction = (out_ if payer else in_) if kind == "payment" else (in_ if payer else out_)
        counterparty = r.merchant if payer else r.payer
        details = {"payment_id": r.payment_id, "seq": r.seq}
        if kind == "payment":
            details.update(
                from_general=r.from_general,
                from_pockets=r.from_pockets,
                cashback=r.cashback,
                pockets=r.pockets,
            )
        else:
            details.update(returned_general=r.returned, payment_tx_hash=r.payment_tx_hash)
    elif kind == "gift":
        sent = r.sender == holder
        direction, counterparty = (out_, r.recipient) if sent else (in_, r.sender)
    elif kind == "redemption":
        direction, details = out_, {"ref": r.ref}
    elif kind == "refund":
        direction, amount, details = out_, r.face, {"cash": r.cash}
    else:
        direction = in_
        details = {"program_id": r.program_id, "grant_index": r.grant_index}
    return HistoryItem(
        kind=kind,
        token=_checksum(r.token),
        block_number=r.block_number,
        log_index=r.log_index,
        tx_hash=r.tx_hash,
        block_time=r.block_time,
        direction=direction,
        amount=_int(amount),
        counterparty=None if counterparty is None else _checksum(counterparty),
        details=details,
    )


def history(
    engine: Engine,
    address: str,
    *,
    cursor: str | None = None,
    limit: int = 50,
    token: str | None = None,
    chain_id: int | None = None,
) -> HistoryPage:
    """What ``address`` bought, paid, received, gave, redeemed, refunded and was granted,
    newest first. Raises :class:`InvalidCursorError` for a cursor this module did not make."""
    holder = address.lower()
    limit = max(1, min(limit, MAX_PAGE))
    before = decode_cursor(cursor) if cursor else None
    with engine.connect() as conn:
        chain = _chain(conn, chain_id)
        parts = []
        for code, (_, table, roles) in enumerate(_HISTORY):
            c = table.c
            where: list[ColumnElement[bool]] = [
                c.chain_id == chain,
                or_(*(c[role] == holder for role in roles)),
            ]
            if token is not None:
                where.append(c.token == token.lower())
            if before is not None:
                block, log_index = before
                where.append(
                    or_(
                        c.block_number < block,
                        and_(c.block_number == block, c.log_index < log_index),
                    )
                )
            # Each part is limited on its own so a busy wallet's page reads few index entries.
            part = (
                select(literal(code).label("kind"), c.block_number, c.log_index)
                .where(*where)
                .order_by(desc(c.block_number), desc(c.log_index))
                .limit(limit + 1)
                .subquery()
            )
            parts.append(select(part))
        merged = union_all(*parts).subquery()
        order = (desc(merged.c.block_number), desc(merged.c.log_index))
        keys = conn.execute(select(merged).order_by(*order).limit(limit + 1)).all()
        more, keys = len(keys) > limit, keys[:limit]
        found: dict[tuple[int, int], Row[Any]] = {}
        for code in {k.kind for k in keys}:
            table = _HISTORY[code][1]
            wanted = [(k.block_number, k.log_index) for k in keys if k.kind == code]
            query = select(table).where(
                table.c.chain_id == chain,
                tuple_(table.c.block_number, table.c.log_index).in_(wanted),
            )
            found.update(((r.block_number, r.log_index), r) for r in conn.execute(query))
    items = [_item(_HISTORY[k.kind][0], found[(k.block_number, k.log_index)], holder) for k in keys]
    last = keys[-1] if keys else None
    next_cursor = encode_cursor(last.block_number, last.log_index) if more and last else None
    return HistoryPage(items, next_cursor)


# ------------------------------------------------------------------------------ merchants


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
        chain = _chain(conn, chain_id)
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
        gross, minus = _int(a and a.gross), _int(b and b.total)
        out.append(
            MerchantSales(
                merchant=_checksum(who),
                token=_checksum(tok),
                payments=_int(a and a.n),
                gross=gross,
                from_general=_int(a and a.general),
                from_pockets=_int(a and a.pockets),
                cancellations=_int(b and b.n),
                cancelled=minus,
                net=gross - minus,
                redemptions=_int(c and c.n),
                redeemed=_int(c and c.total),
                first_time=None if a is None else a.first,
                last_time=None if a is None else a.last,
            )
        )
    return out


# ------------------------------------------------------------------------------ dashboards


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
        sums.update((name, _int(value)) for name, value in row._mapping.items())
    m = t.merchants.c
    active = select(func.count()).where(m.chain_id == chain, m.token == token, m.status == 1)
    sums["merchants"] = _int(conn.execute(active).scalar_one())
    return sums


def dashboard(engine: Engine, token: str, *, chain_id: int | None = None) -> Dashboard | None:
    """A municipality's figures from its indexed events; None for an unknown token."""
    tok = token.lower()
    with engine.connect() as conn:
        chain = _chain(conn, chain_id)
        found = _municipalities(conn, chain, tok)
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
        as_of_block=_int(as_of),
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
    return _int(conn.execute(select(func.count()).select_from(positive)).scalar_one())


# ------------------------------------------------------------------------------ programs


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


def _program_summaries(
    conn: Connection, chain: int, *where: ColumnElement[bool]
) -> list[ProgramSummary]:
    c = t.programs.c
    query = select(t.programs).where(c.chain_id == chain, *where).order_by(c.token, c.program_id)
    return [
        ProgramSummary(
            token=_checksum(r.token),
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
        )
        for r in conn.execute(query)
    ]


def programs(engine: Engine, token: str, *, chain_id: int | None = None) -> list[ProgramSummary]:
    """A municipality's policy programs with their distribution figures."""
    with engine.connect() as conn:
        return _program_summaries(conn, _chain(conn, chain_id), t.programs.c.token == token.lower())


def program(
    engine: Engine, token: str, program_id: int, *, chain_id: int | None = None
) -> ProgramSummary | None:
    c = t.programs.c
    with engine.connect() as conn:
        found = _program_summaries(
            conn, _chain(conn, chain_id), c.token == token.lower(), c.program_id == program_id
        )
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class GrantProof:
    """What a wallet needs to pull its grant with ``claim``/``claimAndPay``."""

    token: str
    program_id: int
    index: int
    recipient: str
    amount: int
    proof: list[str]
    claimed: bool


def grant_proof(
    engine: Engine, token: str, program_id: int, index: int, *, chain_id: int | None = None
) -> GrantProof | None:
    """The Merkle proof of leaf ``index`` of a program's recipient list.

    A hook for the distribution engine, which keeps the trees: the index alone has only the
    committed root, so there is nothing to answer yet.
    """
    return None


# ------------------------------------------------------------------------------ indexer


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
        chain = _chain(conn, chain_id)
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
