"""Automatic settlement: a batch per municipality for every closed window between two daily
cut-offs (KST), issued once the index has passed the window's end.

The windows of a municipality follow one another: the next starts where its last batch ended
(manual ones included), or at the cut-off before the municipality was created; each ends at
the next cut-off. So windows never overlap and never leave a gap, a gateway that was down
catches up every missed day on its next pass, and a restart changes nothing: the batches
table is the only state. Two replicas cannot issue one window twice (the window names the
batch's reference, the table's key); the gateway also runs the scheduler only on the replica
holding its lease. A window that does not reconcile is recorded ``unreconciled`` (not paid,
not skipped) and rechecked on every pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Engine, func, select

from chain.rpc import RpcClient
from gateway.audit.settlement import KST, SettlementBatch, issue_batch, recheck_batch
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t
from gateway.errors import GatewayError

__all__ = [
    "Cutoffs",
    "due_windows",
    "indexed_time",
    "next_cutoff",
    "previous_cutoff",
    "run_due",
]

MAX_WINDOWS_PER_PASS = 31  # a month of missed days per pass; the next pass goes on


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """The daily cut-off, ``"HH:MM"`` KST, and per-region overrides."""

    default: str = "23:00"
    by_region: dict[int, str] | None = None

    def of(self, region: int) -> time:
        text = (self.by_region or {}).get(region, self.default)
        try:
            return time.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"a settlement cut-off is HH:MM (KST), not {text!r}") from exc


def previous_cutoff(ts: int, cutoff: time) -> int:
    """The last cut-off at or before ``ts``."""
    moment = datetime.fromtimestamp(ts, KST)
    at = datetime.combine(moment.date(), cutoff, KST)
    if at > moment:
        at -= timedelta(days=1)
    return int(at.timestamp())


def next_cutoff(ts: int, cutoff: time) -> int:
    """The first cut-off after ``ts``."""
    at = datetime.fromtimestamp(previous_cutoff(ts, cutoff), KST) + timedelta(days=1)
    return int(at.timestamp())


def due_windows(start: int, indexed_until: int, cutoff: time) -> list[tuple[int, int]]:
    """The closed windows from ``start``: each ends at the next cut-off, none past the index."""
    windows: list[tuple[int, int]] = []
    since = start
    while len(windows) < MAX_WINDOWS_PER_PASS:
        until = next_cutoff(since, cutoff)
        if until > indexed_until:
            break
        windows.append((since, until))
        since = until
    return windows


def indexed_time(engine: Engine, chain_id: int, rpc: RpcClient) -> int | None:
    """The block time the index has reached (its checkpoint block's), None before any."""
    c = t.checkpoints.c
    with engine.connect() as conn:
        block = conn.execute(select(c.block_number).where(c.chain_id == chain_id)).scalar()
    if block is None:
        return None
    header = rpc.get_block(int(block))
    return int(str(header["timestamp"]), 16) if header else None


def _starts(engine: Engine, chain_id: int) -> list[tuple[str, int, int, int | None]]:
    """Each municipality: token, region, creation time, the end of its last batch."""
    m, s = t.municipalities.c, d.settlement_batches.c
    last = (
        select(s.token, func.max(s.until).label("until"))
        .where(s.chain_id == chain_id)
        .group_by(s.token)
        .subquery()
    )
    query = (
        select(m.token, m.region, m.block_time, last.c.until)
        .select_from(t.municipalities.outerjoin(last, last.c.token == m.token))
        .where(m.chain_id == chain_id)
        .order_by(m.region, m.token)
    )
    with engine.connect() as conn:
        return [(str(a), int(b), int(c), None if e is None else int(e)) for a, b, c, e in
                conn.execute(query)]  # fmt: skip


def _unreconciled(engine: Engine, chain_id: int) -> list[str]:
    s = d.settlement_batches.c
    query = select(s.reference).where(s.chain_id == chain_id, s.status == "unreconciled")
    with engine.connect() as conn:
        return [str(r) for r in conn.execute(query.order_by(s.since)).scalars()]


def run_due(
    engine: Engine, chain_id: int, indexed_until: int, cutoffs: Cutoffs
) -> list[SettlementBatch]:
    """One pass: rechecks unreconciled batches, then issues every due window of every
    municipality, oldest first; answers the batches issued or released."""
    rechecked = [recheck_batch(engine, chain_id, ref) for ref in _unreconciled(engine, chain_id)]
    done = [batch for batch in rechecked if batch.status == "released"]
    for token, region, created, last_until in _starts(engine, chain_id):
        cutoff = cutoffs.of(region)
        start = last_until if last_until is not None else previous_cutoff(created, cutoff)
        for since, until in due_windows(start, indexed_until, cutoff):
            try:
                done.append(issue_batch(engine, chain_id, token, since, until,
                                        indexed_until=indexed_until, origin="auto"))  # fmt: skip
            except GatewayError as exc:
                if exc.code != "SettlementOverlap":  # issued meanwhile: nothing to do
                    raise
                break
    return done
