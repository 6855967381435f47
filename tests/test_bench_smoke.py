"""The benchmark scripts run end to end (``--smoke``) and end with the JSON line the benchmark
collector reads. Figures are not asserted here: they are the benchmarks' business."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from chain.toolchain import ToolchainMissingError, tool_path

ROOT = Path(__file__).resolve().parents[1]
GAS_RATIOS = {"direct_payment", "relayed_payment", "relayed_batch_payment"}
OVERLOAD_METRICS = {
    "overload_accepted_vs_capacity",
    "overload_refuse_p99_ms",
    "overload_p99_accept_ms",
    "overload_lost",
}
DISTRIBUTION_METRICS = {
    "create_program_gas",
    "close_program_gas",
    "tree_build_1m_s",
    "push_100k_chain_s",
}

pytestmark = pytest.mark.slow


def run_smoke(script: str, *options: str) -> dict[str, object]:
    """Runs ``scripts/<script> --smoke [options]``; returns its last line, parsed."""
    for tool in ("forge", "anvil"):
        try:
            tool_path(tool)
        except ToolchainMissingError as exc:
            pytest.skip(f"{tool} is not installed: {exc}")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--smoke", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # the smoke runs take well under a minute once forge's build is current
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-4000:]}"
    last = done.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    assert isinstance(result, dict)
    assert {"name", "metrics", "baselines", "ratios"} <= result.keys()
    return result


def assert_positive_ratios(ratios: object) -> None:
    assert isinstance(ratios, dict)
    for name, ratio in ratios.items():
        assert isinstance(ratio, int | float), name
        assert not isinstance(ratio, bool), name
        assert math.isfinite(ratio), name
        assert ratio > 0, name


def test_bench_gas_smoke_matches_the_snapshot() -> None:
    # --check fails the run when a figure grew past the tolerance of the committed
    # contracts/gas-snapshot.json: a gas regression fails CI (refresh it with --snapshot).
    result = run_smoke("bench_gas.py", "--check")
    assert result["name"] == "gas"
    ratios = result["ratios"]
    assert isinstance(ratios, dict)
    assert ratios.keys() >= GAS_RATIOS
    assert_positive_ratios(ratios)


def test_bench_distribution_smoke() -> None:
    result = run_smoke("bench_distribution.py")
    assert result["name"] == "distribution"
    metrics, ratios = result["metrics"], result["ratios"]
    assert isinstance(metrics, dict)
    assert isinstance(ratios, dict)
    assert metrics.keys() >= DISTRIBUTION_METRICS
    assert "grant_per_recipient" in ratios
    assert_positive_ratios(ratios)
    # The commit costs the same whatever the list size: that is what makes 1M recipients cheap.
    create = metrics["create_program_gas"]
    assert isinstance(create, dict)
    # Only calldata may differ: a zero byte in the root costs 4 gas instead of 16.
    assert max(create.values()) - min(create.values()) <= 12 * 32


def test_bench_onboarding_smoke() -> None:
    result = run_smoke("bench_onboarding.py")
    assert result["name"] == "onboarding"
    metrics, ratios = result["metrics"], result["ratios"]
    assert isinstance(metrics, dict)
    assert isinstance(ratios, dict)
    assert metrics["resident_rows"] == 2_000
    assert metrics["merchant_rows"] == 200
    assert_positive_ratios(ratios)
    # Batched, a row costs less gas than its own transaction (21,000 gas of it is the base fee).
    assert ratios["resident_gas_per_row"] < 1
    assert ratios["merchant_gas_per_row"] < 1


def test_bench_observability_smoke() -> None:
    result = run_smoke("bench_observability.py")
    assert result["name"] == "observability"
    metrics = result["metrics"]
    assert isinstance(metrics, dict)
    assert metrics.keys() >= {"middleware_metrics_us", "intake_histogram_us", "rpc_observer_us"}
    assert_positive_ratios(result["ratios"])


def test_bench_relay_smoke() -> None:
    result = run_smoke("bench_relay.py")
    assert result["name"] == "relay"
    metrics = result["metrics"]
    assert isinstance(metrics, dict)
    assert metrics.keys() >= {"final_per_s", "p99_accept_ms_at_70pct"}
    assert isinstance(result["ratios"], dict)
    assert result["ratios"].keys() >= {"vs_raw_transfers"}
    # Not a figure but the contract: every accepted request ran once and is final.
    assert metrics["lost"] == 0
    assert metrics["not_final"] == 0


def test_bench_relay_overload_smoke() -> None:
    result = run_smoke("bench_relay.py", "--overload")
    assert result["name"] == "relay_overload"
    metrics = result["metrics"]
    assert isinstance(metrics, dict)
    assert metrics.keys() >= OVERLOAD_METRICS
    assert metrics["accepted"] > 0
    # Not a figure but the contract: every accepted request ran once and is final.
    assert metrics["overload_lost"] == 0
    assert metrics["overload_not_final"] == 0


def test_bench_indexer_smoke() -> None:
    result = run_smoke("bench_indexer.py")
    assert result["name"] == "indexer"
    ratios = result["ratios"]
    assert isinstance(ratios, dict)
    assert ratios.keys() >= {"sqlite_vs_raw", "postgres_vs_raw"}
    # PostgreSQL's figure is None where no server answers (the bench says so on stderr).
    assert_positive_ratios({k: v for k, v in ratios.items() if v is not None})
