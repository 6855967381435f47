"""Runs the indexer inside the gateway app (``gateway.http.app`` starts it unless
``embedded_indexer`` is off).

The follower is synchronous (SQLAlchemy, ``chain.rpc``), so it runs in a worker thread; the
asyncio task that owns the thread stops it through an event and waits for the range being
written to commit before the app disposes the engine.
"""

from __future__ import annotations

import asyncio
import threading

from fastapi import FastAPI
from sqlalchemy import Engine

from chain.manifest import Manifest
from chain.rpc import RpcClient
from gateway.indexer.follower import Indexer
from gateway.observability.rpc_metrics import observe_rpc
from gateway.settings import Settings

__all__ = ["start_indexer"]


async def start_indexer(
    app: FastAPI, settings: Settings, manifest: Manifest, engine: Engine
) -> asyncio.Task[None]:
    """Starts following the chain; cancel the returned task to stop."""
    rpc = RpcClient(settings.rpc_url, observer=observe_rpc)
    indexer = Indexer.from_settings(settings, engine, rpc, manifest)
    app.state.indexer = indexer
    stop = threading.Event()

    async def run() -> None:
        worker = asyncio.ensure_future(asyncio.to_thread(indexer.run_forever, stop))
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            stop.set()
            await worker
            raise
        finally:
            rpc.close()

    return asyncio.create_task(run(), name="dongne-indexer")
