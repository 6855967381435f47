"""The bulk tables' secondary indexes, built once at the end of a catch-up into empty tables.

Grants and transfers are most of the rows, and the fold never reads them back (``VALUES_TABLES``).
Their secondary indexes are keyed on addresses, random by nature, so every row inserted lands
on another B-tree page. Writing 216k grants (``bench_indexer.py``'s range, already decoded):
SQLite 2.3 s of the writer's CPU with ``ix_index_grants_recipient``, 1.0 s without it, and
0.2 s to build it afterwards from the finished table (a sort); PostgreSQL 3.5 s with it, 2.3 s
without it plus 0.5 s to build it.

So when a sync meets a busy stretch (a part of at least a quarter of ``max_range_logs`` logs)
and a bulk table is still empty (a reindex, a new database), that table's secondary indexes are
dropped, and built again when the sync ends, or sooner once ``rows_cap`` events went in:
building an index holds SQLite's write lock, which a relayer sharing the file waits out (its
busy timeout is 10 s): measured at load 4 on 2 cores, 0.32 s for 216k rows, 2.2 s for 1M. So
the cap is 500k events, and each index is built in its own transaction (the relayer writes in
between). On PostgreSQL building blocks only writes to the table, which only the indexer
writes. Unique keys are never dropped: they guard the index against a row written twice.
While the indexes are missing, the API still answers, by scanning the rows indexed so far.

A sync that fails (the node, an error writing) builds them before it raises. A crash while
they are dropped (or a failure that the build fails too, the database gone) leaves them missing
until the next sync, of this indexer or one started later: it builds every missing one before
anything else.

PostgreSQL: ``DROP INDEX`` takes the table's ACCESS EXCLUSIVE lock, which waits for every open
transaction that read the table, and every new reader queues behind it. So the drop waits at
most ``LOCK_TIMEOUT_MS``; a table it cannot lock that quickly keeps its indexes (the sync writes
it as a follower would). Two indexers building the missing indexes at once (both restarted
after a crash) would both pass ``IF NOT EXISTS`` and one fail on the catalog's unique key: each
build holds a transaction-level advisory lock on the schema and index name, so the second one
waits for the first to commit and then finds the index there.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, Index, Table, inspect, literal, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateIndex, DropIndex

from gateway.db.tables import index as t
from gateway.indexer.fold import VALUES_TABLES

__all__ = ["LOCK_TIMEOUT_MS", "ROWS_CAP", "BulkIndexes"]

log = logging.getLogger("dongne.indexer")

ROWS_CAP = 500_000
"""Events written with the indexes dropped before they are built again (see the docstring)."""

LOCK_TIMEOUT_MS = 500
"""PostgreSQL: how long a drop waits for its table's lock (readers queue behind it meanwhile)."""

_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout that ran out
_BUILD_LOCK = 0x646E6978  # "dnix": the advisory lock class of index builds (two-key form)

_BULK_TABLES = tuple(table for table in t.ALL_TABLES if table.name in VALUES_TABLES)


def _secondary(table: Table) -> list[Index]:
    """The table's non-unique indexes (unique keys stay: they refuse a row written twice)."""
    return sorted((ix for ix in table.indexes if not ix.unique), key=lambda ix: str(ix.name))


class BulkIndexes:
    """Drops and builds the bulk tables' secondary indexes around a catch-up (one per
    indexer; see the module's docstring)."""

    def __init__(
        self, engine: Engine, rows_cap: int = ROWS_CAP, lock_timeout_ms: int = LOCK_TIMEOUT_MS
    ) -> None:
        self._engine = engine
        self.rows_cap = rows_cap
        self.lock_timeout_ms = lock_timeout_ms
        self._dropped: list[Index] = []
        self._rows = 0
        self._checked = False  # whether this process built the indexes a crash left missing
        self._maybe_empty = True  # False once the bulk tables were seen holding rows

    @property
    def dropped(self) -> list[str]:
        return [str(ix.name) for ix in self._dropped]

    def start(self) -> None:
        """Before a sync: builds the indexes still missing (a crash, a failed sync)."""
        if not self._checked or self._dropped:
            self.build()
            self._checked = True

    def wiped(self) -> None:
        """The index was deleted (a reindex): the bulk tables may be empty again."""
        self._maybe_empty = True

    def busy_part(self) -> None:
        """A sync met a busy part: drops the indexes of the bulk tables that are empty."""
        if not self._maybe_empty or self._dropped:
            return
        self._maybe_empty = False  # rows follow; only a wipe empties the tables again
        for table in _BULK_TABLES:
            self._dropped.extend(self._drop_if_empty(table))
        self._rows = 0
        if self._dropped:
            log.info("catching up into empty tables: indexes %s built at the end", self.dropped)

    def _drop_if_empty(self, table: Table) -> list[Index]:
        """Drops ``table``'s secondary indexes if it is empty and its lock comes quickly (one
        transaction a table: a table whose lock does not come keeps its indexes)."""
        indexes = _secondary(table)
        try:
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}"))
                if not indexes or not self._empty(conn, table):
                    return []
                for ix in indexes:
                    conn.execute(DropIndex(ix, if_exists=True))
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            log.info("%s is being read: its indexes stay during this catch-up", table.name)
            return []
        return indexes

    def written(self, events: int) -> None:
        """Counts events written while indexes are dropped; builds them at ``rows_cap``."""
        if self._dropped:
            self._rows += events
            if self._rows >= self.rows_cap:
                self.build()

    def finish(self, *, failed: bool = False) -> None:
        """After a sync, one that ``failed`` too: builds the indexes it dropped.

        After a failure a build that fails as well (the database is gone) is logged, not
        raised: the caller must see the sync's own error, and the next sync's ``start`` builds
        them."""
        if failed:
            # What failed may have dropped indexes it never counted (a DROP committed, its
            # answer lost): the next start asks the catalog again.
            self._checked = False
        if not self._dropped:
            return
        if not failed:
            self.build()
            return
        try:
            self.build()
        except Exception as exc:
            log.warning(
                "indexes %s not built after a failed sync (%s: %s); the next sync builds them",
                self.dropped,
                type(exc).__name__,
                exc,
            )

    def build(self) -> None:
        """Creates every missing secondary index of the bulk tables."""
        with self._engine.connect() as conn:
            inspector = inspect(conn)
            present = {
                ix["name"] for table in _BULK_TABLES for ix in inspector.get_indexes(table.name)
            }
        for table in _BULK_TABLES:
            for ix in _secondary(table):
                if ix.name not in present:
                    with self._engine.begin() as conn:  # one at a time: see the docstring
                        if conn.dialect.name == "postgresql":
                            # Another indexer building it waits here, or this one for it.
                            key = "hashtext(current_schema() || '.' || :name)"
                            lock = f"SELECT pg_advisory_xact_lock(:kind, {key})"
                            conn.execute(text(lock), {"kind": _BUILD_LOCK, "name": ix.name})
                        conn.execute(CreateIndex(ix, if_not_exists=True))
        self._dropped.clear()

    @staticmethod
    def _empty(conn: Connection, table: Table) -> bool:
        return conn.execute(select(literal(1)).select_from(table).limit(1)).first() is None
