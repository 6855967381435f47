"""The benchmarks' account of where the cores went (gateway.devnet.cpu.CpuShare)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from gateway.devnet.cpu import CpuShare

BUSY = "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end: pass\n"


def test_a_busy_process_tree_is_counted_under_its_role() -> None:
    # A child of the busy root counts under the root's role, as the gateway's workers would.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BUSY!r}])",
        ]
    )
    try:
        time.sleep(0.5)  # the child is running
        with CpuShare({"busy": parent.pid}) as cpu:
            time.sleep(1.5)
        cores = cpu.cores()
    finally:
        parent.kill()
        for child in psutil.Process().children(recursive=True):
            child.kill()
    # One spinning process takes up to a core; a shared machine leaves it well over a third.
    # Without the walk up to the root it would count as "other".
    assert cores["busy"] > 0.35, cores
    assert cores["idle"] >= 0, cores
