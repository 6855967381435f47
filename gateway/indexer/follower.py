"""The indexer: follows the chain head and writes every network event into SQL.

Blocks are read in ranges (see ``fetch``), decoded (``decode``), folded (``fold``) and written
with the checkpoint in one transaction per part of a range (``store``; a part ends at a block
boundary). While one part is written, worker threads already decode the next parts and fetch
the next ranges. Ranges aim at ``max_range_logs`` logs each, within ``batch_blocks`` blocks.
A catch-up into empty bulk tables (a reindex) builds their secondary indexes once, at its end
(``bulk_indexes``).

Reorgs: before each sync the checkpoint's hash is compared with the chain's. On a mismatch the
indexer walks back through the stored recent hashes to the newest block the chain still has,
deletes every row above it (rebuilding the state those rows changed) and indexes from there.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from chain.manifest import Manifest
from chain.rpc import RpcClient, RpcError
from gateway.indexer.bulk_indexes import BulkIndexes
from gateway.indexer.decode import EventDecoder
from gateway.indexer.fetch import ChainMovedError, FetchedRange, RangeFetcher
from gateway.indexer.fold import VALUES_TABLES
from gateway.indexer.store import REORG_WINDOW, CheckpointMovedError, IndexStore
from gateway.observability.index_metrics import EVENTS_INGESTED
from gateway.settings import Settings

__all__ = [
    "IndexLag",
    "Indexer",
    "IndexerError",
    "Progress",
    "ProgressCallback",
    "ReorgTooDeepError",
    "SyncReport",
]

log = logging.getLogger("dongne.indexer")

# Blocks in the first range. Small, and doubled only while ranges stay well under
# max_range_logs, so the first busy stretch after a quiet one is not read in one huge range.
_FIRST_SPAN = 4
_MAX_BACKOFF_S = 30.0


class IndexerError(RuntimeError):
    """The indexer cannot go on without an operator (wrong chain, reorg too deep)."""


class ReorgTooDeepError(IndexerError):
    """No stored recent block is on the chain any more: reindex from the start."""

    def __init__(self, checkpoint: int, oldest_stored: int | None) -> None:
        super().__init__(
            f"the chain no longer has indexed block {checkpoint} nor any stored block back to "
            f"{oldest_stored}; the reorg is deeper than {REORG_WINDOW} blocks: run a reindex"
        )
        self.checkpoint = checkpoint
        self.oldest_stored = oldest_stored


@dataclass(frozen=True, slots=True)
class Progress:
    start_block: int
    block: int  # indexed up to here
    target: int
    events: int
    elapsed: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed if self.elapsed > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class SyncReport:
    from_block: int  # first block this sync indexed
    to_block: int  # the checkpoint it left
    head: int
    ranges: int
    logs: int
    events: int
    reorg_depth: int  # blocks rolled back before indexing (0: none)
    seconds: float


@dataclass(frozen=True, slots=True)
class IndexLag:
    """How far the index trails the chain: in blocks behind the last head seen, and in seconds
    since a sync last reached it (0 blocks but growing seconds: the node or the database has
    been unavailable since)."""

    head: int | None
    blocks: int
    seconds: float


class _Asked:
    """One range asked of a worker thread: the parts it hands over, then its end."""

    def __init__(self) -> None:
        self.parts: queue.SimpleQueue[FetchedRange | None] = queue.SimpleQueue()
        self.future: Future[None] | None = None

    def finished(self, _: Future[None]) -> None:
        self.parts.put(None)


@contextmanager
def _unwaited(pool: ThreadPoolExecutor) -> Iterator[None]:
    """Shuts ``pool`` down on the way out without waiting for the fetches still running: after
    a break or an error none is wanted, and with the node down each would hold the failed
    sync (and the rebuild of its indexes) an RPC timeout. Their answers are dropped."""
    try:
        yield
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class _Prefetch:
    """Ranges asked of the node ahead of the one being written, in chain order; each comes in
    parts as it is decoded (see ``RangeFetcher.fetch``)."""

    def __init__(
        self,
        indexer: Indexer,
        pool: ThreadPoolExecutor,
        first: int,
        target: int,
        head: int,
        tokens: list[str],
    ) -> None:
        self._indexer = indexer
        self._pool = pool
        self._next = first
        self._target = target
        self._head = head
        self._tokens = tokens  # the caller's list: ranges asked later see tokens it adds
        self._asked: deque[_Asked] = deque()
        self._current: _Asked | None = None  # the range whose parts are being handed over

    def __enter__(self) -> _Prefetch:
        return self

    def __exit__(self, *_: object) -> None:
        self.abandon()  # nothing more is wanted (a break or an error leaves some asked)

    def fill(self) -> None:
        while len(self._asked) < self._indexer.prefetch and self._next <= self._target:
            last = min(self._target, self._next + self._indexer._span - 1)
            asked = _Asked()
            fetch = self._indexer.fetcher.fetch
            tokens = tuple(self._tokens)
            # A span sized from sparse ranges may meet busy blocks: ask it a quarter first.
            split = not self._indexer._dense
            asked.future = self._pool.submit(
                fetch, self._next, last, self._head, tokens, asked.parts.put, split
            )
            # The end of the range (or its failure) is a None after its parts.
            asked.future.add_done_callback(asked.finished)
            self._asked.append(asked)
            self._next = last + 1

    def next(self) -> FetchedRange:
        """The next part in order (raising what fetching its range raised)."""
        while True:
            if self._current is None:
                self.fill()
                self._current = self._asked.popleft()
            part = self._current.parts.get()
            if part is not None:
                return part
            done, self._current = self._current, None
            assert done.future is not None
            done.future.result()  # raises what the fetch raised

    def restart(self, first: int) -> None:
        """Forgets the ranges asked for after the current one (their answers are dropped) and
        goes on at `first`."""
        while self._asked:
            asked = self._asked.popleft()
            assert asked.future is not None
            if not asked.future.cancel():
                asked.future.add_done_callback(_drop)
        self._next = first

    def abandon(self) -> None:
        """Drops everything asked, the current range's remaining parts included."""
        if self._current is not None:
            assert self._current.future is not None
            self._current.future.add_done_callback(_drop)
            self._current = None
        self.restart(self._target + 1)


def _drop(future: Future[None]) -> None:
    """Retrieves a dropped fetch's exception, so that it is not reported as never retrieved."""
    future.exception()


class Indexer:
    """Follows one chain's network contracts (from ``manifest``) into ``engine``'s database."""

    def __init__(
        self,
        engine: Engine,
        rpc: RpcClient,
        manifest: Manifest,
        *,
        confirmations: int = 0,
        batch_blocks: int = 2_000,
        poll_interval: float = 0.2,
        max_range_logs: int = 20_000,
        prefetch: int = 2,
    ) -> None:
        self.store = IndexStore(engine, manifest.chain_id)
        self.bulk_indexes = BulkIndexes(engine)
        self.rpc = rpc
        self.chain_id = manifest.chain_id
        self.start_block = manifest.start_block
        self.confirmations = confirmations
        self.batch_blocks = max(1, batch_blocks)
        self.poll_interval = poll_interval
        self.max_range_logs = max_range_logs
        self.prefetch = max(1, prefetch)
        self.decoder = EventDecoder(manifest.chain_id, as_values=VALUES_TABLES)
        network = [manifest.forwarder, manifest.registry, manifest.factory]
        # A large answer (the first busy stretch after a quiet one) is written in parts of
        # max_range_logs, the first one smaller, so writing begins before it is all decoded.
        self.fetcher = RangeFetcher(
            rpc, self.decoder, network, manifest.factory, part_logs=max_range_logs
        )
        self._span = min(_FIRST_SPAN, self.batch_blocks)
        self._dense = False  # whether the span was sized from a busy range
        self._chain_checked = False
        # Read by /metrics and /readyz from the event loop while the indexer's thread writes.
        self._head: int | None = None
        self._indexed: int | None = None
        self._caught_up_at = time.time()  # its start: the first catch-up gets the same grace

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine, rpc: RpcClient, manifest: Manifest
    ) -> Indexer:
        return cls(
            engine,
            rpc,
            manifest,
            confirmations=settings.confirmations,
            batch_blocks=settings.index_batch_blocks,
            poll_interval=settings.poll_interval_s,
            prefetch=settings.index_prefetch_ranges,
        )

    # -- public API ---------------------------------------------------------------------------

    def sync_once(self, progress: ProgressCallback | None = None) -> SyncReport:
        """Index everything up to the head (less confirmations); returns what was done.

        The next ``prefetch`` ranges are fetched and decoded in worker threads while the
        current one is written, so the node's work (most of an ``eth_getLogs``), our decoding
        and the database's work overlap.
        """
        started = time.monotonic()
        self._check_chain()
        self.bulk_indexes.start()
        head = self.rpc.block_number()
        depth = self._handle_reorg(head)
        checkpoint = self.store.checkpoint()
        first = checkpoint.block.number + 1 if checkpoint else self.start_block
        parent = checkpoint.block if checkpoint else None
        target = head - self.confirmations
        tokens = self.store.tokens()
        block, ranges, logs, events = first, 0, 0, 0
        busy = max(1, self.max_range_logs // 4)
        try:
            pool = ThreadPoolExecutor(self.prefetch, thread_name_prefix="dongne-index-fetch")
            with _Prefetch(self, pool, block, target, head, tokens) as ahead, _unwaited(pool):
                while block <= target:
                    try:
                        fetched = ahead.next()
                    except ChainMovedError as exc:
                        log.info("chain moved while reading from block %d (%s)", block, exc)
                        break
                    except RpcError as exc:
                        if self._span == 1:
                            raise
                        # Nodes cap eth_getLogs answers (Besu: blocks, geth-likes: results).
                        log.info("eth_getLogs from block %d refused (%s); halving", block, exc)
                        self._span = max(1, self._span // 2)
                        ahead.restart(block)
                        continue
                    # A request's first part: its first block's header was read before its logs.
                    header = fetched.headers.get(block)
                    if parent is not None and header is not None and header.parent != parent.hash:
                        log.info("block %d no longer follows block %d", block, block - 1)
                        break
                    if fetched.new_tokens:
                        # Ranges already asked for miss the new tokens' logs: ask again.
                        tokens.extend(fetched.new_tokens)
                        ahead.restart(fetched.range_last + 1)
                    if fetched.span:  # the range's last part
                        self._resize(fetched.span, fetched.range_logs)
                    ahead.fill()  # the node works on the next ranges while this one is written
                    if fetched.log_count >= busy:  # a catch-up: into empty tables, index at the end
                        self.bulk_indexes.busy_part()
                    try:
                        self.store.write_range(
                            fetched.events, parent, fetched.end, head, fetched.hashes
                        )
                    except CheckpointMovedError as exc:
                        log.warning("range %d-%d not written: %s", block, fetched.last, exc)
                        break
                    self.bulk_indexes.written(len(fetched.events))
                    ranges += 1 if fetched.span else 0
                    logs += fetched.log_count
                    events += len(fetched.events)
                    EVENTS_INGESTED.inc(len(fetched.events))
                    block, parent = fetched.last + 1, fetched.end
                    if progress is not None:
                        elapsed = time.monotonic() - started
                        progress(Progress(first, fetched.last, target, events, elapsed))
        except Exception:
            # Not left missing until the next sync: the API reads meanwhile (the next sync
            # still builds what this one could not).
            self.bulk_indexes.finish(failed=True)
            raise
        self.bulk_indexes.finish()
        if ranges == 0 and checkpoint is not None and checkpoint.head != head:
            self.store.record_head(head)
        self._head, self._indexed = head, block - 1
        if block > target:
            self._caught_up_at = time.time()
        seconds = time.monotonic() - started
        return SyncReport(first, block - 1, head, ranges, logs, events, depth, seconds)

    def reindex(self, progress: ProgressCallback | None = None) -> SyncReport:
        """Deletes this chain's index and rebuilds it from the manifest's start block."""
        self.store.wipe()
        self.bulk_indexes.wiped()
        self._span = min(_FIRST_SPAN, self.batch_blocks)
        return self.sync_once(progress)

    def lag(self, now: float) -> IndexLag:
        if self._head is None or self._indexed is None:
            return IndexLag(None, 0, max(0.0, now - self._caught_up_at))
        blocks = max(0, self._head - self.confirmations - self._indexed)
        return IndexLag(self._head, blocks, max(0.0, now - self._caught_up_at))

    def run_forever(
        self,
        stop_event: threading.Event,
        on_sync: Callable[[SyncReport], None] | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Follows the head until ``stop_event`` is set; node or database trouble is retried.
        ``on_sync`` hears of every sync that indexed something (``dongne indexer`` prints it).

        :class:`IndexerError` (wrong chain, reorg deeper than the window) propagates: it needs
        an operator.
        """
        backoff = self.poll_interval
        while not stop_event.is_set():
            try:
                report = self.sync_once(progress)
                if on_sync is not None and report.ranges:
                    on_sync(report)
            except IndexerError:
                raise
            except Exception as exc:  # node down, database busy...: the next round retries
                log.warning("indexer sync failed (%s: %s); retrying", type(exc).__name__, exc)
                stop_event.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            backoff = self.poll_interval
            stop_event.wait(self.poll_interval)

    def _resize(self, span: int, logs: int) -> None:
        """Aim each range at ``max_range_logs`` logs, within ``batch_blocks`` blocks."""
        self._dense = logs >= self.max_range_logs // 4
        if logs > self.max_range_logs:
            self._span = max(1, span * self.max_range_logs // logs)
        elif not self._dense and span >= self._span:
            self._span = min(self.batch_blocks, span * 2)

    # -- chain identity and reorgs --------------------------------------------------------------

    def _check_chain(self) -> None:
        if not self._chain_checked:
            actual = self.rpc.chain_id()
            if actual != self.chain_id:
                raise IndexerError(f"the node serves chain {actual}, the manifest {self.chain_id}")
            self._chain_checked = True

    def _handle_reorg(self, head: int) -> int:
        """Rolls the index back to the newest stored block the chain still has."""
        checkpoint = self.store.checkpoint()
        if checkpoint is None:
            return 0
        number = checkpoint.block.number
        chain = self.fetcher.hashes([number])
        if chain.get(number) == checkpoint.block.hash:
            return 0
        stored = self.store.recent_blocks()
        chain = self.fetcher.hashes(b.number for b in stored)
        for block in stored:
            if chain.get(block.number) == block.hash:
                deleted = self.store.rollback_to(block, head)
                log.warning(
                    "reorg: rolled back from block %d to %d (%d rows deleted)",
                    number,
                    block.number,
                    deleted,
                )
                return number - block.number
        raise ReorgTooDeepError(number, stored[-1].number if stored else None)
