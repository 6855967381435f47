"""Shared pytest fixtures. Each section belongs to the module it serves; add yours below."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from chain.node import LocalNode
from chain.toolchain import ToolchainMissingError, tool_path
from gateway.db import upgrade

# --- node fixtures (chain.node) ---
# Every fixture starts its own node on a free port, so tests never share chain state by accident
# and can run in parallel. Automine keeps tests simple; load tests must not rely on it (see
# LocalNode).

# Fixtures shared by every suite (one of each: databases, wallets, sign-in).
pytest_plugins = ["tests.fixtures.databases"]


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


# --- database fixtures (gateway.db) ---
# The PostgreSQL suites run wherever PostgreSQL is reachable (always in CI) and skip with a
# message naming DONGNE_TEST_POSTGRES_URL elsewhere. Each test gets its own schema.

POSTGRES_ENV = "DONGNE_TEST_POSTGRES_URL"
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"

PostgresSchema = Callable[[], AbstractContextManager[Engine]]


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test database, or a skip saying how to enable the suite."""
    parsed = make_url(os.environ.get(POSTGRES_ENV, POSTGRES_DEFAULT))
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    url = parsed.render_as_string(hide_password=False)
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL unreachable at {url} ({type(exc).__name__}); set {POSTGRES_ENV}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_schema(postgres_admin: Engine) -> PostgresSchema:
    """A factory: `with postgres_schema() as engine` gives an engine whose search path is a
    fresh, migrated schema, dropped afterwards."""

    @contextmanager
    def schema() -> Iterator[Engine]:
        name = f"t_{secrets.token_hex(6)}"
        with postgres_admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {name}"))
        engine = create_engine(
            postgres_admin.url, connect_args={"options": f"-csearch_path={name}"}
        )
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
            with postgres_admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {name} CASCADE"))

    return schema
