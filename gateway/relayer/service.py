"""Wires the relayer's parts together and runs them for the app's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from chain.manifest import Manifest
from chain.rpc_async import AsyncRpc
from gateway.relayer.batcher import Batcher
from gateway.relayer.chainview import ChainView
from gateway.relayer.intake import Accepted, Intake, NonceBook
from gateway.relayer.store import RequestStore
from gateway.settings import Settings


@dataclass
class Relayer:
    view: ChainView
    store: RequestStore
    intake: Intake
    batcher: Batcher
    nonces: NonceBook
    _tasks: list[asyncio.Task[None]]

    @classmethod
    def build(
        cls, settings: Settings, manifest: Manifest, engine: Engine, rpc: AsyncRpc
    ) -> Relayer:
        keys: list[LocalAccount] = [
            Account.from_key(k.get_secret_value()) for k in settings.relayer_keys
        ]
        view = ChainView(rpc, manifest)
        store = RequestStore(engine, manifest.chain_id)
        nonces = NonceBook()
        accepted: asyncio.Queue[Accepted] = asyncio.Queue()
        intake = Intake(settings, view, store, nonces, accepted)
        batcher = Batcher(settings, view, rpc, store, nonces, intake, accepted, keys)
        intake.funded = batcher.ready
        return cls(view, store, intake, batcher, nonces, [])

    async def start(self) -> None:
        await self.batcher.start()
        self._tasks = [
            asyncio.create_task(self.intake.run_writer(), name="relay-writer"),
            asyncio.create_task(self.batcher.run(), name="relay-batcher"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def next_nonce(self, signer: str) -> int | None:
        """The nonce a wallet should sign next, if this replica knows the signer."""
        return self.nonces.next_free(signer)
