"""Where the pinned toolchain lives, and which versions it is.

Foundry (``forge``, ``anvil``, ``cast``), ganache and solcjs are installed from the npm registry
into ``<project root>/node_modules`` by ``bash scripts/bootstrap.sh``; versions are pinned by
``package-lock.json``. Nothing here looks at ``PATH``: a globally installed Foundry of another
version would silently change gas numbers and bytecode.

The project root is the directory above this package, or ``$DONGNE_HOME`` when set (an installed
wheel has no ``node_modules`` next to it, and tests point it at an empty directory).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from chain.protocol.errors import DongneChainError

__all__ = [
    "INSTALL_COMMAND",
    "TOOLS",
    "Tool",
    "ToolchainMissingError",
    "ToolchainVersionError",
    "ToolchainVersions",
    "executable",
    "pinned_versions",
    "project_root",
    "solc_shim",
    "tool_path",
]

INSTALL_COMMAND = "bash scripts/bootstrap.sh"

Tool = Literal["forge", "anvil", "cast", "ganache"]
TOOLS: tuple[Tool, ...] = get_args(Tool)

_FOUNDRY_TOOLS = frozenset({"forge", "anvil", "cast"})
_VERSION_TIMEOUT_S = 60.0


class ToolchainMissingError(DongneChainError, FileNotFoundError):
    """A pinned tool is not installed where the project expects it."""

    def __init__(self, tool: str, path: Path) -> None:
        self.tool = tool
        self.path = path
        super().__init__(
            f"{tool} is not installed (expected {path}); "
            f"install the pinned toolchain with `{INSTALL_COMMAND}` in the project root"
        )


class ToolchainVersionError(DongneChainError, RuntimeError):
    """A tool ran but its version could not be read."""

    def __init__(self, tool: str, output: str) -> None:
        self.tool = tool
        self.output = output
        super().__init__(f"cannot read the version of {tool} from: {output[:200]!r}")


@dataclass(frozen=True, slots=True)
class ToolchainVersions:
    """Versions recorded in a deployment manifest so a deployment can be rebuilt byte for byte."""

    foundry: str
    foundry_commit: str
    solc: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def project_root() -> Path:
    """The directory holding ``node_modules``, ``foundry.toml`` and ``scripts``."""
    override = os.environ.get("DONGNE_HOME")
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parents[2]


def tool_path(tool: Tool) -> Path:
    """The npm launcher of ``tool`` in ``node_modules/.bin``; raises if it is not installed."""
    path = project_root() / "node_modules" / ".bin" / tool
    # A dangling symlink (half-removed node_modules) counts as missing, hence is_file().
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ToolchainMissingError(tool, path)
    return path


def executable(tool: Tool) -> Path:
    """The file to execute for ``tool``.

    For Foundry tools this is the platform's native binary when it is installed, not the npm
    launcher: the launcher is a Node process that forwards SIGTERM and exits at once, without
    waiting for anvil to finish dumping its state, and a SIGKILL to it orphans anvil. Going
    direct also saves a Node start-up (~0.25 s) per call.
    """
    launcher = tool_path(tool)
    if tool in _FOUNDRY_TOOLS:
        native = _foundry_native_binary(tool)
        if native is not None:
            return native
    return launcher


def solc_shim() -> Path:
    """The solcjs shim that forge and py-solc-x use as ``solc``."""
    path = project_root() / "chain" / "toolchain" / "solc-shim.js"
    if not path.is_file():
        raise ToolchainMissingError("solc-shim", path)
    # The shim itself ships with the package, but it is useless without solcjs from npm.
    if not (project_root() / "node_modules" / "solc").is_dir():
        raise ToolchainMissingError("solc", project_root() / "node_modules" / "solc")
    return path


def pinned_versions() -> ToolchainVersions:
    """Foundry and solc versions of the installed toolchain (cached per project root)."""
    return _pinned_versions(project_root())


@cache
def _pinned_versions(root: Path) -> ToolchainVersions:
    del root  # only the cache key: DONGNE_HOME may change between calls
    forge_out = _run_version([str(executable("forge")), "--version"])
    foundry, commit = _parse_forge_version(forge_out)
    solc_out = _run_version([str(solc_shim()), "--version"])
    match = re.search(r"^Version:\s*(\S+)", solc_out, re.MULTILINE)
    if match is None:
        raise ToolchainVersionError("solc", solc_out)
    return ToolchainVersions(foundry=foundry, foundry_commit=commit, solc=match.group(1))


def _parse_forge_version(output: str) -> tuple[str, str]:
    # Foundry >= 1.0 prints "forge Version: 1.7.1" and "Commit SHA: <sha>" on separate lines;
    # older releases printed "forge 0.2.0 (0a5b22f 2024-...)". Both are accepted so an upgrade
    # of the pin does not break manifests.
    new = re.search(r"Version:\s*(\S+)", output)
    if new is not None:
        sha = re.search(r"Commit SHA:\s*([0-9a-f]+)", output)
        return new.group(1), sha.group(1) if sha else ""
    old = re.search(r"^forge\s+(\d+\.\d+\.\d+\S*)\s+\(([0-9a-f]+)", output, re.MULTILINE)
    if old is not None:
        return old.group(1), old.group(2)
    raise ToolchainVersionError("forge", output)


def _run_version(argv: list[str]) -> str:
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=_VERSION_TIMEOUT_S,
        cwd=project_root(),
        check=False,
    )
    if result.returncode != 0:
        raise ToolchainVersionError(Path(argv[0]).name, result.stderr or result.stdout)
    return result.stdout


def _foundry_native_binary(tool: str) -> Path | None:
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform)
    if arch is None or system is None:
        return None
    name = f"{tool}.exe" if system == "win32" else tool
    path = (
        project_root() / "node_modules" / "@foundry-rs" / f"{tool}-{system}-{arch}" / "bin" / name
    )
    return path if path.is_file() and os.access(path, os.X_OK) else None
