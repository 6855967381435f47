"""The bulk tables' secondary indexes dropped during a catch-up into empty tables and built at
its end (``gateway.indexer.bulk_indexes``): the index written is the same, the indexes are all
back after the sync, after a crash in the middle of one, and at the row cap; a following
indexer never drops them. Each class runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text

import gateway.db.tables  # noqa: F401  (every table on the metadata)
from gateway.db import metadata
from gateway.db.tables import index as t
from gateway.indexer import Progress
from gateway.indexer.bulk_indexes import BulkIndexes
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

    def test_a_sync_failing_midway_leaves_the_indexes_present(
        self, chain: Net, engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        indexer = chain.indexer(engine, max_range_logs=4)
        write = IndexStore.write_range
        seen: list[dict[str, set[str]]] = []

        def failing(store: IndexStore, *args: Any) -> Any:
            # Fails once both bulk tables hold rows, their indexes dropped.
            if count(engine, "index_grants") and count(engine, "index_transfers"):
                seen.append(_present(engine))
                raise RuntimeError("node gone")
            return write(store, *args)

        monkeypatch.setattr(IndexStore, "write_range", failing)
        with _drops(engine) as dropped, pytest.raises(RuntimeError, match="node gone"):
            indexer.sync_once()
        assert len(dropped) == 3
        assert seen == [{table: set() for table in BULK}]  # dropped when it failed
        assert _present(engine) == BULK  # and built before the error reached the caller
        assert _matches_migrations(engine)
        monkeypatch.setattr(IndexStore, "write_range", write)
        with _drops(engine) as dropped:
            indexer.sync_once()
        assert dropped == []
        assert _present(engine) == BULK
        assert dump(engine) == _reindexed(chain, other_engine)

    def test_indexes_dropped_by_a_drop_whose_answer_was_lost_are_built_by_the_next_sync(
        self, chain: Net, engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Review finding: a DROP INDEX committed whose answer was lost (the connection went at
        # the commit) raised before its indexes were counted as dropped, so neither the failed
        # sync's rebuild nor the next sync's start built them, for the process's whole life.
        indexer = chain.indexer(engine, max_range_logs=4)
        drop = BulkIndexes._drop_if_empty
        lost: list[str] = []

        def answer_lost(bulk: BulkIndexes, table: Any) -> Any:
            dropped = drop(bulk, table)
            if dropped and not lost:
                lost.append(str(table.name))
                raise RuntimeError("server closed the connection unexpectedly")
            return dropped

        monkeypatch.setattr(BulkIndexes, "_drop_if_empty", answer_lost)
        with pytest.raises(RuntimeError, match="closed the connection"):
            indexer.sync_once()
        assert lost
        assert _present(engine)[lost[0]] == set()  # gone, and nobody knew
        monkeypatch.setattr(BulkIndexes, "_drop_if_empty", drop)
        indexer.sync_once()
        assert _present(engine) == BULK
        assert _matches_migrations(engine)
        assert dump(engine) == _reindexed(chain, other_engine)

    def test_a_failed_sync_does_not_wait_for_the_ranges_still_being_fetched(
        self, chain: Net, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Review finding: leaving the fetch pool waited for every range asked ahead, so with
        # the node down a failed sync (and the rebuild of its indexes) waited an RPC timeout
        # for each. Here the ranges after the first hang until the test ends.
        indexer = chain.indexer(engine, batch_blocks=1, prefetch=3)
        fetch, write = indexer.fetcher.fetch, IndexStore.write_range
        hung = threading.Event()
        released = threading.Event()

        def hanging(first: int, *args: Any, **kwargs: Any) -> None:
            if first > indexer.start_block:
                hung.set()
                released.wait(30)
            fetch(first, *args, **kwargs)

        def failing(store: IndexStore, *args: Any) -> Any:
            assert hung.wait(10)  # a range asked ahead is being fetched
            raise RuntimeError("disk full")

        monkeypatch.setattr(indexer.fetcher, "fetch", hanging)
        monkeypatch.setattr(IndexStore, "write_range", failing)
        started = time.monotonic()
        try:
            with pytest.raises(RuntimeError, match="disk full"):
                indexer.sync_once()
            assert time.monotonic() - started < 10
        finally:
            released.set()
        monkeypatch.setattr(IndexStore, "write_range", write)
        indexer.sync_once()
        assert _present(engine) == BULK

    def test_a_crash_with_the_indexes_dropped_is_repaired_by_the_next_sync(
        self, chain: Net, engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        indexer = chain.indexer(engine, max_range_logs=4)
        write = IndexStore.write_range
        build = BulkIndexes.build
        killed: list[bool] = []

        def dying(store: IndexStore, *args: Any) -> Any:
            # Killed once both bulk tables hold rows, their indexes dropped.
            if count(engine, "index_grants") and count(engine, "index_transfers"):
                killed.append(True)
                raise RuntimeError("killed")
            return write(store, *args)

        def dead(bulk: BulkIndexes) -> None:
            # The database went with the process: the build after the failure fails too.
            if killed:
                raise RuntimeError("database gone")
            build(bulk)

        monkeypatch.setattr(IndexStore, "write_range", dying)
        monkeypatch.setattr(BulkIndexes, "build", dead)
        with pytest.raises(RuntimeError, match="killed"):  # the sync's error, not the build's
            indexer.sync_once()
        assert _present(engine) == {table: set() for table in BULK}  # the crash left them out
        monkeypatch.setattr(IndexStore, "write_range", write)
        monkeypatch.setattr(BulkIndexes, "build", build)
        # A new process: its first sync builds them before writing (its tables are not empty).
        with _drops(engine) as dropped:
            chain.indexer(engine, max_range_logs=4).sync_once()
        assert dropped == []
        assert _present(engine) == BULK
        assert _matches_migrations(engine)
        assert dump(engine) == _reindexed(chain, other_engine)

    def test_two_indexers_building_the_missing_indexes_at_once_both_succeed(
        self, engine: Engine
    ) -> None:
        dropping = BulkIndexes(engine)
        dropping.busy_part()  # the tables are empty: all three dropped
        assert len(dropping.dropped) == 3
        # Both restarted after a crash: each saw them missing, and each creates one while the
        # other's is not committed yet (held open here until the other one has run too).
        both = threading.Barrier(2)

        def hold(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("CREATE INDEX"):
                with suppress(threading.BrokenBarrierError):
                    both.wait(timeout=2)

        failures: list[BaseException] = []

        def restart() -> None:
            try:
                BulkIndexes(engine).start()
            except BaseException as exc:
                failures.append(exc)

        event.listen(engine, "after_cursor_execute", hold)
        try:
            threads = [threading.Thread(target=restart) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            event.remove(engine, "after_cursor_execute", hold)
        assert failures == []
        assert _present(engine) == BULK
        assert _matches_migrations(engine)

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
    def test_a_table_being_read_keeps_its_indexes_instead_of_waiting(
        self, chain: Net, engine: Engine, other_engine: Engine
    ) -> None:
        # A long reader (a report, an export) holds the grants table's ACCESS SHARE lock: DROP
        # INDEX would wait for it to end, and every new reader of the table behind the drop.
        indexer = chain.indexer(engine, max_range_logs=4)
        done = threading.Event()
        failures: list[BaseException] = []
        during: list[dict[str, set[str]]] = []

        def sync() -> None:
            try:
                indexer.sync_once(lambda _: during.append(_present(engine)))
            except BaseException as exc:
                failures.append(exc)
            done.set()

        with engine.connect() as reader, _drops(engine) as dropped:
            reader.execute(text("SELECT count(*) FROM index_grants")).scalar_one()  # in its txn
            thread = threading.Thread(target=sync)
            thread.start()
            finished = done.wait(timeout=30)
            reader.rollback()  # the reader ends (lets a blocked drop through)
            thread.join(timeout=60)
        assert finished, "the sync waited for the reader"
        assert failures == []
        assert len(dropped) == 3  # the grants' index tried too, given up after the timeout
        assert during
        assert all(present["index_grants"] == BULK["index_grants"] for present in during)
        assert {"index_grants": BULK["index_grants"], "index_transfers": set()} in during
        assert _present(engine) == BULK
        assert dump(engine) == _reindexed(chain, other_engine)
