"""The bulk tables' secondary indexes dropped during a catch-up into empty tables and built at
its end (``gateway.indexer.bulk_indexes``): the index written is the same, the indexes are all
back after the sync, after a crash in the middle of one, and at the row cap; a following
indexer never drops them. Each class runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event, inspect

import gateway.db.tables  # noqa: F401  (every table on the metadata)
from gateway.db import metadata
from gateway.db.tables import index as t
from gateway.indexer import Progress
from gateway.indexer.store import IndexStore
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import Net, activity, count, dump

# The indexes a catch-up may drop: the non-unique ones of the tables the fold never reads.
BULK = {
    "index_grants": {"ix_index_grants_recipient"},
    "index_transfers": {"ix_index_transfers_sender", "ix_index_transfers_recipient"},
}


def _present(engine: Engine) -> dict[str, set[str]]:
    """The bulk tables' secondary indexes the database has now."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        return {
            table: {str(ix["name"]) for ix in inspector.get_indexes(table)} & names
            for table, names in BULK.items()
        }


@contextmanager
def _drops(engine: Engine) -> Iterator[list[str]]:
    """The DROP INDEX statements ``engine`` runs meanwhile."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DROP INDEX"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def _reindexed(net: Net, engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    net.indexer(engine).reindex()
    return dump(engine)


def _matches_migrations(engine: Engine) -> bool:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    return [d for d in diffs if "index_" in repr(d)] == []


class BulkIndexTests:
    def test_a_catch_up_into_empty_tables_builds_their_indexes_at_its_end(
        self, chain: Net, engine: Engine, other_engine: Engine
    ) -> None:
        # max_range_logs=4: every part of one log or more is busy, and there are many parts.
        indexer = chain.indexer(engine, max_range_logs=4)
        during: list[dict[str, set[str]]] = []

        def progress(_: Progress) -> None:
            during.append(_present(engine))

        with _drops(engine) as dropped:
            report = indexer.sync_once(progress)
        assert len(dropped) == 3
        assert len(during) > 2
        assert {table: set() for table in BULK} in during  # missing while catching up
        assert _present(engine) == BULK
        assert _matches_migrations(engine)
        assert count(engine, "index_grants") > 0
        assert count(engine, "index_transfers") > 0
        assert dump(engine) == _reindexed(chain, other_engine)
        # Tables holding rows keep their indexes: the next syncs, and a new indexer's.
        activity(chain, 3, variant=4)
        with _drops(engine) as dropped:
            assert indexer.sync_once().events > 0
            chain.indexer(engine, max_range_logs=4).sync_once()
        assert dropped == []
        # A reindex empties them: dropped again, and built again.
        with _drops(engine) as dropped:
            assert indexer.reindex().events > report.events
        assert len(dropped) == 3
        assert _present(engine) == BULK
        assert dump(engine) == _reindexed(chain, other_engine)

    def test_a_crash_with_the_indexes_dropped_is_repaired_by_the_next_sync(
        self, chain: Net, engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        indexer = chain.indexer(engine, max_range_logs=4)
        write = IndexStore.write_range

        def dying(store: IndexStore, *args: Any) -> Any:
            # Killed once both bulk tables hold rows, their indexes dropped.
            if count(engine, "index_grants") and count(engine, "index_transfers"):
                raise RuntimeError("killed")
            return write(store, *args)

        monkeypatch.setattr(IndexStore, "write_range", dying)
        with pytest.raises(RuntimeError, match="killed"):
            indexer.sync_once()
        assert _present(engine) == {table: set() for table in BULK}  # the crash left them out
        monkeypatch.setattr(IndexStore, "write_range", write)
        # A new process: its first sync builds them before writing (its tables are not empty).
        with _drops(engine) as dropped:
            chain.indexer(engine, max_range_logs=4).sync_once()
        assert dropped == []
        assert _present(engine) == BULK
        assert _matches_migrations(engine)
        assert dump(engine) == _reindexed(chain, other_engine)

    def test_the_indexes_are_built_again_at_the_row_cap(
        self, chain: Net, engine: Engine, other_engine: Engine
    ) -> None:
        indexer = chain.indexer(engine, max_range_logs=4)
        indexer.bulk_indexes.rows_cap = 1  # built again after the first part with an event
        during: list[dict[str, set[str]]] = []
        with _drops(engine) as dropped:
            indexer.sync_once(lambda _: during.append(_present(engine)))
        assert len(dropped) == 3
        assert during
        assert all(present == BULK for present in during)
        assert dump(engine) == _reindexed(chain, other_engine)

    def test_quiet_ranges_never_drop_an_index(self, chain: Net, engine: Engine) -> None:
        # The scenario's blocks hold far fewer logs than a quarter of the default range.
        with _drops(engine) as dropped:
            assert chain.indexer(engine).sync_once().events > 0
        assert dropped == []
        assert _present(engine) == BULK
        assert count(engine, t.grants.name) > 0


class TestBulkIndexesSQLite(BulkIndexTests, SQLiteBackend):
    pass


class TestBulkIndexesPostgres(BulkIndexTests, PostgresBackend):
    pass
