"""One local network (anvil, automine, Siheung) for the onboarding suites, and CSV builders.

Every test imports wallets of its own random seed, so tests share the chain without
meeting each other's registrations.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network
from gateway.onboarding import ImportTarget


@pytest.fixture(scope="package")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    net = start_local_network(tmp_path_factory.mktemp("onboarding-net"), (SIHEUNG,))
    yield net
    net.stop()


@pytest.fixture
def target(network: LocalNetwork) -> ImportTarget:
    m = network.manifest
    return ImportTarget(
        m.chain_id, m.registry, m.forwarder, m.token(SIHEUNG.region), SIHEUNG.region
    )


@pytest.fixture
def seed() -> int:
    return secrets.randbits(32)


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()
