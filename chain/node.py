"""Local EVM nodes (anvil by default, ganache as the alternative) as child processes.

This is the only module that knows node-specific RPC methods (``evm_*``, ``anvil_*``,
``miner_*``); everything else in Dongne speaks standard JSON-RPC so it runs unchanged against
the production QBFT network.

Each node listens on a free loopback port, writes its output to a log file (a pipe nobody reads
fills up and stalls the node), and runs in its own process group so :meth:`LocalNode.stop` also
reaches anything it spawned. Both kinds run the ``shanghai`` hardfork to match ``evm_version`` in
``foundry.toml`` and the production network.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Literal, NamedTuple, Self

from eth_account import Account

from chain import toolchain
from chain.protocol.errors import DongneChainError
from chain.rpc import NodeUnavailableError, RpcClient, RpcError

__all__ = [
    "DEFAULT_CHAIN_ID",
    "DEV_MNEMONIC",
    "HARDFORK",
    "DevAccount",
    "LocalNode",
    "NodeKind",
    "NodeStartError",
    "dev_accounts",
]

NodeKind = Literal["anvil", "ganache"]

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_CHAIN_ID = 31337
DEFAULT_BLOCK_GAS_LIMIT = 30_000_000
HARDFORK = "shanghai"

_HOST = "127.0.0.1"
_POLL_S = 0.02
_LOG_TAIL_BYTES = 4000
_PORT_ATTEMPTS = 3


class NodeStartError(DongneChainError, RuntimeError):
    """The node exited or did not answer ``eth_chainId`` in time."""

    def __init__(
        self, kind: str, rpc_url: str, reason: str, log_tail: str, log_path: Path | None
    ) -> None:
        self.kind = kind
        self.rpc_url = rpc_url
        self.reason = reason
        self.log_tail = log_tail
        self.log_path = log_path
        super().__init__(
            f"{kind} at {rpc_url} did not start: {reason} (full log: {log_path})\n"
            f"--- log tail ---\n{log_tail}"
        )


class DevAccount(NamedTuple):
    """A prefunded account of the dev mnemonic."""

    address: str
    private_key: str


@cache
def dev_accounts(mnemonic: str = DEV_MNEMONIC, count: int = 10) -> tuple[DevAccount, ...]:
    """The accounts anvil and ganache prefund for ``mnemonic`` (BIP-44 ``m/44'/60'/0'/0/i``).

    Cached: HD derivation costs ~10 ms an account and tests ask for them constantly.
    """
    Account.enable_unaudited_hdwallet_features()
    accounts = []
    for index in range(count):
        account = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
        accounts.append(DevAccount(account.address, "0x" + bytes(account.key).hex()))
    return tuple(accounts)


class LocalNode:
    """A local anvil or ganache node on a free port.

    Mining modes: by default every transaction is mined into its own block at once (automine).
    That is for tests only, and even there anvil may answer ``eth_sendRawTransaction`` before
    the block is sealed, so wait for the receipt. Never rely on automine under load: one block
    per transaction serialises sealing with submission, gives block counts and receipt timing
    nothing like the production QBFT network's fixed block period, and hides batching and nonce
    bugs. Load tests and benchmarks pass ``block_time`` (interval mining) or ``no_mining=True``
    and call :meth:`mine` themselves.

    ``state_path`` makes the chain survive a restart: anvil loads the file on start and dumps it
    on SIGTERM, plus every ``state_interval`` whole seconds if given (what survives a SIGKILL);
    ganache treats the path as a database directory and writes through.
    """

    def __init__(
        self,
        kind: NodeKind = "anvil",
        *,
        chain_id: int = DEFAULT_CHAIN_ID,
        block_time: float | None = None,
        no_mining: bool = False,
        block_gas_limit: int = DEFAULT_BLOCK_GAS_LIMIT,
        accounts: int = 10,
        balance_ether: int = 10_000,
        mnemonic: str = DEV_MNEMONIC,
        state_path: str | os.PathLike[str] | None = None,
        state_interval: int | None = None,
        port: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        if state_interval is not None and state_interval < 1:
            # anvil only takes whole seconds here.
            raise ValueError(f"state_interval must be a whole number >= 1, got {state_interval}")
        if kind not in ("anvil", "ganache"):
            raise ValueError(f"kind must be 'anvil' or 'ganache', got {kind!r}")
        if block_time is not None and no_mining:
            raise ValueError("block_time and no_mining exclude each other")
        if block_time is not None and block_time <= 0:
            raise ValueError(f"block_time must be positive, got {block_time}")
        self.kind: NodeKind = kind
        self.chain_id = chain_id
        self.block_time = block_time
        self.no_mining = no_mining
        self.block_gas_limit = block_gas_limit
        self.accounts = accounts
        self.balance_ether = balance_ether
        self.mnemonic = mnemonic
        self.state_path = Path(state_path) if state_path is not None else None
        self.state_interval = state_interval
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._fixed_port = port
        self._port = port
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._rpc: RpcClient | None = None
        self._reaper: weakref.finalize[[int, signal.Signals], LocalNode] | None = None
        self._log_offset = 0

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def rpc_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the node has no port until start()")
        return f"http://{_HOST}:{self._port}"

    @property
    def rpc(self) -> RpcClient:
        """A keep-alive client for this node (valid while it runs)."""
        if self._rpc is None:
            raise RuntimeError(f"{self.kind} is not running")
        return self._rpc

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the node and wait until it answers ``eth_chainId`` with our chain id."""
        if self._proc is not None:
            raise RuntimeError(f"{self.kind} is already started at {self.rpc_url}")
        executable = toolchain.executable(self.kind)  # raises ToolchainMissingError first
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"dongne-{self.kind}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        if self.kind == "ganache" and self.state_path is not None:
            self.state_path.mkdir(parents=True, exist_ok=True)
        for attempt in range(_PORT_ATTEMPTS):
            if self._fixed_port is None and (attempt > 0 or self._port is None):
                self._port = _free_port()
            try:
                self._spawn_and_wait(executable)
                return self
            except NodeStartError as exc:
                # Another process may take the probed port before the node binds it.
                in_use = "in use" in exc.log_tail.lower()
                if not in_use or self._fixed_port is not None or attempt == _PORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """SIGTERM (anvil dumps its state on it), then SIGKILL after ``stop_timeout``."""
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None
        self._kill_process()
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def __enter__(self) -> Self:
        return self if self._proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, max_bytes: int = _LOG_TAIL_BYTES) -> str:
        """The end of what the current (or last) process wrote, not earlier runs."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            end = log.seek(0, os.SEEK_END)
            log.seek(max(self._log_offset, end - max_bytes))
            return log.read().decode(errors="replace")

    def freeze(self) -> None:
        """SIGSTOP the node: it keeps its port and state but answers nothing (an unreachable
        node, as a network partition looks to the gateway) until :meth:`thaw`."""
        if self._proc is not None:
            _signal_group(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self._proc is not None:
            _signal_group(self._proc.pid, signal.SIGCONT)

    # -- node-specific controls -------------------------------------------------------------

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` blocks now, including pending transactions (works with no_mining)."""
        if blocks < 1:
            raise ValueError(f"blocks must be >= 1, got {blocks}")
        if self.kind == "anvil":
            self.rpc.call("anvil_mine", [hex(blocks)])
        else:
            self.rpc.call("evm_mine", [{"blocks": blocks}])

    def snapshot(self) -> str:
        """Snapshot the chain; :meth:`revert` to the returned id undoes everything after it."""
        snapshot_id = self.rpc.call("evm_snapshot")
        if not isinstance(snapshot_id, str):
            raise RpcError("evm_snapshot", -32603, f"unexpected snapshot id {snapshot_id!r}")
        return snapshot_id

    def revert(self, snapshot_id: str) -> bool:
        """Revert to a snapshot (consumed by the revert, as on both nodes)."""
        return self.rpc.call("evm_revert", [snapshot_id]) is True

    def set_automine(self, enabled: bool) -> None:
        if self.kind == "anvil":
            self.rpc.call("evm_setAutomine", [enabled])
        else:
            # ganache 7 has no evm_setAutomine; stopping its miner leaves evm_mine working.
            self.rpc.call("miner_start" if enabled else "miner_stop")

    def dev_accounts(self) -> tuple[DevAccount, ...]:
        return dev_accounts(self.mnemonic, self.accounts)

    # -- internals --------------------------------------------------------------------------

    def _command(self, executable: Path) -> list[str]:
        port = str(self._port)
        if self.kind == "anvil":
            argv = [str(executable), "--host", _HOST, "--port", port]
            argv += ["--chain-id", str(self.chain_id), "--hardfork", HARDFORK]
            argv += ["--gas-limit", str(self.block_gas_limit), "--mnemonic", self.mnemonic]
            argv += ["--accounts", str(self.accounts), "--balance", str(self.balance_ether)]
            if self.block_time is not None:
                argv += ["--block-time", _seconds(self.block_time)]
            if self.no_mining:
                argv.append("--no-mining")
            if self.state_path is not None:
                argv += ["--state", str(self.state_path)]
                if self.state_interval is not None:
                    argv += ["--state-interval", str(self.state_interval)]
            return argv
        argv = [str(executable), "--server.host", _HOST, "--server.port", port]
        argv += ["--chain.chainId", str(self.chain_id), "--chain.hardfork", HARDFORK]
        argv += ["--miner.blockGasLimit", str(self.block_gas_limit)]
        argv += ["--wallet.mnemonic", self.mnemonic, "--wallet.totalAccounts", str(self.accounts)]
        argv += ["--wallet.defaultBalance", str(self.balance_ether)]
        argv += ["--chain.vmErrorsOnRPCResponse", "true", "--logging.quiet"]
        if self.block_time is not None:
            argv += ["--miner.blockTime", _seconds(self.block_time)]
        if self.state_path is not None:
            argv += ["--database.dbPath", str(self.state_path)]
        return argv

    def _spawn_and_wait(self, executable: Path) -> None:
        assert self.log_path is not None
        with self.log_path.open("ab") as log:
            self._log_offset = log.seek(0, os.SEEK_END)
            proc = subprocess.Popen(
                self._command(executable),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=toolchain.project_root(),
                start_new_session=True,
            )
        self._proc = proc
        # If the caller forgets stop(), the node must still end with the interpreter; SIGTERM
        # rather than SIGKILL so anvil still dumps its state file.
        self._reaper = weakref.finalize(self, _signal_group, proc.pid, signal.SIGTERM)
        probe = RpcClient(self.rpc_url, timeout=1.0)
        try:
            self._wait_ready(proc, probe)
            if self.no_mining and self.kind == "ganache":
                probe.call("miner_stop")
        except BaseException:
            self._kill_process()
            raise
        finally:
            probe.close()
        self._rpc = RpcClient(self.rpc_url)

    def _wait_ready(self, proc: subprocess.Popen[bytes], probe: RpcClient) -> None:
        # Another node (a parallel test's, same chain id) could take the probed port before ours
        # binds it and answer eth_chainId for it, so readiness also needs our process to log
        # that it listens there; both pinned nodes print "Listening on HOST:PORT".
        listening = f"Listening on {_HOST}:{self._port}"
        deadline = time.monotonic() + self.start_timeout
        while True:
            if proc.poll() is not None:
                raise self._start_error(f"process exited with code {proc.returncode}")
            if listening in self.log_tail(max_bytes=1 << 16):
                try:
                    answered = probe.chain_id()
                except (NodeUnavailableError, RpcError):
                    answered = None
                if answered == self.chain_id:
                    return
                if answered is not None:
                    raise self._start_error(f"port answered with chain id {answered}")
            if time.monotonic() > deadline:
                raise self._start_error(f"no answer to eth_chainId in {self.start_timeout} s")
            time.sleep(_POLL_S)

    def _kill_process(self) -> None:
        proc, self._proc = self._proc, None
        if self._reaper is not None:
            self._reaper.detach()
            self._reaper = None
        if proc is not None:
            _terminate_group(proc, self.stop_timeout)

    def _start_error(self, reason: str) -> NodeStartError:
        return NodeStartError(self.kind, self.rpc_url, reason, self.log_tail(), self.log_path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _terminate_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        return
    # The leader may exit before a child it spawned (a launcher script); wait for the group.
    while _group_alive(proc.pid):
        if time.monotonic() > deadline:
            _signal_group(proc.pid, signal.SIGKILL)
            break
        time.sleep(_POLL_S)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
