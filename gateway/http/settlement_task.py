"""Runs the settlement scheduler (``gateway.audit.settlement_schedule``) inside the gateway,
on the one replica holding the ``settlement`` lease (``gateway.relayer.lease``): replicas
share the database, and one scheduler is enough (two could not issue a window twice anyway,
the window being the batch's key). ``gateway.http.app`` starts it when ``settlement_auto``
is on.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine

from chain.manifest import Manifest
from chain.rpc import RpcClient
from gateway.audit.settlement_schedule import Cutoffs, indexed_time, run_due
from gateway.relayer.lease import Lease
from gateway.settings import Settings

__all__ = ["SETTLEMENT_LEASE", "settle_once", "start_settlement"]

SETTLEMENT_LEASE = "settlement"
log = logging.getLogger(__name__)


def settle_once(settings: Settings, manifest: Manifest, engine: Engine, lease: Lease) -> int:
    """One pass if this replica holds (or takes) the lease; answers the batches issued."""
    if not lease.acquire():
        return 0
    cutoffs = Cutoffs(settings.settlement_cutoff_kst, settings.settlement_cutoffs)
    with RpcClient(settings.rpc_url, timeout=30.0) as rpc:
        reached = indexed_time(engine, manifest.chain_id, rpc)
    if reached is None:
        return 0
    return len(run_due(engine, manifest.chain_id, reached, cutoffs))


async def start_settlement(
    settings: Settings, manifest: Manifest, engine: Engine
) -> asyncio.Task[None]:
    """Starts the scheduler; cancel the returned task to stop."""
    lease = Lease(engine, settings.replica_id, settings.settlement_lease_ttl_s, SETTLEMENT_LEASE)

    async def run() -> None:
        while True:
            try:
                issued = await asyncio.to_thread(settle_once, settings, manifest, engine, lease)
                if issued:
                    log.info("settlement: %d batch(es) issued or released", issued)
            except Exception:  # a node or database outage: the next pass retries
                log.exception("settlement pass failed")
            await asyncio.sleep(settings.settlement_interval_s)

    return asyncio.create_task(run(), name="dongne-settlement")
