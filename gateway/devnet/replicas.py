"""N gateway replicas on one port, for `dongne gateway --replicas N`, tests and benchmarks.

Each replica is its own process (its own event loop and CPU, the point of scaling out) running
uvicorn on a socket it binds itself with SO_REUSEPORT, so the kernel spreads connections over
the replicas and none of them is a front process. Not uvicorn's ``--workers``: its workers
share one environment, and each replica needs its own ``DONGNE_REPLICA_ID`` (the shard leases
and heartbeats are per replica, gateway.relayer.shards). Every replica gets all the relayer
keys; a key is used only by the replica holding its shard.

The supervisor restarts a replica that exits, under the same id, so it resumes its shards at
once rather than after the lease TTL.

Child entry point: ``python -m gateway.devnet.replicas --host H --port P``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from gateway.devnet.process import stop_processes, wait_healthy

__all__ = ["ReplicaSet", "reuseport_socket"]


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that other processes may bind to the same port too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


class ReplicaSet:
    """``count`` gateway processes on ``host:port`` with ids ``<base_id>-<i>``."""

    def __init__(
        self,
        env: Mapping[str, str],
        count: int,
        *,
        port: int,
        host: str = "127.0.0.1",
        base_id: str | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.env = dict(env)
        self.count = count
        self.host = host
        self.port = port
        self.base_id = base_id or self.env.get("DONGNE_REPLICA_ID") or socket.gethostname()
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def replica_id(self, i: int) -> str:
        return f"{self.base_id}-{i}"

    def _spawn(self, i: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, "DONGNE_REPLICA_ID": self.replica_id(i)}
        env.setdefault("DONGNE_PUBLIC_URL", self.url)
        env.setdefault(
            "DONGNE_CORS_ORIGINS",
            f'["{self.url}", "http://localhost:{self.port}", "http://localhost:5173"]',
        )
        log: int | IO[bytes] = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_dir / f"gateway-{i}.log", "ab")  # noqa: SIM115
        command = [sys.executable, "-m", "gateway.devnet.replicas"]
        command += ["--host", self.host, "--port", str(self.port)]
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def start(self, timeout: float = 60.0) -> Self:
        procs = [self._spawn(i) for i in range(self.count)]
        self.procs = list(procs)
        try:
            wait_healthy(self.url, procs, timeout)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e}; logs in {self.log_dir}") from None
        return self

    @property
    def started(self) -> bool:
        return any(p is not None and p.poll() is None for p in self.procs)

    def restart_exited(self) -> list[int]:
        """Starts again, under the same id, every replica that exited; answers which."""
        restarted = []
        for i, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is not None:
                self.procs[i] = self._spawn(i)
                restarted.append(i)
        return restarted

    def kill(self, i: int) -> None:
        """SIGKILL replica ``i``: no shutdown code runs, as in a crash."""
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop(self, timeout: float = 15.0) -> None:
        stop_processes(self.procs, timeout)

    def __enter__(self) -> Self:
        # As GatewayProcess: `with replicas.start()` must not start a second set.
        return self if self.started else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _serve(host: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        "gateway.http.app:create_app",
        factory=True,
        access_log=False,
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[reuseport_socket(host, port)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one gateway replica on a SO_REUSEPORT socket")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it stopped on
        _serve(args.host, args.port)
