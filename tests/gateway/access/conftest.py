"""The access suites run on each database backend (``db_engine``, tests.fixtures.databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    return db_engine
