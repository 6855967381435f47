"""The one Prometheus registry of a gateway process, with process and build information.

Every counter and histogram of the package is registered here when its module is imported;
state that already lives in memory (queue depths, key balances, indexer lag) is read at scrape
time instead (``scrape``), so the hot paths keep no second copy of it.
"""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, PlatformCollector, ProcessCollector

__all__ = ["BUILD_INFO", "REGISTRY", "build_commit", "build_version"]

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_cpu_seconds_total, process_resident_memory_bytes...
PlatformCollector(registry=REGISTRY)  # python_info

BUILD_INFO = Gauge(
    "dongne_build_info", "the running gateway's version and commit (always 1)",
    ["version", "commit"], registry=REGISTRY,
)  # fmt: skip


def build_version() -> str:
    try:
        return version("dongne")
    except PackageNotFoundError:
        return "unknown"


@lru_cache(maxsize=1)
def build_commit() -> str:
    """``DONGNE_COMMIT`` (set by an image build), else the checkout's HEAD, else "unknown"."""
    commit = os.environ.get("DONGNE_COMMIT")
    if commit:
        return commit
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


BUILD_INFO.labels(version=build_version(), commit=build_commit()).set(1)
