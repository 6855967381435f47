"""Issue 17: a new signer's identity, forwarder nonce and simulation go to the node in one
JSON-RPC batch (one HTTP round trip instead of two in a row), and every check keeps its own
answer: a refused identity is refused with its code even when the simulation asked in the same
batch failed too. A real intake against the package's anvil, the HTTP posts counted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chain.rpc_async import AsyncRpc
from gateway.db import create_engine_for
from gateway.db.tables.relayer import QUEUED
from gateway.devnet.localnet import LocalNetwork
from gateway.errors import GatewayError
from gateway.relayer.chainview import ChainView
from gateway.relayer.intake import Intake, LoneRouter, NonceBook
from gateway.relayer.store import RequestStore
from gateway.settings import Settings
from tests.fixtures.wallets import new_wallet

from .conftest import People


class CountingRpc(AsyncRpc):
    """The node client, every HTTP post it makes kept."""

    posts: list[object]

    async def _post(self, payload: object) -> object:
        self.posts.append(payload)
        return await super()._post(payload)


def _submit(
    network: LocalNetwork, tmp_path: Path, body: dict[str, str]
) -> tuple[tuple[str, str, bool] | GatewayError, list[object]]:
    m = network.manifest
    engine = create_engine_for(f"sqlite:///{tmp_path / 'gateway.db'}")

    async def scenario() -> tuple[str, str, bool] | GatewayError:
        rpc = CountingRpc(network.rpc_url)
        rpc.posts = posts
        store = RequestStore(engine, m.chain_id)
        intake = Intake(Settings(), ChainView(rpc, m), store, NonceBook(), LoneRouter())
        writer = asyncio.create_task(intake.run_writer())
        try:
            return await intake.submit(body)
        except GatewayError as refused:
            return refused
        finally:
            writer.cancel()
            await rpc.close()

    posts: list[object] = []
    try:
        return asyncio.run(scenario()), posts
    finally:
        engine.dispose()


def _methods(post: object) -> list[str]:
    calls = post if isinstance(post, list) else [post]
    return [str(call["method"]) for call in calls]


def test_a_new_signers_checks_and_simulation_take_one_round_trip(
    network: LocalNetwork, people: People, tmp_path: Path
) -> None:
    answer, posts = _submit(network, tmp_path, people.pay(people.citizens[1], 1_000, 0))
    assert not isinstance(answer, GatewayError), answer
    assert answer[1:] == (QUEUED, True)
    # identityOf, nonces, and the simulated pay: one post.
    assert [_methods(p) for p in posts] == [["eth_call", "eth_call", "eth_call"]]


@pytest.mark.parametrize("who", ["unregistered", "frozen"])
def test_a_refused_identity_keeps_its_code_when_the_simulation_also_fails(
    network: LocalNetwork, people: People, tmp_path: Path, who: str
) -> None:
    if who == "frozen":
        wallet = people.citizens[2]
        network.operator.set_frozen(network.manifest.registry, wallet.address, True)
    else:
        wallet = new_wallet()  # holds nothing: its payment must revert as well
    # More than anyone holds: the simulation in the same batch reverts.
    answer, posts = _submit(network, tmp_path, people.pay(wallet, 10_000_000, 0))
    assert isinstance(answer, GatewayError), answer
    expected = {"unregistered": ("SignerUnregistered", 403), "frozen": ("SignerFrozen", 403)}
    assert (answer.code, answer.status) == expected[who]
    assert [_methods(p) for p in posts] == [["eth_call", "eth_call", "eth_call"]]
