"""Shared pytest fixtures. Each section belongs to the module it serves; add yours below."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chain.node import LocalNode
from chain.toolchain import ToolchainMissingError, tool_path

# --- node fixtures (chain.node) ---
# Every fixture starts its own node on a free port, so tests never share chain state by accident
# and can run in parallel. Automine keeps tests simple; load tests must not rely on it (see
# LocalNode).


@pytest.fixture
def anvil() -> Iterator[LocalNode]:
    """A fresh anvil (chain id 31337, automine, dev mnemonic) for one test."""
    with LocalNode("anvil") as node:
        yield node


@pytest.fixture(scope="session")
def anvil_session() -> Iterator[LocalNode]:
    """One anvil for the whole session: for read-only tests, or isolate with snapshot/revert."""
    with LocalNode("anvil") as node:
        yield node


@pytest.fixture
def ganache() -> Iterator[LocalNode]:
    """A fresh ganache for one test; skipped when ganache is not installed."""
    try:
        tool_path("ganache")
    except ToolchainMissingError as exc:
        pytest.skip(f"ganache is not installed: {exc}")
    with LocalNode("ganache") as node:
        yield node
