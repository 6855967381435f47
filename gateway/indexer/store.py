"""The indexer's side of the database: one transaction per range, rollbacks, checkpoint.

A range's rows, the state it changes, the recent block hashes and the checkpoint are written in
one transaction, so a crash at any point leaves the index at the previous checkpoint, and the
next sync fetches the same range again. Rows go in with one bulk insert per table (``bulk``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import cast

from sqlalchemy import Connection, Engine, Table, delete, func, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.tables import index as t
from gateway.indexer.bulk import bulk_insert
from gateway.indexer.decode import DecodedEvent, Row, Values
from gateway.indexer.fold import (
    MAX_RECOVERY_HOPS,
    MerchantKey,
    PaymentKey,
    ProgramKey,
    RangeWrite,
    WalletKey,
    fold_identity,
    fold_merchant,
    fold_range,
)

__all__ = ["REORG_WINDOW", "BlockRef", "Checkpoint", "CheckpointMovedError", "IndexStore"]

REORG_WINDOW = 128
"""How many recent blocks keep their hash for the walk back to a common ancestor."""

_TABLES: dict[str, Table] = {table.name: table for table in t.ALL_TABLES}
_SQLITE_CACHE_KIB = 64 * 1024
# Checkpoint the WAL every 64 MB instead of every 4 MB: each checkpoint syncs the database
# file, and at thousands of rows a range the default spends more time syncing than inserting.
_SQLITE_WAL_PAGES = 16_384
_CHUNK = 500  # values per IN (...) list: well under every backend's parameter limit


class CheckpointMovedError(Exception):
    """Another indexer moved the checkpoint; this range was not written."""


@dataclass(frozen=True, slots=True)
class BlockRef:
    number: int
    hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    block: BlockRef  # the last block fully indexed
    head: int  # the chain's head when the indexer last looked
    updated_at: float


def _chunks(values: Iterable[object]) -> Iterator[list[object]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, _CHUNK)):
        yield chunk


class _DbLookup:
    """The state a range starts from, read inside the range's own transaction."""

    def __init__(self, conn: Connection, chain_id: int) -> None:
        self._conn = conn
        self._chain = chain_id

    def _rows(self, table: Table, *where: ColumnElement[bool]) -> list[Row]:
        query = select(table).where(table.c.chain_id == self._chain, *where)
        return [dict(r._mapping) for r in self._conn.execute(query)]

    def identities(self, accounts: Iterable[str]) -> dict[str, Row]:
        found: dict[str, Row] = {}
        for chunk in _chunks(accounts):
            for row in self._rows(t.identities, t.identities.c.account.in_(chunk)):
                found[cast(str, row["account"])] = row
        return found

    def merchants(self, keys: Iterable[MerchantKey]) -> dict[MerchantKey, Row]:
        c = t.merchants.c
        found: dict[MerchantKey, Row] = {}
        for chunk in _chunks(keys):
            for row in self._rows(t.merchants, tuple_(c.token, c.merchant).in_(chunk)):
                found[(cast(str, row["token"]), cast(str, row["merchant"]))] = row
        return found

    def programs(self, keys: Iterable[ProgramKey]) -> dict[ProgramKey, Row]:
        c = t.programs.c
        found: dict[ProgramKey, Row] = {}
        for chunk in _chunks(keys):
            for row in self._rows(t.programs, tuple_(c.token, c.program_id).in_(chunk)):
                found[(cast(str, row["token"]), cast(int, row["program_id"]))] = row
        return found

    def payments(self, keys: Iterable[PaymentKey]) -> dict[PaymentKey, Row]:
        c = t.payments.c
        found: dict[PaymentKey, Row] = {}
        for chunk in _chunks(keys):
            for row in self._rows(t.payments, tuple_(c.token, c.payer, c.seq).in_(chunk)):
                found[(cast(str, row["token"]), cast(str, row["payer"]), cast(int, row["seq"]))] = (
                    row
                )
        return found

    def recoveries(self, keys: Iterable[WalletKey]) -> dict[WalletKey, str]:
        """(token, lost wallet) -> the wallet the token moved it to (``WalletRecovered``), for
        ``keys`` and, hop by hop, for the wallets they went to (A to B, then B to C)."""
        c = t.wallet_recoveries.c
        found: dict[WalletKey, str] = {}
        wanted = set(keys)
        for _ in range(MAX_RECOVERY_HOPS):
            if not wanted:
                break
            step: dict[WalletKey, str] = {}
            for chunk in _chunks(wanted):
                for row in self._rows(t.wallet_recoveries, tuple_(c.token, c.lost).in_(chunk)):
                    key = (cast(str, row["token"]), cast(str, row["lost"]))
                    step[key] = cast(str, row["recipient"])
            found.update(step)
            wanted = {(token, to) for (token, _), to in step.items()} - found.keys()
        return found


class IndexStore:
    """Reads and writes the index of one chain."""

    def __init__(self, engine: Engine, chain_id: int) -> None:
        self.engine = engine
        self.chain_id = chain_id

    # -- reads ------------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint | None:
        c = t.checkpoints.c
        with self.engine.connect() as conn:
            row = conn.execute(select(t.checkpoints).where(c.chain_id == self.chain_id)).first()
        if row is None:
            return None
        return Checkpoint(
            BlockRef(row.block_number, row.block_hash), row.head_block, row.updated_at
        )

    def recent_blocks(self) -> list[BlockRef]:
        """Stored block hashes, newest first."""
        c = t.blocks.c
        query = select(c.number, c.hash).where(c.chain_id == self.chain_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.number.desc())).all()
        return [BlockRef(number, hash_) for number, hash_ in rows]

    def tokens(self) -> list[str]:
        c = t.municipalities.c
        query = select(c.token).where(c.chain_id == self.chain_id).order_by(c.block_number)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # -- writes -----------------------------------------------------------------------------

    def write_range(
        self,
        events: Sequence[DecodedEvent],
        after: BlockRef | None,
        end: BlockRef,
        head: int,
        hashes: Mapping[int, str],
    ) -> RangeWrite:
        """Rows, state, block hashes and the new checkpoint ``end``, in one transaction.

        ``after`` is the checkpoint the range follows (None for the first range). If the stored
        checkpoint is another (a second indexer on the same database got there first), nothing
        is written and :class:`CheckpointMovedError` is raised.
        """
        with self.engine.begin() as conn:
            c = t.checkpoints.c
            query = select(c.block_number, c.block_hash).where(c.chain_id == self.chain_id)
            stored = conn.execute(query.with_for_update()).first()
            if (None if stored is None else BlockRef(*stored)) != after:
                raise CheckpointMovedError(f"expected checkpoint {after}, found {stored}")
            if conn.dialect.name == "sqlite":
                # Index pages of big tables stay cached between ranges (default: 2 MB), and the
                # WAL is checkpointed less often (see _SQLITE_WAL_PAGES).
                conn.exec_driver_sql(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint = {_SQLITE_WAL_PAGES}")
            elif conn.dialect.name == "postgresql":
                # The index is derived from the chain: a server crash may lose the last
                # ranges' commits (never half a range), which the next sync reads again.
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            out = fold_range(events, _DbLookup(conn, self.chain_id))
            for name, rows in out.rows.items():
                self._insert(conn, _TABLES[name], rows)
            self._replace_state(conn, out)
            self._insert(
                conn,
                t.blocks,
                [{"chain_id": self.chain_id, "number": n, "hash": h} for n, h in hashes.items()],
            )
            b = t.blocks.c
            conn.execute(
                delete(t.blocks).where(
                    b.chain_id == self.chain_id, b.number <= end.number - REORG_WINDOW
                )
            )
            self._set_checkpoint(conn, end, head)
        return out

    def _insert(self, conn: Connection, table: Table, rows: Sequence[Row | Values]) -> None:
        """One bulk insert per table; the single place rows go in (tests fail it on purpose)."""
        if rows:
            bulk_insert(conn, table, rows)

    def _replace_state(self, conn: Connection, out: RangeWrite) -> None:
        chain = self.chain_id
        if out.identities:
            c = t.identities.c
            for chunk in _chunks(out.identities):
                conn.execute(delete(t.identities).where(c.chain_id == chain, c.account.in_(chunk)))
            self._insert(conn, t.identities, list(out.identities.values()))
        if out.merchants:
            c = t.merchants.c
            for chunk in _chunks(out.merchants):
                key = tuple_(c.token, c.merchant)
                conn.execute(delete(t.merchants).where(c.chain_id == chain, key.in_(chunk)))
            self._insert(conn, t.merchants, list(out.merchants.values()))
        if out.programs:
            c = t.programs.c
            stored = [key for key in out.programs if key in out.stored_programs]
            for chunk in _chunks(stored):
                key = tuple_(c.token, c.program_id)
                conn.execute(delete(t.programs).where(c.chain_id == chain, key.in_(chunk)))
            self._insert(conn, t.programs, list(out.programs.values()))

    def _set_checkpoint(self, conn: Connection, block: BlockRef, head: int) -> None:
        values = {
            "block_number": block.number,
            "block_hash": block.hash,
            "head_block": head,
            "updated_at": time.time(),
        }
        c = t.checkpoints.c
        done = conn.execute(update(t.checkpoints).where(c.chain_id == self.chain_id), values)
        if done.rowcount == 0:
            conn.execute(t.checkpoints.insert(), {"chain_id": self.chain_id, **values})

    def record_head(self, head: int) -> None:
        """Notes the chain head seen when there was nothing new to index."""
        c = t.checkpoints.c
        with self.engine.begin() as conn:
            conn.execute(
                update(t.checkpoints).where(c.chain_id == self.chain_id),
                {"head_block": head, "updated_at": time.time()},
            )

    def wipe(self) -> None:
        """Deletes everything indexed for this chain (before a reindex)."""
        with self.engine.begin() as conn:
            for table in t.ALL_TABLES:
                conn.execute(delete(table).where(table.c.chain_id == self.chain_id))

    # -- reorgs -----------------------------------------------------------------------------

    def rollback_to(self, ancestor: BlockRef, head: int) -> int:
        """Deletes every row above ``ancestor`` and undoes the state those rows changed.

        Only the rows being deleted are read (a primary-key range scan), so a rollback costs
        what it removes, not the size of the index. Returns the number of event rows deleted.
        """
        chain, number = self.chain_id, ancestor.number
        with self.engine.begin() as conn:
            accounts = self._keys_above(conn, t.identity_events, number, "account")
            merchants = self._keys_above(conn, t.merchant_events, number, "token", "merchant")
            undo = self._program_changes_above(conn, number)
            deleted = 0
            for table in t.EVENT_TABLES:
                c = table.c
                result = conn.execute(
                    delete(table).where(c.chain_id == chain, c.block_number > number)
                )
                deleted += max(result.rowcount, 0)
            self._refold_identities(conn, [cast(str, account) for (account,) in accounts])
            self._refold_merchants(conn, cast(list[MerchantKey], merchants))
            self._undo_programs(conn, undo)
            b = t.blocks.c
            conn.execute(delete(t.blocks).where(b.chain_id == chain, b.number > number))
            self._set_checkpoint(conn, ancestor, head)
        return deleted

    def _keys_above(
        self, conn: Connection, table: Table, number: int, *columns: str
    ) -> list[tuple[object, ...]]:
        c = table.c
        query = select(*(c[name] for name in columns)).distinct()
        query = query.where(c.chain_id == self.chain_id, c.block_number > number)
        return [tuple(row) for row in conn.execute(query)]

    def _program_changes_above(self, conn: Connection, number: int) -> dict[ProgramKey, Row]:
        """What grants, rewards, pocket moves and closes above ``number`` added to each
        program."""
        g, m, x, w = t.grants.c, t.pocket_moves.c, t.program_closes.c, t.rewards.c
        changes: dict[ProgramKey, Row] = {}

        def change(token: str, program_id: int) -> Row:
            default: Row = {"granted": 0, "claimed_count": 0, "spent": 0, "closed": False}
            return changes.setdefault((token, program_id), default)

        above = (g.chain_id == self.chain_id, g.block_number > number)
        query = select(g.token, g.program_id, func.sum(g.amount), func.count()).where(*above)
        for token, program_id, amount, claims in conn.execute(
            query.group_by(g.token, g.program_id)
        ):
            change(token, program_id).update(granted=int(amount), claimed_count=int(claims))
        above = (w.chain_id == self.chain_id, w.block_number > number)
        query = select(w.token, w.program_id, func.sum(w.amount)).where(*above)
        for token, program_id, amount in conn.execute(query.group_by(w.token, w.program_id)):
            entry = change(token, program_id)
            entry["granted"] = cast(int, entry["granted"]) + int(amount)
        above = (m.chain_id == self.chain_id, m.block_number > number)
        query = select(m.token, m.program_id, func.sum(m.spent_delta)).where(*above)
        for token, program_id, spent in conn.execute(query.group_by(m.token, m.program_id)):
            change(token, program_id)["spent"] = int(spent)
        query = select(x.token, x.program_id).where(
            x.chain_id == self.chain_id, x.block_number > number
        )
        for token, program_id in conn.execute(query):
            change(token, program_id)["closed"] = True
        return changes

    def _undo_programs(self, conn: Connection, changes: dict[ProgramKey, Row]) -> None:
        c = t.programs.c
        reopened = {
            "closed": False,
            "returned": None,
            "closed_block": None,
            "closed_log_index": None,
        }
        for (token, program_id), change in changes.items():
            values: dict[str, object] = {
                "granted": c.granted - change["granted"],
                "claimed_count": c.claimed_count - change["claimed_count"],
                "spent": c.spent - change["spent"],
                **(reopened if change["closed"] else {}),
            }
            # Programs created above the ancestor are already deleted: nothing to update.
            where = (c.chain_id == self.chain_id, c.token == token, c.program_id == program_id)
            conn.execute(update(t.programs).where(*where).values(values))

    def _events(self, conn: Connection, table: Table, *where: ColumnElement[bool]) -> list[Row]:
        c = table.c
        query = select(table).where(c.chain_id == self.chain_id, *where)
        query = query.order_by(c.block_number, c.log_index)
        return [dict(r._mapping) for r in conn.execute(query)]

    def _refold_identities(self, conn: Connection, accounts: list[str]) -> None:
        """Identities of ``accounts`` folded again from the events that remain."""
        c, e = t.identities.c, t.identity_events.c
        states: dict[str, Row] = {}
        for chunk in _chunks(accounts):
            conn.execute(
                delete(t.identities).where(c.chain_id == self.chain_id, c.account.in_(chunk))
            )
            for event in self._events(conn, t.identity_events, e.account.in_(chunk)):
                account = cast(str, event["account"])
                states[account] = fold_identity(states.get(account), event)
        self._insert(conn, t.identities, list(states.values()))

    def _refold_merchants(self, conn: Connection, keys: list[MerchantKey]) -> None:
        """Merchant records of ``keys`` folded again from the events that remain."""
        c, e = t.merchants.c, t.merchant_events.c
        states: dict[MerchantKey, Row] = {}
        for chunk in _chunks(keys):
            where = tuple_(c.token, c.merchant).in_(chunk)
            conn.execute(delete(t.merchants).where(c.chain_id == self.chain_id, where))
            events = self._events(conn, t.merchant_events, tuple_(e.token, e.merchant).in_(chunk))
            for event in events:
                key = (cast(str, event["token"]), cast(str, event["merchant"]))
                states[key] = fold_merchant(states.get(key), event)
        self._insert(conn, t.merchants, list(states.values()))
