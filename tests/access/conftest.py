"""One engine fixture for the access suites, on SQLite and (where reachable) PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gateway.db import create_engine_for
from tests.conftest import PostgresSchema


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_engine_for(f"sqlite:///{tmp_path / 'access.db'}")
        yield engine
        engine.dispose()
    else:
        schema: PostgresSchema = request.getfixturevalue("postgres_schema")
        with schema() as engine:
            yield engine
