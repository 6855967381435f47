"""Readiness probes: can this replica do its work now? The node answers, the database answers,
and (where this replica indexes) the index is not further behind the head than allowed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text

from chain.rpc import NodeUnavailableError, RpcError
from chain.rpc_async import AsyncRpc
from gateway.indexer.follower import Indexer, IndexLag

__all__ = ["Probes", "probe"]


@dataclass(frozen=True, slots=True)
class Probes:
    node: bool
    database: bool
    indexer: bool | None  # None: this replica does not index (a separate process does)
    lag: IndexLag | None

    @property
    def ok(self) -> bool:
        return self.node and self.database and self.indexer is not False


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def _node(rpc: AsyncRpc, timeout: float) -> bool:
    try:
        await asyncio.wait_for(rpc.call("eth_blockNumber"), timeout)
    except (NodeUnavailableError, RpcError, TimeoutError):
        return False
    return True


async def _database(engine: Engine, timeout: float) -> bool:
    try:
        # A thread left waiting on an unreachable server ends with its connect timeout.
        await asyncio.wait_for(asyncio.to_thread(_ping, engine), timeout)
    except Exception:  # any failure to answer SELECT 1 is "not reachable" to a load balancer
        return False
    return True


async def probe(
    rpc: AsyncRpc,
    engine: Engine,
    indexer: Indexer | None,
    *,
    timeout: float,
    max_index_lag_s: float,
) -> Probes:
    """Both probes at once, each bounded by ``timeout`` seconds."""
    node, database = await asyncio.gather(_node(rpc, timeout), _database(engine, timeout))
    if indexer is None:
        return Probes(node, database, None, None)
    lag = indexer.lag(time.time())
    return Probes(node, database, lag.seconds <= max_index_lag_s, lag)
