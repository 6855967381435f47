"""The staff action log: every off-chain write by city staff, append-only and hash-chained.

Each entry stores the SHA-256 of its predecessor's hash and its own canonical content, so
editing, deleting or reordering any entry breaks every hash after it; :func:`verify` finds the
first break. The head hash is what gets anchored on chain, so the database's operator cannot
rewrite the whole chain unnoticed either.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.db.tables import access as a

__all__ = ["GENESIS", "LogCheck", "StaffEntry", "append", "entries", "head", "verify"]

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class StaffEntry:
    seq: int
    at: float
    actor: str
    role: str | None
    token: str | None
    action: str
    request_id: str | None
    before: object
    after: object
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class LogCheck:
    ok: bool
    entries: int
    head: str
    first_bad_seq: int | None
    # edited | broken_link (a deleted or reordered entry) | anchor_mismatch (the chain was
    # rewritten up to an anchored point) | truncated (fewer entries than were anchored)
    problem: str | None
    anchored_entries: int | None = None  # of the latest on-chain anchor, if any


def _hash(prev: str, at: float, actor: str, role: str | None, token: str | None, action: str,
          request_id: str | None, before: object, after: object) -> str:  # fmt: skip
    content = json.dumps(
        [prev, repr(at), actor, role, token, action, request_id, before, after],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(content.encode()).hexdigest()


def head(conn: Connection) -> str:
    s = a.staff_log.c
    last = conn.execute(select(s.hash).order_by(s.seq.desc()).limit(1)).scalar()
    return str(last) if last is not None else GENESIS


def append(
    engine: Engine,
    *,
    actor: str,
    action: str,
    role: str | None = None,
    token: str | None = None,
    request_id: str | None = None,
    before: object = None,
    after: object = None,
    now: float | None = None,
    attempts: int = 5,
) -> StaffEntry:
    """Appends one entry. Two writers on one head collide on the unique ``prev_hash``; the
    loser re-reads the head and tries again, so the chain never forks."""
    at = time.time() if now is None else now
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                prev = head(conn)
                digest = _hash(prev, at, actor, role, token, action, request_id, before, after)
                row = {"at": at, "actor": actor, "role": role, "token": token, "action": action,
                       "request_id": request_id, "before": before, "after": after,
                       "prev_hash": prev, "hash": digest}  # fmt: skip
                key = conn.execute(insert(a.staff_log).values(row)).inserted_primary_key
            return StaffEntry(seq=int(key[0]) if key else 0, **row)  # type: ignore[arg-type]
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def entries(engine: Engine, *, token: str | None = None, limit: int = 500) -> list[StaffEntry]:
    s = a.staff_log.c
    query = select(a.staff_log).order_by(s.seq.desc()).limit(limit)
    if token is not None:
        query = query.where(s.token == token.lower())
    with engine.connect() as conn:
        return [StaffEntry(**row._asdict()) for row in conn.execute(query)]


def verify(engine: Engine, anchor: tuple[int, str] | None = None) -> LogCheck:
    """Walks the whole chain in order and recomputes every hash; with `anchor` (entries, head
    hash as anchored on chain) the chain must also pass through that head at that entry."""
    s = a.staff_log.c
    prev, count = GENESIS, 0
    at_entries = anchor[0] if anchor else None
    with engine.connect() as conn:
        for row in conn.execute(select(a.staff_log).order_by(s.seq)):
            count += 1
            if row.prev_hash != prev:
                return LogCheck(False, count, prev, int(row.seq), "broken_link", at_entries)
            expected = _hash(row.prev_hash, row.at, row.actor, row.role, row.token, row.action,
                             row.request_id, row.before, row.after)  # fmt: skip
            if expected != row.hash:
                return LogCheck(False, count, prev, int(row.seq), "edited", at_entries)
            prev = row.hash
            if anchor is not None and count == anchor[0] and prev != anchor[1].removeprefix("0x"):
                return LogCheck(False, count, prev, int(row.seq), "anchor_mismatch", at_entries)
    if anchor is not None and count < anchor[0]:
        return LogCheck(False, count, prev, None, "truncated", at_entries)
    return LogCheck(True, count, prev, None, None, at_entries)
