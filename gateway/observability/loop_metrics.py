"""How long the one event loop was held: garbage-collection pauses and the loop's lag.

The gateway is one asyncio process: anything that holds the loop (a full garbage collection,
a batch being built and signed, a big receipt decoded) delays every request in it at once, and
under load those stalls, not any request's own work, set the acceptance p99. Both are cheap to
watch: the collector calls back around each collection, and a task that sleeps
``_LAG_PERIOD_S`` at a time notes how late it wakes.
"""

from __future__ import annotations

import asyncio
import gc
import time

from prometheus_client import Histogram

from gateway.observability.registry import REGISTRY

__all__ = ["GC_PAUSE_SECONDS", "LOOP_LAG_SECONDS", "watch_gc", "watch_loop_lag"]

_STALL_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5)
GC_PAUSE_SECONDS = Histogram(
    "dongne_gc_pause_seconds", "garbage collections (the process stops for them), by generation",
    ["generation"], registry=REGISTRY, buckets=_STALL_BUCKETS,
)  # fmt: skip
LOOP_LAG_SECONDS = Histogram(
    "dongne_event_loop_lag_seconds",
    "how late the event loop ran a timer due every 50 ms (time it was held by something else)",
    registry=REGISTRY, buckets=_STALL_BUCKETS,
)  # fmt: skip

_LAG_PERIOD_S = 0.05
_pauses = [GC_PAUSE_SECONDS.labels(generation=str(g)) for g in range(3)]
_started: list[float] = []


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
    elif _started:
        _pauses[info["generation"]].observe(time.perf_counter() - _started[0])


def watch_gc() -> None:
    """Times every collection from now on (once per process)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


async def watch_loop_lag() -> None:
    """Runs until cancelled, noting how late each 50 ms timer fired."""
    while True:
        due = time.perf_counter() + _LAG_PERIOD_S
        await asyncio.sleep(_LAG_PERIOD_S)
        LOOP_LAG_SECONDS.observe(max(0.0, time.perf_counter() - due))
