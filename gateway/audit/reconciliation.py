"""The index reconciled against the chain at the same block, every difference listed."""

from __future__ import annotations

import random
from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, Engine, func, select

from chain.reader import TokenReader
from chain.rpc import RpcClient
from gateway.db.tables import index as t
from gateway.errors import GatewayError
from gateway.queries.balances import general_balances, pocket_balances

FULL_CHECK_LIMIT = 10_000  # holders checked one by one; above this a random sample
DEFAULT_SAMPLE = 2_000  # enough to see a 0.15% corruption rate with 95% confidence

Value = int | str | bool | None


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
        raise GatewayError("NotReady", "nothing is indexed yet")
    return int(block)


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
        general = {a: v for (_, a), v in general_balances(conn, chain_id, token=token).items()}
        pockets = {
            (pid, a): v for (_, pid, a), v in pocket_balances(conn, chain_id, token=token).items()
        }
        p = t.programs.c
        programs = conn.execute(
            select(t.programs).where(p.chain_id == chain_id, p.token == token)
        ).all()
        # What a program granted: its Merkle grants, or a reward program's rewards.
        grant_sums: dict[int, int] = {}
        for table in (t.grants, t.rewards):
            g = table.c
            for program_id, total in conn.execute(
                select(g.program_id, func.sum(g.amount))
                .where(g.chain_id == chain_id, g.token == token)
                .group_by(g.program_id)
            ):
                grant_sums[int(program_id)] = grant_sums.get(int(program_id), 0) + int(total)
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
