"""Compiled contracts: the one compile path is `forge build` with foundry.toml's settings.

Deploys and benchmarks read bytecode from forge's `out/`; wallet apps read only the committed
ABIs in `chain/protocol/abi/` (see `chain.protocol.abi`). Code verification recompiles
independently with
py-solc-x (see `chain.verify`) from the same settings, read here from foundry.toml.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from chain.protocol.errors import DongneChainError
from chain.toolchain import executable, project_root


class ArtifactMissingError(DongneChainError, FileNotFoundError):
    """A contract's build output is missing; `forge build` has not run or failed."""

    def __init__(self, contract: str, path: Path) -> None:
        super().__init__(f"no build output for {contract} at {path}: run `forge build`")
        self.contract = contract
        self.path = path


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI, creation code and runtime code with immutable slots."""

    name: str
    abi: list[dict[str, object]]
    bytecode: bytes
    runtime: bytes
    # (offset, length) of every immutable in the runtime code: filled in at deploy time.
    immutables: tuple[tuple[int, int], ...]


def out_dir() -> Path:
    return Path(os.environ.get("FOUNDRY_OUT", project_root() / "out"))


def forge_build(*, paths: Sequence[str] = (), quiet: bool = True) -> Path:
    """Runs `forge build [paths]` in the project root (a no-op when nothing changed) and
    returns the artifact directory."""
    result = subprocess.run(
        # forge itself: its npm launcher exits 0 whatever forge returns.
        [str(executable("forge")), "build", *paths],
        cwd=project_root(),
        capture_output=quiet,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DongneChainError(f"forge build failed:\n{result.stdout}\n{result.stderr}")
    return out_dir()


@cache
def load_artifact(contract: str, source: str | None = None) -> Artifact:
    """Reads `out/<source>/<contract>.json`; `source` defaults to `<contract>.sol`."""
    path = out_dir() / (source or f"{contract}.sol") / f"{contract}.json"
    if not path.exists():
        raise ArtifactMissingError(contract, path)
    data = json.loads(path.read_text())
    deployed = data["deployedBytecode"]
    refs = tuple(
        sorted(
            (int(ref["start"]), int(ref["length"]))
            for slots in deployed.get("immutableReferences", {}).values()
            for ref in slots
        )
    )
    return Artifact(
        name=contract,
        abi=data["abi"],
        bytecode=bytes.fromhex(data["bytecode"]["object"].removeprefix("0x")),
        runtime=bytes.fromhex(deployed["object"].removeprefix("0x")),
        immutables=refs,
    )


@dataclass(frozen=True)
class CompilerSettings:
    """The settings every compile path uses, as pinned in foundry.toml."""

    solc_version: str
    evm_version: str
    optimizer_runs: int
    bytecode_hash: str
    cbor_metadata: bool
    remappings: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "solc_version": self.solc_version,
            "evm_version": self.evm_version,
            "optimizer": True,
            "optimizer_runs": self.optimizer_runs,
            "bytecode_hash": self.bytecode_hash,
            "cbor_metadata": self.cbor_metadata,
        }


@cache
def compiler_settings() -> CompilerSettings:
    config = tomllib.loads((project_root() / "foundry.toml").read_text())["profile"]["default"]
    package = json.loads((project_root() / "package.json").read_text())
    return CompilerSettings(
        solc_version=package["dependencies"]["solc"],
        evm_version=config["evm_version"],
        optimizer_runs=int(config["optimizer_runs"]),
        bytecode_hash=config.get("bytecode_hash", "ipfs"),
        cbor_metadata=bool(config.get("cbor_metadata", True)),
        remappings=tuple(config.get("remappings", [])),
    )
