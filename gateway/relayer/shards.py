"""Shards: how replicas on one database split the relaying between them.

A signer's requests belong to one shard, ``shard_of(signer, count)`` (an address is already a
keccak hash: its value mod the shard count is stable and spread). Shard ``k`` is relayed by
relayer key ``k`` (one key per shard, so a key's nonces have one writer) on the replica that
holds the ``shard:<k>`` lease (a row of ``relay_leases``, gateway.relayer.lease: an owner, an
epoch that fences a deposed owner's writes, an expiry).

Every replica renews, every third of the TTL, one heartbeat row ``replica:<id>``; from the live
heartbeats it knows how many replicas there are and claims up to its fair share,
``ceil(shards / live replicas)``: first renewing what it holds, then taking expired (or
released) shards with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL: two replicas claiming
at once take different rows and never wait on each other; SQLite has one writer at a time and
renders no lock clause), and releasing what it holds beyond its share, so a replica that joins
gets work. A killed replica's heartbeat and shards expire after the TTL; the survivors' next
turn takes them, so a shard is taken over within TTL + TTL/3 (under 7 s at the default 5 s
TTL; 8.1 s measured at 6 s, test_scaleout).

Alone (``dongne up``, SQLite) a replica holds every shard, as the single batcher did before.
All replicas must run with the same shard count and the same relayer keys.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from gateway.db.tables.relayer import leases
from gateway.relayer.lease import Lease

__all__ = ["ShardLeases", "shard_name", "shard_of"]

_HEARTBEAT = "replica:"


def shard_of(signer: str, count: int) -> int:
    """The shard of ``signer`` (a 0x address, or a key that starts with one: a payer's
    payment sequence on a token, gateway.relayer.payment_intake.payment_key) among ``count``
    shards."""
    return int(signer[:42], 16) % count


def shard_name(k: int) -> str:
    return f"shard:{k}"


@dataclass
class ShardLeases:
    engine: Engine
    owner: str
    ttl_s: float
    count: int
    leases: dict[int, Lease] = field(init=False)

    def __post_init__(self) -> None:
        self.leases = {
            k: Lease(self.engine, self.owner, self.ttl_s, shard_name(k)) for k in range(self.count)
        }

    def held(self) -> set[int]:
        return {k for k, lease in self.leases.items() if lease.held}

    def turn(self, now: float | None = None) -> tuple[set[int], set[int]]:
        """One round: heartbeat, renew, claim up to the fair share. Returns (held, beyond the
        share): the caller stops relaying the latter, then :meth:`release`\\ s them."""
        at = time.time() if now is None else now
        self._heartbeat(at)
        live = max(1, self.live_replicas(at))
        fair = math.ceil(self.count / live)
        for k in sorted(self.held()):
            self.leases[k].acquire(at)  # a renewal; drops it if another took it meanwhile
        held = self.held()
        if len(held) < fair:
            self._claim(fair - len(held), at)
            held = self.held()
        extra = set(sorted(held)[fair:]) if len(held) > fair else set()
        return held, extra

    def live_replicas(self, now: float) -> int:
        with self.engine.connect() as conn:
            n = conn.execute(
                select(func.count())
                .select_from(leases)
                .where(leases.c.name.like(_HEARTBEAT + "%"), leases.c.expires_at > now)
            ).scalar_one()
        return int(n)

    def release(self, k: int) -> None:
        """Gives shard ``k`` up at once (expired, owner cleared): a replica short of its share
        takes it at its next turn. Only while we still own it at our epoch."""
        lease = self.leases[k]
        if lease.epoch is None:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(leases)
                .where(leases.c.name == lease.name)
                .where(leases.c.owner == self.owner, leases.c.epoch == lease.epoch)
                .values(owner="", expires_at=0.0)
            )
        lease.epoch = None

    def release_all(self) -> None:
        """A clean shutdown: the shards and the heartbeat go at once, not after the TTL."""
        for k in sorted(self.held()):
            self.release(k)
        with self.engine.begin() as conn:
            conn.execute(
                update(leases)
                .where(leases.c.name == _HEARTBEAT + self.owner)
                .values(expires_at=0.0)
            )

    def _heartbeat(self, at: float) -> None:
        name = _HEARTBEAT + self.owner
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(leases).where(leases.c.name == name).values(expires_at=at + self.ttl_s)
            ).rowcount
            if renewed:
                return
            try:
                with conn.begin_nested():
                    conn.execute(insert(leases).values(name=name, owner=self.owner, epoch=0,
                                                       expires_at=at + self.ttl_s))  # fmt: skip
            except IntegrityError:  # created by a twin at the same instant: renewed next turn
                pass

    def _claim(self, wanted: int, at: float) -> None:
        free = [k for k, lease in self.leases.items() if not lease.held]
        names = {shard_name(k): k for k in free}
        with self.engine.begin() as conn:
            existing = set(
                conn.execute(select(leases.c.name).where(leases.c.name.in_(names))).scalars()
            )
            for name in sorted(set(names) - existing):  # a shard nobody has held yet
                try:
                    with conn.begin_nested():
                        conn.execute(insert(leases).values(name=name, owner="", epoch=0,
                                                           expires_at=0.0))  # fmt: skip
                except IntegrityError:
                    pass
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(leases.c.name, leases.c.epoch)
                .where(leases.c.name.in_(names))
                # Expired or released, or ours from an earlier run of this replica id.
                .where(or_(leases.c.expires_at <= at, leases.c.owner == self.owner))
                .order_by(leases.c.name)
                .limit(wanted)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                epoch = int(row.epoch) + 1
                conn.execute(
                    update(leases)
                    .where(leases.c.name == row.name)
                    .values(owner=self.owner, epoch=epoch, expires_at=at + self.ttl_s)
                )
                self.leases[names[row.name]].epoch = epoch
