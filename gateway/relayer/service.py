"""Wires the relayer's parts together and runs them for the app's lifetime.

Replicas on one database are active-passive for relaying (queries are served by all): the
holder of the batcher lease (gateway.relayer.lease) accepts, batches and writes outcomes; the
others answer ``POST /v1/requests`` with 503 ``NotReady`` and fail readiness, so a load balancer
sends relaying to the holder. When it stops renewing, another takes over after the lease's TTL
and resumes from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from chain.manifest import Manifest
from chain.rpc import NodeUnavailableError, RpcError
from chain.rpc_async import AsyncRpc
from gateway.relayer.batcher import Batcher
from gateway.relayer.chainview import ChainView
from gateway.relayer.intake import Accepted, Intake, NonceBook
from gateway.relayer.lease import Lease
from gateway.relayer.store import RequestStore
from gateway.settings import Settings

log = logging.getLogger("dongne.relayer")


@dataclass
class Relayer:
    view: ChainView
    store: RequestStore
    intake: Intake
    batcher: Batcher
    nonces: NonceBook
    lease: Lease
    _tasks: list[asyncio.Task[None]]
    _batching: asyncio.Task[None] | None = None
    # The lease is renewed on its own thread: behind the intake's and batcher's database
    # work in the shared pool, a saturated relayer renewed it too late, lost it to itself
    # and stopped relaying (seen in bench_relay --overload).
    _lease_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="relay-lease")
    )

    @classmethod
    def build(
        cls, settings: Settings, manifest: Manifest, engine: Engine, rpc: AsyncRpc
    ) -> Relayer:
        keys: list[LocalAccount] = [
            Account.from_key(k.get_secret_value()) for k in settings.relayer_keys
        ]
        view = ChainView(rpc, manifest)
        store = RequestStore(engine, manifest.chain_id)
        lease = Lease(engine, settings.replica_id, settings.relayer_lease_ttl_s)
        store.fence = lease.check  # a deposed replica's writes are refused
        nonces = NonceBook()
        accepted: asyncio.Queue[Accepted] = asyncio.Queue()
        intake = Intake(settings, view, store, nonces, accepted)
        batcher = Batcher(settings, view, rpc, store, nonces, intake, accepted, keys)
        intake.funded = batcher.ready
        return cls(view, store, intake, batcher, nonces, lease, [])

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self.intake.run_writer(), name="relay-writer")]
        self.intake.active = False  # until this replica holds the lease
        await self._take_turn()  # a lone replica is relaying when start returns
        self._tasks.append(asyncio.create_task(self._keep_lease(), name="relay-lease"))

    async def _take_turn(self) -> None:
        """Holds (or renews) the batcher lease and runs the batcher while it does; steps down
        to standby, forgetting its in-memory work, the moment it does not."""
        try:
            loop = asyncio.get_running_loop()
            held = await loop.run_in_executor(self._lease_thread, self.lease.acquire)
        except Exception as exc:  # database unreachable: keep the current role for now
            log.warning("batcher lease not renewed: %s", exc)
            return
        if held and self._batching is None:
            log.info("replica %s relays (lease epoch %s)", self.lease.owner, self.lease.epoch)
            try:
                await self.batcher.start()
            except (NodeUnavailableError, RpcError) as exc:  # try again at the next turn
                log.warning("cannot resume relaying yet: %s", exc)
                self.batcher.reset()
                return
            self._batching = asyncio.create_task(self.batcher.run(), name="relay-batcher")
            self.intake.active = True
        elif not held and (self._batching is not None or self.intake.active):
            log.warning("replica %s is on standby: another holds the lease", self.lease.owner)
            await self._stop_batching()
            self.intake.active = False

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self.lease.ttl_s / 3)
            await self._take_turn()
            if self._batching is not None and self._batching.done():
                # LeaseLostError inside a write ended the batcher: on standby until the lease
                # says otherwise.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    self._batching.result()
                await self._stop_batching()
                self.intake.active = False

    async def _stop_batching(self) -> None:
        task, self._batching = self._batching, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.batcher.reset()

    @property
    def relaying(self) -> bool:
        return self._batching is not None and not self._batching.done()

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._batching] if self._batching else [])]:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._batching = None

    def next_nonce(self, signer: str) -> int | None:
        """The nonce a wallet should sign next, if this replica knows the signer."""
        return self.nonces.next_free(signer)
