"""Both JSON-RPC clients tell their observer of every call, with its own outcome: the hook the
gateway's metrics hang on (chain/ itself knows nothing of Prometheus)."""

from __future__ import annotations

import asyncio

import pytest

from chain.node import LocalNode
from chain.rpc import NodeUnavailableError, RpcClient, RpcError, RpcObserver
from chain.rpc_async import AsyncRpc

Seen = list[tuple[str, float, str | None]]


def _observer(seen: Seen) -> RpcObserver:
    def observe(method: str, seconds: float, error: BaseException | None) -> None:
        seen.append((method, seconds, None if error is None else type(error).__name__))

    return observe


def test_the_sync_client_reports_each_call_and_each_call_of_a_batch(
    anvil_session: LocalNode,
) -> None:
    seen: Seen = []
    with RpcClient(anvil_session.rpc_url, observer=_observer(seen)) as rpc:
        rpc.block_number()
        with pytest.raises(RpcError):
            rpc.batch([("eth_chainId", []), ("dongne_noSuchMethod", [])])
    assert [(m, e) for m, _s, e in seen] == [
        ("eth_blockNumber", None),
        ("eth_chainId", None),
        ("dongne_noSuchMethod", "RpcError"),
    ]
    assert all(s > 0 for _m, s, _e in seen)


def test_the_async_client_reports_coalesced_calls_and_an_unreachable_node(
    anvil_session: LocalNode,
) -> None:
    seen: Seen = []

    async def run() -> None:
        rpc = AsyncRpc(anvil_session.rpc_url, observer=_observer(seen))
        # Two calls in one turn of the loop: one HTTP batch, each reported with its outcome.
        results = await asyncio.gather(
            rpc.call("eth_chainId"), rpc.call("dongne_noSuchMethod"), return_exceptions=True
        )
        assert isinstance(results[1], RpcError)
        await rpc.batch([("eth_blockNumber", [])])
        await rpc.close()
        down = AsyncRpc("http://127.0.0.1:9", observer=_observer(seen))
        with pytest.raises(NodeUnavailableError):
            await down.call("eth_blockNumber")
        await down.close()

    asyncio.run(run())
    assert [(m, e) for m, _s, e in seen] == [
        ("eth_chainId", None),
        ("dongne_noSuchMethod", "RpcError"),
        ("eth_blockNumber", None),
        ("eth_blockNumber", "NodeUnavailableError"),
    ]
