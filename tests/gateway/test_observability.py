"""The metrics that no end-to-end run provokes on its own: database errors counted where
SQLAlchemy sees them, JSON-RPC errors by kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from chain.rpc import NodeUnavailableError, RpcError
from gateway.observability.db_metrics import DB_ERRORS, instrument_engine
from gateway.observability.registry import REGISTRY
from gateway.observability.rpc_metrics import observe_rpc


def _value(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_database_errors_are_counted_by_kind_once_per_engine(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    instrument_engine(engine)
    instrument_engine(engine)  # idempotent: one count per error, not two
    before = _value("dongne_db_errors_total", kind="OperationalError")
    with engine.connect() as conn, pytest.raises(OperationalError):
        conn.execute(text("SELECT * FROM no_such_table"))
    assert _value("dongne_db_errors_total", kind="OperationalError") == before + 1
    assert DB_ERRORS.labels(kind="IntegrityError") is not None
    engine.dispose()


def test_rpc_errors_are_counted_by_method_and_kind() -> None:
    method = "eth_testObserved"
    observe_rpc(method, 0.002, None)
    assert _value("dongne_rpc_errors_total", method=method, kind="rpc") == 0  # exists at 0
    observe_rpc(method, 0.003, RpcError(method, 3, "execution reverted"))
    observe_rpc(method, 0.004, NodeUnavailableError("http://node", "refused"))
    assert _value("dongne_rpc_calls_total", method=method) == 3
    assert _value("dongne_rpc_errors_total", method=method, kind="rpc") == 1
    assert _value("dongne_rpc_errors_total", method=method, kind="unavailable") == 1
    assert _value("dongne_rpc_duration_seconds_sum", method=method) == pytest.approx(0.009)
