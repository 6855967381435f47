"""Auditors' tools: the index reconciled against the chain, the ledger exported, and a
program's grants verified against its committed root.

The index is derived from the chain, so reconciliation reads both at the same block (the
index's checkpoint) and lists every difference rather than stopping at the first. Ledger
exports stream rows in chain order from one table per kind of event, merged, so a year of a
city's history never sits in memory.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, Engine, Row, Table, func, select, union_all

from chain.merkle import MerkleInputError, MerkleTree, leaf_hash
from chain.rpc import RpcClient
from gateway import index_tables as t
from gateway.distribution import TokenReader, load_tree
from gateway.problems import Problem

__all__ = [
    "DEFAULT_SAMPLE",
    "FULL_CHECK_LIMIT",
    "Difference",
    "DistributionVerification",
    "GrantIssue",
    "LedgerEntry",
    "Reconciliation",
    "ledger_csv",
    "ledger_entries",
    "ledger_jsonl",
    "reconcile",
    "verify_distribution",
]

ZERO = "0x" + "00" * 20
FULL_CHECK_LIMIT = 10_000  # holders checked one by one; above this a random sample
DEFAULT_SAMPLE = 2_000  # enough to see a 0.15% corruption rate with 95% confidence

Value = int | str | bool | None


# ------------------------------------------------------------------------------ reconciliation


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # total_supply | balance | pocket | program | program_count | program_grants
    key: str  # which holder, program or field
    index_value: Value
    chain_value: Value


@dataclass(frozen=True, slots=True)
class Reconciliation:
    token: str
    block_number: int  # both sides read at this block: the index's checkpoint
    total_supply_index: int
    total_supply_chain: int
    holders: int  # accounts the index knows in this token
    holders_checked: int
    sampled: bool  # True: ``holders_checked`` holders drawn at random with ``seed``
    seed: int | None
    pockets_checked: int
    programs_checked: int
    differences: list[Difference]
    ok: bool


def _checkpoint(conn: Connection, chain_id: int) -> int:
    c = t.checkpoints.c
    block = conn.execute(select(c.block_number).where(c.chain_id == chain_id)).scalar()
    if block is None:
        raise Problem("NotReady", "nothing is indexed yet")
    return int(block)


def _general_balances(conn: Connection, chain_id: int, token: str) -> dict[str, int]:
    x = t.transfers.c
    mine = (x.chain_id == chain_id, x.token == token)
    moves = union_all(
        select(x.recipient.label("account"), x.amount.label("delta")).where(*mine),
        select(x.sender.label("account"), (-x.amount).label("delta")).where(*mine),
    ).subquery()
    query = select(moves.c.account, func.sum(moves.c.delta)).group_by(moves.c.account)
    return {str(a): int(v) for a, v in conn.execute(query) if a != ZERO}


def _pockets(conn: Connection, chain_id: int, token: str) -> dict[tuple[int, str], int]:
    out: dict[tuple[int, str], int] = {}
    for table, holder, amount in (
        (t.grants, "recipient", "amount"),
        (t.pocket_moves, "holder", "pocket_delta"),
    ):
        c = table.c
        query = (
            select(c.program_id, c[holder], func.sum(c[amount]))
            .where(c.chain_id == chain_id, c.token == token)
            .group_by(c.program_id, c[holder])
        )
        for program_id, account, total in conn.execute(query):
            key = (int(program_id), str(account))
            out[key] = out.get(key, 0) + int(total)
    return out


_PROGRAM_FIELDS = (  # index column, ChainProgram field
    ("root", "root"), ("budget", "budget"), ("granted", "granted"), ("spent", "spent"),
    ("start_time", "start"), ("expiry", "expiry"), ("revenue_cap_waived", "revenue_cap_waived"),
    ("closed", "closed"),
)  # fmt: skip


def reconcile(
    engine: Engine,
    rpc: RpcClient,
    chain_id: int,
    token: str,
    *,
    sample_size: int | None = None,
    seed: int | None = None,
) -> Reconciliation:
    """Every figure of ``token`` the index derives, compared with the chain's own views.

    Holders are all checked up to :data:`FULL_CHECK_LIMIT`; above it (or when
    ``sample_size`` is given) a random sample is, and the report says so with its seed.
    """
    token = token.lower()
    with engine.connect() as conn:
        block = _checkpoint(conn, chain_id)
        general = _general_balances(conn, chain_id, token)
        pockets = _pockets(conn, chain_id, token)
        p = t.programs.c
        programs = conn.execute(
            select(t.programs).where(p.chain_id == chain_id, p.token == token)
        ).all()
        g = t.grants.c
        grant_sums = {
            int(program_id): int(total)
            for program_id, total in conn.execute(
                select(g.program_id, func.sum(g.amount))
                .where(g.chain_id == chain_id, g.token == token)
                .group_by(g.program_id)
            )
        }
    reader = TokenReader(rpc, to_checksum_address(token), block)
    differences: list[Difference] = []

    def differ(kind: str, key: str, ours: Value, theirs: Value) -> None:
        if ours != theirs:
            differences.append(Difference(kind, key, ours, theirs))

    supply = sum(general.values())
    chain_supply = reader.total_supply()
    differ("total_supply", "", supply, chain_supply)

    holders = sorted(set(general) | {holder for _, holder in pockets})
    sampled = sample_size is not None or len(holders) > FULL_CHECK_LIMIT
    if sampled:
        seed = seed if seed is not None else random.SystemRandom().randrange(1 << 32)
        size = min(len(holders), sample_size if sample_size is not None else DEFAULT_SAMPLE)
        checked = sorted(random.Random(seed).sample(holders, size))
    else:
        seed, checked = None, holders
    for holder, balance in zip(checked, reader.balances(checked), strict=True):
        differ("balance", to_checksum_address(holder), general.get(holder, 0), balance)
    chosen = set(checked)
    pairs = sorted(pair for pair in pockets if pair[1] in chosen)
    for (program_id, holder), pocket in zip(pairs, reader.pockets(pairs), strict=True):
        key = f"program {program_id} {to_checksum_address(holder)}"
        differ("pocket", key, pockets[(program_id, holder)], pocket)

    count = reader.program_count()
    differ("program_count", "", len(programs), count)
    on_chain = dict(zip(range(1, count + 1), reader.programs(range(1, count + 1)), strict=True))
    for row in programs:
        found = on_chain.get(int(row.program_id))
        if found is None:
            differ("program", f"program {row.program_id}", "indexed", None)
            continue
        for column, name in _PROGRAM_FIELDS:
            ours, theirs = row._mapping[column], getattr(found, name)
            ours = bool(ours) if isinstance(theirs, bool) else ours
            differ("program", f"program {row.program_id} {name}", ours, theirs)
        granted = grant_sums.get(int(row.program_id), 0)
        differ("program_grants", f"program {row.program_id}", granted, found.granted)
    return Reconciliation(
        token=to_checksum_address(token),
        block_number=block,
        total_supply_index=supply,
        total_supply_chain=chain_supply,
        holders=len(holders),
        holders_checked=len(checked),
        sampled=sampled,
        seed=seed,
        pockets_checked=len(pairs),
        programs_checked=len(programs),
        differences=differences,
        ok=not differences,
    )


# ------------------------------------------------------------------------------ ledger


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    block_number: int
    log_index: int
    block_time: int
    tx_hash: str
    kind: (
        str  # sale | payment | cancellation | gift | redemption | refund | program | grant | close
    )
    sender: str | None  # None: the municipality's budget (grants) or nobody
    recipient: str | None  # the zero address: burned
    amount: int | None
    reference: str | None  # payment id, redemption ref or program ref
    program_id: int | None
    details: dict[str, int | str]


Mapper = Callable[[Row[tuple[object, ...]]], LedgerEntry]


def _entry(
    r: Row[tuple[object, ...]],
    kind: str,
    sender: str | None,
    recipient: str | None,
    amount: object,
    reference: str | None = None,
    program_id: object = None,
    **details: object,
) -> LedgerEntry:
    def addr(a: str | None) -> str | None:
        return None if a is None else to_checksum_address(a)

    def number(v: object) -> int | None:
        return None if v is None else int(str(v))

    return LedgerEntry(
        block_number=r.block_number,
        log_index=r.log_index,
        block_time=r.block_time,
        tx_hash=r.tx_hash,
        kind=kind,
        sender=addr(sender),
        recipient=addr(recipient),
        amount=number(amount),
        reference=reference,
        program_id=number(program_id),
        details={
            k: v if isinstance(v, str) else int(str(v)) for k, v in details.items() if v is not None
        },
    )


_LEDGER: tuple[tuple[Table, Mapper], ...] = (
    (t.sales, lambda r: _entry(r, "sale", r.issuer, r.buyer, r.face, paid=r.paid,
                               subsidy=r.subsidy)),
    (t.payments, lambda r: _entry(r, "payment", r.payer, r.merchant, r.amount, r.payment_id,
                                  seq=r.seq, from_general=r.from_general,
                                  from_pockets=r.from_pockets, cashback=r.cashback)),
    (t.cancellations, lambda r: _entry(r, "cancellation", r.merchant, r.payer, r.amount,
                                       r.payment_id, seq=r.seq, returned=r.returned,
                                       payment_tx_hash=r.payment_tx_hash)),
    (t.gifts, lambda r: _entry(r, "gift", r.sender, r.recipient, r.amount)),
    (t.redemptions, lambda r: _entry(r, "redemption", r.merchant, ZERO, r.amount, r.ref)),
    (t.refunds, lambda r: _entry(r, "refund", r.holder, ZERO, r.face, cash=r.cash)),
    (t.programs, lambda r: _entry(r, "program", None, None, r.budget, r.ref, r.program_id,
                                  start=r.start_time, expiry=r.expiry)),
    (t.grants, lambda r: _entry(r, "grant", None, r.recipient, r.amount, None, r.program_id,
                                grant_index=r.grant_index)),
    (t.program_closes, lambda r: _entry(r, "close", None, None, r.returned, None, r.program_id,
                                        granted=r.granted, spent=r.spent)),
)  # fmt: skip


def ledger_entries(
    engine: Engine, chain_id: int, token: str, since: int | None = None, until: int | None = None
) -> Iterator[LedgerEntry]:
    """Every money event of ``token`` with block time in ``[since, until)``, in chain order."""
    token = token.lower()
    with engine.connect() as conn:
        streams = []
        for table, mapper in _LEDGER:
            c = table.c
            query = select(table).where(c.chain_id == chain_id, c.token == token)
            if since is not None:
                query = query.where(c.block_time >= since)
            if until is not None:
                query = query.where(c.block_time < until)
            rows = conn.execution_options(yield_per=2_000).execute(
                query.order_by(c.block_number, c.log_index)
            )
            streams.append(map(mapper, rows))
        yield from heapq.merge(*streams, key=lambda e: (e.block_number, e.log_index))


LEDGER_COLUMNS = (
    "block_number", "log_index", "block_time", "time_utc", "tx_hash", "kind", "from", "to",
    "amount", "reference", "program_id", "details",
)  # fmt: skip


def ledger_csv(entries: Iterator[LedgerEntry]) -> Iterator[str]:
    """CSV text, a header then one line per entry; ``details`` is a JSON object."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEDGER_COLUMNS)
    for e in entries:
        when = datetime.fromtimestamp(e.block_time, UTC).isoformat()
        details = json.dumps(e.details, separators=(",", ":"), sort_keys=True)
        amount, program = ("" if v is None else v for v in (e.amount, e.program_id))
        parties = (e.sender or "", e.recipient or "")
        position = (e.block_number, e.log_index, e.block_time, when, e.tx_hash, e.kind)
        writer.writerow([*position, *parties, amount, e.reference or "", program, details])
        if out.tell() > 64 * 1024:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def ledger_jsonl(entries: Iterator[LedgerEntry]) -> Iterator[str]:
    """JSON lines: one object per entry."""
    for e in entries:
        yield json.dumps(asdict(e), separators=(",", ":")) + "\n"


# ------------------------------------------------------------------------------ distributions


_Grant = tuple[int, str, int, str]  # index, recipient, amount, tx hash


@dataclass(frozen=True, slots=True)
class GrantIssue:
    index: int
    recipient: str
    amount: int
    tx_hash: str
    reason: str  # not_a_leaf | out_of_range | duplicate


@dataclass(frozen=True, slots=True)
class DistributionVerification:
    token: str
    program_id: int
    root: str
    list_source: str  # saved_tree | uploaded_list | none
    leaves: int | None
    budget: int
    grants: int
    granted: int  # sum of indexed grants
    issues: list[GrantIssue]
    within_budget: bool
    closed: bool
    spent: int
    returned: int | None
    problems: list[str]  # every failed check in words
    ok: bool


def _tree_problem(tree: MerkleTree, root: str, source: str) -> str | None:
    try:
        tree.validate()  # rehash everything: a file edited by hand shows here
    except ValueError as exc:
        return f"the {source} is corrupt: {exc}"
    if "0x" + tree.root.hex() != root:
        return f"the {source}'s root {tree.root.hex()} is not the committed root"
    return None


def verify_distribution(
    engine: Engine,
    chain_id: int,
    token: str,
    program_id: int,
    *,
    trees_dir: Path | None = None,
    csv_text: str | None = None,
) -> DistributionVerification:
    """Checks every indexed grant of a program against its committed root.

    The list comes from ``csv_text`` (an auditor's copy of the published list, rebuilt here)
    or else the gateway's tree saved in ``trees_dir``. A grant passes when the leaf hash recomputed
    from its own (index, recipient, amount) is the tree's leaf at that index; the tree is
    rehashed and its root compared with the committed one. Also: no index twice, the sum within
    the budget, and once closed, returned == budget - spent with spent equal to its moves.
    """
    token = token.lower()
    problems: list[str] = []
    p, g, m, x = t.programs.c, t.grants.c, t.pocket_moves.c, t.program_closes.c
    with engine.connect() as conn:
        program = conn.execute(
            select(t.programs).where(
                p.chain_id == chain_id, p.token == token, p.program_id == program_id
            )
        ).first()
        if program is None:
            args = {"token": token, "program_id": program_id}
            raise Problem("NotFound", f"no program {program_id} in {token}", args)
        mine = (g.chain_id == chain_id, g.token == token, g.program_id == program_id)
        grants = [
            (int(i), str(to), int(amount), str(tx))
            for i, to, amount, tx in conn.execute(
                select(g.grant_index, g.recipient, g.amount, g.tx_hash)
                .where(*mine)
                .order_by(g.block_number, g.log_index)
            )
        ]
        spent_moves = conn.execute(
            select(func.coalesce(func.sum(m.spent_delta), 0)).where(
                m.chain_id == chain_id, m.token == token, m.program_id == program_id
            )
        ).scalar_one()
        close = conn.execute(
            select(t.program_closes).where(
                x.chain_id == chain_id, x.token == token, x.program_id == program_id
            )
        ).first()
    root = str(program.root)
    source, tree = "none", None
    if csv_text is not None:
        try:
            # Lists are committed index-ordered (the default) or, before that was the default,
            # hash-sorted: the layout whose root was committed is the one to check.
            tree, source = MerkleTree.from_csv(io.StringIO(csv_text, newline="")), "uploaded_list"
            if "0x" + tree.root.hex() != root.lower():
                tree = MerkleTree.from_csv(io.StringIO(csv_text, newline=""), sort_leaves=True)
        except MerkleInputError as exc:
            raise Problem("InvalidRequest", f"recipients CSV {exc}", {"line": exc.line}) from None
    elif trees_dir is not None and (tree := load_tree(trees_dir, root)) is not None:
        source = "saved_tree"
    if tree is None:
        problems.append("no recipient list: leaf membership could not be checked")
    elif (problem := _tree_problem(tree, root, source.replace("_", " "))) is not None:
        problems.append(problem)
        tree = None
    issues = _grant_issues(grants, tree)
    if issues:
        problems.append(f"{len(issues)} grants fail their leaf check or repeat an index")
    granted = sum(amount for _, _, amount, _ in grants)
    budget = int(program.budget)
    if granted > budget:
        problems.append(f"granted {granted} is over the budget {budget}")
    if granted != int(program.granted):
        problems.append(f"grants sum to {granted}, the program records {program.granted}")
    if int(spent_moves) != int(program.spent):
        problems.append(f"pocket moves spend {spent_moves}, the program records {program.spent}")
    returned = None if close is None else int(close.returned)
    if close is not None and (
        returned != budget - int(close.spent) or returned != program.returned
    ):
        problems.append(f"returned {returned} is not budget {budget} - spent {close.spent}")
    return DistributionVerification(
        token=to_checksum_address(token),
        program_id=program_id,
        root=root,
        list_source=source if tree is not None else "none",
        leaves=None if tree is None else len(tree),
        budget=budget,
        grants=len(grants),
        granted=granted,
        issues=issues,
        within_budget=granted <= budget,
        closed=bool(program.closed),
        spent=int(program.spent),
        returned=returned,
        problems=problems,
        ok=not problems,
    )


def _grant_issues(grants: Sequence[_Grant], tree: MerkleTree | None) -> list[GrantIssue]:
    issues: list[GrantIssue] = []
    seen: set[int] = set()
    for index, recipient, amount, tx_hash in grants:
        reasons = ["duplicate"] if index in seen else []
        seen.add(index)
        if tree is not None and index >= len(tree):
            reasons.append("out_of_range")
        elif tree is not None and leaf_hash(index, recipient, amount) != tree.leaf_hash(index):
            reasons.append("not_a_leaf")
        address = to_checksum_address(recipient)
        issues += [GrantIssue(index, address, amount, tx_hash, why) for why in reasons]
    return issues
