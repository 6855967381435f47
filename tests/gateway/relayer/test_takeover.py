"""A shard taken over while a request of it is being checked: the forwarder nonce this replica
read before the takeover is not the one it checks against after it (review finding).

The intake asks a new signer's forwarder nonce ahead, beside the identity check, outside the
signer's lock. A read already answered when the replica started relaying the signer's shard
(and forgot what it had seen of its signers) predates the old owner's last batch; used, it put
the request behind a nonce gap that was not there: parked, unsimulated, until the nonce was
read again. Replayed here on a real intake against the package's anvil, the interleaving held
by events: the identity check (batched with the nonce read ahead) is held until the old owner
has executed the signer's previous request on chain and the shard has changed hands.

The request's simulation, asked in that same batch (issue 17), ran on the state before the old
owner's batch too: it is not used either (a payment that the earlier one left no money for
would be relayed to revert, at the relayer's cost).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chain.protocol.forwarder import encode_execute, signed_request_from_json
from chain.rpc_async import AsyncRpc
from gateway.db import create_engine_for
from gateway.db.tables.relayer import QUEUED
from gateway.devnet.localnet import LocalNetwork
from gateway.errors import GatewayError
from gateway.relayer.chainview import ChainView
from gateway.relayer.intake import Accepted, Intake, NonceBook
from gateway.relayer.store import RequestStore
from gateway.settings import Settings

from .conftest import People


class HeldIdentity(ChainView):
    """The chain view, with each identity answer held (after its real read) until released."""

    read: asyncio.Event
    release: asyncio.Event

    async def identity(self, account: str) -> tuple[int, bool]:
        value = await super().identity(account)
        self.read.set()
        await self.release.wait()
        return value


class TakenOver:
    """One shard; relayed here from the start or not; ``take_over`` does what
    ``Relayer._start_shard`` does to the intake's view: a new tenure, the signers forgotten."""

    def __init__(self, nonces: NonceBook, *, owned: bool) -> None:
        self.nonces = nonces
        self.turn: int | None = 1 if owned else None
        self.routed: list[Accepted] = []

    def take_over(self) -> None:
        self.turn = (self.turn or 0) + 1
        for signer in list(self.nonces.chain_next):
            self.nonces.forget(signer)

    def shard_of(self, signer: str) -> int:
        return 0

    def owns(self, shard: int) -> bool:
        return self.turn is not None

    def tenure(self, shard: int) -> int | None:
        return self.turn

    def ready(self) -> bool:
        return True

    def route(self, accepted: Accepted) -> None:
        self.routed.append(accepted)


Outcome = tuple[str, TakenOver, NonceBook] | GatewayError


def _across_a_takeover(
    network: LocalNetwork,
    people: People,
    tmp_path: Path,
    *,
    owned: bool,
    first: int = 1_000,
    then: int = 1_000,
) -> Outcome:
    """Nonce 1 of a citizen (paying ``then``) submitted while the old owner relays nonce 0
    (paying ``first``) and the shard changes hands: the status it is accepted with, or the
    refusal."""
    m, wallet = network.manifest, people.citizens[0]
    relayed_by_old_owner = signed_request_from_json(people.pay(wallet, first, 0))
    second = people.pay(wallet, then, 1)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'gateway.db'}")

    async def scenario() -> Outcome:
        rpc = AsyncRpc(network.rpc_url)
        view = HeldIdentity(rpc, m)
        view.read, view.release = asyncio.Event(), asyncio.Event()
        nonces = NonceBook()
        router = TakenOver(nonces, owned=owned)
        intake = Intake(Settings(), view, RequestStore(engine, m.chain_id), nonces, router)
        writer = asyncio.create_task(intake.run_writer())
        try:
            submitted = asyncio.create_task(intake.submit(second))
            await view.read.wait()  # what was asked ahead with it is answered: nonce 0
            # Meanwhile the old owner relays nonce 0, and this replica takes the shard.
            await asyncio.to_thread(
                network.operator.send_calls,
                [(m.forwarder, encode_execute(relayed_by_old_owner))],
                "the old owner's batch",
            )
            router.take_over()
            view.release.set()
            try:
                _rid, status, new = await submitted
            except GatewayError as refused:
                return refused
            assert new
            return status, router, nonces
        finally:
            writer.cancel()
            await rpc.close()

    try:
        return asyncio.run(scenario())
    finally:
        engine.dispose()


@pytest.mark.parametrize("owned", [True, False], ids=["retaken", "taken"])
def test_a_nonce_read_before_a_takeover_is_not_used_after_it(
    network: LocalNetwork, people: People, tmp_path: Path, owned: bool
) -> None:
    outcome = _across_a_takeover(network, people, tmp_path, owned=owned)
    assert not isinstance(outcome, GatewayError), outcome
    status, router, nonces = outcome
    assert status == QUEUED
    # Checked against the forwarder's nonce after the takeover: next in line, not parked.
    assert nonces.chain_next[people.citizens[0].address] == 1
    assert nonces.parked() == 0
    assert [a.simulated for a in router.routed] == [True]


def test_a_simulation_asked_before_the_earlier_request_ran_is_not_used(
    network: LocalNetwork, people: People, tmp_path: Path
) -> None:
    # The old owner's payment spends the whole ₩100,000 (₩10,000 comes back as cashback): a
    # payment of ₩20,000 must revert after it, so it is refused, though it passed before it.
    outcome = _across_a_takeover(network, people, tmp_path, owned=True, first=100_000, then=20_000)
    assert isinstance(outcome, GatewayError), outcome
    assert (outcome.code, outcome.status) == ("VoucherInsufficientBalance", 422)
