"""Runs the gateway as its own process (uvicorn) on a port, for the CLI, tests and benchmarks.

A separate process rather than a thread: tests kill it mid-batch with SIGKILL to prove that
nothing accepted is lost, and benchmarks measure it over real HTTP.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

__all__ = ["GatewayProcess", "free_port", "stop_processes", "wait_healthy"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(url: str, procs: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
    """Returns once ``url``'s /healthz answers 200; raises if any of ``procs`` exits first or
    the time runs out (the caller stops what it started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exited = [(i, p.returncode) for i, p in enumerate(procs) if p.poll() is not None]
        if exited:
            raise RuntimeError(f"gateway process(es) exited (index, code): {exited}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"gateway not ready within {timeout}s")


def stop_processes(procs: Iterable[subprocess.Popen[bytes] | None], timeout: float) -> None:
    """SIGINT to every running process (uvicorn's clean stop: the relayer releases its
    leases), then SIGKILL to any still running after ``timeout``."""
    running = [p for p in procs if p is not None and p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGINT)
    for proc in running:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class GatewayProcess:
    """`uvicorn gateway.http.app:create_app` with `DONGNE_*` settings from `env`."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
    ) -> None:
        self.env = dict(env)
        self.host = host
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> Self:
        env = {**os.environ, **self.env}
        # Sign-in messages name the gateway's public URL: here, the address it listens on.
        env.setdefault("DONGNE_PUBLIC_URL", self.url)
        # The local network's browser pages (its own origin, and localhost dev servers).
        env.setdefault(
            "DONGNE_CORS_ORIGINS",
            f'["{self.url}", "http://localhost:{self.port}", "http://localhost:5173"]',
        )
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "gateway.http.app:create_app",
                "--factory",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(self.url, [self.proc], timeout)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e}; log: {self.log_path}") from None
        return self

    def stop(self, timeout: float = 15.0) -> None:
        stop_processes([self.proc], timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Self:
        # `with process.start(timeout=...)` enters a started process: starting it again here
        # launched a second uvicorn that took the relayer lease during its startup, then failed
        # to bind the port and died, and the first one was orphaned (never stopped).
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
