"""A named lease: which replica does a single-writer job, and the fencing token that stops a
deposed holder.

Replicas share one database. Each relayer shard (``shard:<k>``, gateway.relayer.shards) and
the settlement task (``settlement``) are leases: the holder renews its lease every third of
its TTL; when it stops (a crash, a partition), another replica takes the lease once it
expires, with the epoch one higher. Every write of the holder checks, inside its own
transaction, that the lease is still its own at its epoch (:meth:`Lease.check`): a deposed
holder that wakes up late - a paused process, a partition healed - writes nothing and steps
down.

A replica restarting under the same ``replica_id`` resumes at once (its earlier self cannot be
alive beside it), which is why the id must be stable per replica and unique among them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.db.tables.relayer import leases

__all__ = ["Lease", "LeaseLostError"]


class LeaseLostError(RuntimeError):
    """Another replica holds the lease now: this one must stop and write nothing."""


@dataclass
class Lease:
    engine: Engine
    owner: str
    ttl_s: float
    name: str
    epoch: int | None = None  # ours while we hold it

    @property
    def held(self) -> bool:
        return self.epoch is not None

    def acquire(self, now: float | None = None) -> bool:
        """Takes or renews the lease; False (and not held) while another replica holds it."""
        at = time.time() if now is None else now
        until = at + self.ttl_s
        with self.engine.begin() as conn:
            row = conn.execute(
                select(leases).where(leases.c.name == self.name).with_for_update()
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(leases).values(name=self.name, owner=self.owner,
                                                           epoch=1, expires_at=until))  # fmt: skip
                except IntegrityError:  # another replica created it first
                    self.epoch = None
                    return False
                self.epoch = 1
                return True
            mine = row.owner == self.owner
            if mine and self.epoch == row.epoch:  # renewal
                conn.execute(
                    update(leases).where(leases.c.name == self.name).values(expires_at=until)
                )
                return True
            if not mine and row.expires_at > at:
                self.epoch = None
                return False
            # Expired, or ours from an earlier run of this replica: a new epoch either way.
            epoch = int(row.epoch) + 1
            conn.execute(
                update(leases)
                .where(leases.c.name == self.name)
                .values(owner=self.owner, epoch=epoch, expires_at=until)
            )
            self.epoch = epoch
            return True

    def check(self, conn: Connection) -> None:
        """Inside a write transaction: raises LeaseLostError unless we still hold the lease at our
        epoch. The row is locked (PostgreSQL) so a takeover cannot interleave."""
        row = conn.execute(
            select(leases.c.owner, leases.c.epoch)
            .where(leases.c.name == self.name)
            .with_for_update()
        ).first()
        if row is None or row.owner != self.owner or row.epoch != self.epoch:
            self.epoch = None
            raise LeaseLostError(f"the {self.name} lease is no longer {self.owner}'s")
