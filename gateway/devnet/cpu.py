"""Where the machine's cores went while a benchmark ran: CPU seconds spent by each role (the
gateway's process tree, the node, the benchmark's own process, PostgreSQL, everything else)
per second of wall time, so a throughput figure says whether the gateway was the bottleneck or
shared its cores with the node and the load generator on the same machine."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import psutil

__all__ = ["CpuShare"]

# Named roles come first: the node is started by the benchmark's process, but is not it.
_BY_NAME = (("anvil", "node"), ("postgres", "postgres"))


class CpuShare:
    """``with CpuShare({"gateway": pid, "bench": os.getpid()}) as cpu: ...`` then
    ``cpu.cores()``: cores used by each role over the block (``idle`` is what was left of
    ``os.cpu_count()``). A process that exits inside the block takes its seconds with it."""

    def __init__(self, roots: Mapping[str, int]) -> None:
        self._roots = {pid: role for role, pid in roots.items()}
        self._start: dict[tuple[int, float], tuple[str, float]] = {}
        self._end: dict[tuple[int, float], tuple[str, float]] = {}
        self._wall = 0.0

    def __enter__(self) -> Self:
        self._start = self._sample()
        self._wall = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end = self._sample()
        self._wall = time.monotonic() - self._wall

    def cores(self) -> dict[str, float]:
        used: dict[str, float] = dict.fromkeys([*self._roots.values(), "node", "postgres"], 0.0)
        used["other"] = 0.0
        for key, (role, seconds) in self._end.items():
            used[role] += seconds - self._start.get(key, (role, 0.0))[1]
        wall = self._wall or 1.0
        out = {role: round(seconds / wall, 2) for role, seconds in used.items()}
        out["idle"] = round(max(0.0, (os.cpu_count() or 1) - sum(out.values())), 2)
        return out

    def _sample(self) -> dict[tuple[int, float], tuple[str, float]]:
        """(pid, start time) -> (role, CPU seconds so far): the start time tells a pid reused
        inside the block from the process it had at the start."""
        found: dict[tuple[int, float], tuple[str, float]] = {}
        for proc in psutil.process_iter(["name", "create_time", "cpu_times"]):
            info = proc.info
            times = info["cpu_times"]
            if times is None:  # gone, or not ours to read
                continue
            key = (proc.pid, float(info["create_time"]))
            found[key] = (self._role(proc), float(times.user + times.system))
        return found

    def _role(self, proc: psutil.Process) -> str:
        name = str(proc.info.get("name") or "")
        named = next((role for key, role in _BY_NAME if key in name), None)
        if named is not None:
            return named
        try:
            for pid in [proc.pid, *(p.pid for p in proc.parents())]:
                if pid in self._roots:
                    return self._roots[pid]
        except psutil.Error:  # gone meanwhile
            pass
        return "other"
