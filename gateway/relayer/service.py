"""Wires the relayer's parts together and runs them for the app's lifetime.

Replicas on one database share the relaying by shards (gateway.relayer.shards): every replica
accepts and stores requests; each shard (a slice of the signers, one relayer key) is batched by
the one replica holding its lease, which runs a :class:`Batcher` for it and adopts the shard's
requests that other replicas stored. Every third of the lease TTL a replica renews its
heartbeat and its shards, claims its fair share of free ones and gives up what it holds beyond
it; a shard it loses stops at once (its batcher forgets its memory) and its new owner resumes
the shard's work from the database. Alone, a replica holds every shard.

Alternatives weighed: LISTEN/NOTIFY for adoption (PostgreSQL only, and a dropped notification
still needs a poll; an indexed ids-only poll every 50 ms per shard costs little); a single
leader batching for everyone (what this replaced: capacity of one process); a shard per
signer row lock (as many locks as signers: a lease per key-shard is the unit that matters,
since a key's nonces need one writer).

Known limit: admission control (gateway.relayer.admission) measures the backlog this replica
holds; a replica holding none of a request's shard stores it without knowing the owner's
backlog (the owner's own intake still sheds, and the per-signer pipeline bound holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from eth_account import Account
from sqlalchemy import Engine

from chain.manifest import Manifest
from chain.rpc import NodeUnavailableError, RpcError
from chain.rpc_async import AsyncRpc
from gateway.relayer.batcher import Batcher, RelayerKey, Stats
from gateway.relayer.chainview import ChainView
from gateway.relayer.intake import Accepted, Intake, NonceBook
from gateway.relayer.payment_intake import AcceptedPayment
from gateway.relayer.shards import ShardLeases, shard_of
from gateway.relayer.store import RequestStore
from gateway.settings import Settings

log = logging.getLogger("dongne.relayer")


@dataclass
class Relayer:
    settings: Settings
    engine: Engine
    rpc: AsyncRpc
    view: ChainView
    store: RequestStore
    nonces: NonceBook
    shards: ShardLeases
    keys: list[RelayerKey]
    stats: Stats = field(default_factory=Stats)  # all shards', across takeovers
    batchers: dict[int, Batcher] = field(default_factory=dict)  # the shards this replica holds
    intake: Intake = field(init=False)
    _running: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    _tenures: dict[int, int] = field(default_factory=dict)  # per shard, one more a start
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Leases are renewed on their own thread: behind the intake's and batchers' database work
    # in the shared pool, a saturated relayer renewed too late, lost its lease to itself and
    # stopped relaying (seen in bench_relay --overload).
    _lease_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="relay-lease")
    )

    @classmethod
    def build(
        cls, settings: Settings, manifest: Manifest, engine: Engine, rpc: AsyncRpc
    ) -> Relayer:
        keys = [RelayerKey(Account.from_key(k.get_secret_value())) for k in settings.relayer_keys]
        if not keys:
            raise ValueError("the relayer needs at least one key (DONGNE_RELAYER_KEYS)")
        count = settings.relayer_shards or len(keys)
        if not 1 <= count <= len(keys):
            raise ValueError(f"relayer_shards={count}: between 1 and one per key ({len(keys)})")
        view = ChainView(rpc, manifest)
        store = RequestStore(engine, manifest.chain_id)
        nonces = NonceBook()
        shards = ShardLeases(engine, settings.replica_id, settings.relayer_lease_ttl_s, count)
        return cls(settings, engine, rpc, view, store, nonces, shards, keys)

    def __post_init__(self) -> None:
        # The intake asks this relayer where each accepted request goes (its Router).
        self.intake = Intake(self.settings, self.view, self.store, self.nonces, self)

    def shard_of(self, signer: str) -> int:
        return shard_of(signer, self.shards.count)

    def owns(self, shard: int) -> bool:
        return shard in self.batchers

    def tenure(self, shard: int) -> int | None:
        return self._tenures.get(shard) if shard in self.batchers else None

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self.intake.run_writer(), name="relay-writer")]
        await asyncio.to_thread(self.store.assign_shards, self.shard_of)
        await self._take_turn()  # a lone replica relays every shard when start returns
        self._tasks.append(asyncio.create_task(self._keep_leases(), name="relay-leases"))

    def route(self, accepted: Accepted | AcceptedPayment) -> None:
        """Hands a request accepted (and held) here to its shard's batcher; if the shard left
        meanwhile, lets go of it: it is stored, and the shard's new owner adopts it."""
        batcher = self.batchers.get(accepted.shard)
        if batcher is not None:
            batcher.accepted.put_nowait(accepted)
            return
        self.nonces.release(accepted.signer, accepted.nonce, used=False, rid=accepted.id)
        self.intake.known.pop(accepted.id, None)

    async def _take_turn(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            held, extra = await loop.run_in_executor(self._lease_thread, self.shards.turn)
        except Exception as exc:  # database unreachable: keep the current shards for now
            log.warning("shard leases not renewed: %s", exc)
            return
        for k in sorted(extra):  # beyond our fair share: stop first, then give it up
            await self._stop_shard(k)
            try:
                await loop.run_in_executor(self._lease_thread, self.shards.release, k)
                log.info("replica %s gave shard %d up", self.replica_id, k)
            except Exception as exc:  # it expires after the TTL instead
                log.warning("shard %d not released: %s", k, exc)
        held -= extra
        for k, task in list(self._running.items()):
            if k not in held or task.done():
                # Lost (another replica took it), or the batcher stopped on a fenced write.
                if task.done():
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        task.result()
                log.warning("replica %s stops relaying shard %d", self.replica_id, k)
                await self._stop_shard(k)
        for k in sorted(held - set(self.batchers)):
            await self._start_shard(k)

    async def _start_shard(self, k: int) -> None:
        # What this replica saw of the shard's signers may be stale (another replica relayed
        # them): ask the forwarder again. A new tenure: a read of it already on its way is
        # not used (Intake._forwarder_nonce).
        self._tenures[k] = self._tenures.get(k, 0) + 1
        for signer in [s for s in self.nonces.chain_next if self.shard_of(s) == k]:
            self.nonces.forget(signer)
        store = RequestStore(self.engine, self.view.manifest.chain_id)
        store.fence = self.shards.leases[k].check  # a deposed owner's writes are refused
        batcher = Batcher(self.settings, self.view, self.rpc, store, self.nonces, self.intake,
                          self.keys[k], shard=k, stats=self.stats)  # fmt: skip
        try:
            await batcher.start()
        except (NodeUnavailableError, RpcError) as exc:  # try again at the next turn
            log.warning("cannot relay shard %d yet: %s", k, exc)
            batcher.reset()
            return
        self.batchers[k] = batcher
        self._running[k] = asyncio.create_task(batcher.run(), name=f"relay-shard-{k}")
        log.info("replica %s relays shard %d (lease epoch %s)", self.replica_id, k,
                 self.shards.leases[k].epoch)  # fmt: skip

    async def _stop_shard(self, k: int) -> None:
        batcher = self.batchers.pop(k, None)
        task = self._running.pop(k, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if batcher is not None:
            batcher.reset()

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.shards.ttl_s / 3)
            await self._take_turn()

    @property
    def replica_id(self) -> str:
        return self.settings.replica_id

    @property
    def relaying(self) -> bool:
        """Whether this replica batches any shard now."""
        return any(not t.done() for t in self._running.values())

    @property
    def leader(self) -> bool:
        """Holds shard 0: the one replica that runs single-writer chores (the sales agent)."""
        task = self._running.get(0)
        return task is not None and not task.done()

    def unfunded(self) -> list[str]:
        return [a for k in sorted(self.batchers) for a in self.batchers[k].unfunded()]

    def ready(self) -> bool:
        """Some key this replica relays with can pay for gas (true while it holds none: its
        requests are relayed by other replicas, which answer for their keys)."""
        return not self.batchers or any(b.ready() for b in self.batchers.values())

    async def stop(self) -> None:
        for task in [*self._tasks, *self._running.values()]:
            task.cancel()
        for task in [*self._tasks, *self._running.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._running.clear()
        self.batchers.clear()
        # A clean stop hands the shards over at once rather than after the TTL.
        with contextlib.suppress(Exception):
            await asyncio.get_running_loop().run_in_executor(
                self._lease_thread, self.shards.release_all
            )

    async def next_payment_nonce(self, token: str, payer: str) -> int:
        """The nonce the payer's next signed payment on ``token`` should carry: its payment
        sequence there past its payments not yet final (memory on the shard's owner, the
        database elsewhere). Only for a city token of this network: any other address would
        leave a nonce-book entry per (payer, address) a stranger cares to ask about."""
        await self.intake.payments.require_token(token)
        held = self.shard_of(payer) in self.batchers
        return await self.intake.payments.expected(token, payer, held=held)

    async def next_nonce(self, signer: str) -> int:
        """The nonce a wallet should sign next, counting its requests not yet final: from
        memory on the shard's owner, from the database elsewhere."""
        if self.shard_of(signer) in self.batchers:
            n = self.nonces.next_free(signer)
            if n is not None:
                return n
            base = await self.view.forwarder_nonce(signer)
            if signer not in self.nonces.chain_next:
                self.nonces.see(signer, base)
            return self.nonces.next_free(signer) or base
        base = await self.view.forwarder_nonce(signer)
        taken = set(await asyncio.to_thread(self.store.live_nonces, signer, base))
        n = base
        while n in taken:
            n += 1
        return n
