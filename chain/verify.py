"""Code verification for auditors: is what runs on chain what the pinned sources compile to?

The sources are recompiled independently of forge (py-solc-x over the pinned solcjs shim, with
foundry.toml's settings and remappings, every source passed by content) and each deployed
contract's ``eth_getCode`` is compared with the compiler's runtime code. Immutables are filled in
at deploy time, so their byte ranges (solc's ``immutableReferences``) are masked on both sides;
a CBOR metadata tail is stripped if one is present (none is with the pinned settings). Nothing
else is ignored, so a single changed byte anywhere else makes the contract ``differs``.

Matching code is not enough when contracts find each other through immutables and proxy
storage: an implementation that delegates to an unverified admin module would still "match".
So the report also checks the links the manifest promises (the beacon's implementation, each
proxy's ERC-1967 beacon slot, the addresses held in immutables, the recorded code hashes).

A compile costs 10-30 s, so its result is cached in ``.dongne/verify-cache/`` under the hash of
the exact compiler input and compiler version: any changed source or setting misses the cache.

Auditors run ``python -m chain.verify --rpc-url URL manifest.json``; it prints the report and
exits 0 only when everything matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, cast

import solcx
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from solcx.exceptions import SolcError
from solcx.wrapper import get_solc_version

from chain.artifacts import compiler_settings
from chain.manifest import NETWORK_CONTRACTS, Manifest
from chain.protocol.contracts import selector
from chain.protocol.errors import DongneChainError
from chain.rpc import JSONValue, RpcClient, RpcError
from chain.toolchain import project_root, solc_shim

__all__ = [
    "BEACON_SLOT",
    "CheckResult",
    "CompiledContract",
    "ContractResult",
    "Status",
    "VerificationError",
    "VerificationReport",
    "compile_contracts",
    "default_cache_dir",
    "first_difference",
    "verify_deployment",
]

Status = Literal["match", "differs", "missing"]

# Import-style paths (resolved through foundry.toml's remappings) of every contract deployed.
_ENTRY_POINTS: Final[Mapping[str, str]] = {
    "DongneForwarder": "contracts/src/DongneForwarder.sol",
    "IdentityRegistry": "contracts/src/IdentityRegistry.sol",
    "VoucherServices": "contracts/src/VoucherServices.sol",
    "VoucherAdmin": "contracts/src/VoucherAdmin.sol",
    "VoucherToken": "contracts/src/VoucherToken.sol",
    "DongneTimelock": "contracts/src/DongneTimelock.sol",
    "DongneAnchor": "contracts/src/DongneAnchor.sol",
    "UpgradeableBeacon": "@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol",
    "VoucherFactory": "contracts/src/VoucherFactory.sol",
    "BeaconProxy": "@openzeppelin/contracts/proxy/beacon/BeaconProxy.sol",
}

# Immutables holding another network contract's address: (contract, immutable) -> manifest key.
_IMMUTABLE_LINKS: Final[Mapping[tuple[str, str], str]] = {
    ("IdentityRegistry", "ERC2771Context._trustedForwarder"): "DongneForwarder",
    ("VoucherServices", "ERC2771ContextUpgradeable._trustedForwarder"): "DongneForwarder",
    ("VoucherServices", "VoucherBase._registry"): "IdentityRegistry",
    ("VoucherAdmin", "ERC2771ContextUpgradeable._trustedForwarder"): "DongneForwarder",
    ("VoucherAdmin", "VoucherBase._registry"): "IdentityRegistry",
    ("VoucherAdmin", "VoucherAdmin._servicesModule"): "VoucherServices",
    ("VoucherToken", "ERC2771ContextUpgradeable._trustedForwarder"): "DongneForwarder",
    ("VoucherToken", "VoucherBase._registry"): "IdentityRegistry",
    ("VoucherToken", "VoucherToken._adminModule"): "VoucherAdmin",
    ("VoucherFactory", "VoucherFactory._beacon"): "UpgradeableBeacon",
    ("BeaconProxy", "BeaconProxy._beacon"): "UpgradeableBeacon",
}

BEACON_SLOT: Final = "0xa3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50"
"""ERC-1967's beacon slot: ``keccak256("eip1967.proxy.beacon") - 1``."""

_IMPLEMENTATION_CALL: Final = "0x" + selector("implementation", "UpgradeableBeacon").hex()
_OWNER_CALL: Final = "0x" + selector("owner", "UpgradeableBeacon").hex()
_CACHE_FORMAT: Final = 1
# Comments are stripped before imports are read, so commented-out imports are not followed.
_COMMENTS: Final = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_IMPORTS: Final = re.compile(r"\bimport\s+(?:[^;]*?\bfrom\s+)?[\"']([^\"']+)[\"']", re.DOTALL)


class VerificationError(DongneChainError, RuntimeError):
    """Verification could not run: the sources do not compile or the manifest is another chain's.

    A contract whose code differs is not an error but a result in the report.
    """


@dataclass(frozen=True)
class CompiledContract:
    """A contract's runtime code as the pinned compiler produces it."""

    name: str
    source: str  # source unit name, as forge names it (remapped, relative to the root)
    runtime: bytes
    # Qualified name ("BeaconProxy._beacon") -> every (offset, length) it occupies in `runtime`.
    immutables: Mapping[str, tuple[tuple[int, int], ...]]

    @property
    def immutable_ranges(self) -> list[tuple[int, int]]:
        return sorted(r for ranges in self.immutables.values() for r in ranges)


@dataclass(frozen=True)
class ContractResult:
    """One deployed contract compared with its compiled runtime code."""

    label: str  # manifest key, or "municipality <region>" for a token's proxy
    contract: str  # the compiled contract it should be
    address: str
    status: Status
    first_difference: int | None = None  # byte offset into the runtime code when `differs`
    detail: str = ""
    # Qualified immutable name -> its 32-byte value as deployed (0x-hex).
    immutables: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "match"

    def __str__(self) -> str:
        where = f" at byte {self.first_difference}" if self.first_difference is not None else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.label} [{self.contract}] {self.address}: {self.status}{where}{detail}"


@dataclass(frozen=True)
class CheckResult:
    """A link the manifest promises between contracts, read from the chain."""

    contract: str  # the label of the contract the value was read from
    what: str  # e.g. "implementation()", "ERC-1967 beacon slot", "VoucherToken._adminModule"
    expected: str
    actual: str

    @property
    def ok(self) -> bool:
        return self.expected.lower() == self.actual.lower()

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"MISMATCH, expected {self.expected}"
        return f"{self.contract} {self.what} = {self.actual}: {verdict}"


@dataclass(frozen=True)
class VerificationReport:
    chain_id: int
    compiler: str  # the solc version that recompiled the sources
    contracts: tuple[ContractResult, ...]
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.contracts) and all(c.ok for c in self.checks)

    def result(self, label: str) -> ContractResult:
        for result in self.contracts:
            if result.label == label:
                return result
        raise KeyError(label)

    def failures(self) -> list[str]:
        """One line per contract that does not match and per broken link, naming the contract."""
        bad = [str(c) for c in self.contracts if not c.ok]
        return bad + [str(c) for c in self.checks if not c.ok]

    def __str__(self) -> str:
        lines = [f"chain {self.chain_id}, recompiled with solc {self.compiler}"]
        lines += [f"  {c}" for c in self.contracts]
        lines += [f"  {c}" for c in self.checks]
        lines.append("verified: all contracts match" if self.ok else "NOT VERIFIED")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# Compiling


def _remap(path: str, remappings: Sequence[tuple[str, str]]) -> str:
    # solc applies the longest matching prefix; relative imports are never remapped.
    best = max(
        (r for r in remappings if path.startswith(r[0])), key=lambda r: len(r[0]), default=None
    )
    return path if best is None else best[1] + path[len(best[0]) :]


def _remappings() -> list[tuple[str, str]]:
    pairs = (r.split("=", 1) for r in compiler_settings().remappings)
    return [(prefix, target) for prefix, target in pairs]


def _collect_sources(
    root: Path, units: Sequence[str], pairs: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """The given source units and every unit they import, transitively, by source unit name."""
    sources: dict[str, str] = {}
    pending = list(units)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        try:
            text = (root / unit).read_text(encoding="utf-8")
        except OSError as exc:
            raise VerificationError(f"cannot read source {unit}: {exc}") from exc
        sources[unit] = text
        for match in _IMPORTS.finditer(_COMMENTS.sub("", text)):
            target = match.group(1)
            if target.startswith("."):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(unit), target))
            else:
                target = _remap(target, pairs)
            pending.append(target)
    return dict(sorted(sources.items()))


def _standard_input(sources: Mapping[str, str], targets: Mapping[str, str]) -> dict[str, object]:
    settings = compiler_settings()
    selection: dict[str, dict[str, list[str]]] = {"*": {"": ["ast"]}}
    for contract, unit in targets.items():
        selection.setdefault(unit, {"": ["ast"]})[contract] = [
            "evm.deployedBytecode.object",
            "evm.deployedBytecode.immutableReferences",
        ]
    return {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": {
            "remappings": list(settings.remappings),
            "optimizer": {"enabled": True, "runs": settings.optimizer_runs},
            "evmVersion": settings.evm_version,
            "viaIR": _via_ir(),
            "metadata": {
                "bytecodeHash": settings.bytecode_hash,
                "appendCBOR": settings.cbor_metadata,
            },
            "outputSelection": selection,
        },
    }


def _via_ir() -> bool:
    # Not in CompilerSettings (nor the manifest) yet; read here so flipping it in foundry.toml
    # cannot make verification compile differently from forge.
    config = tomllib.loads((project_root() / "foundry.toml").read_text())
    return bool(config["profile"]["default"].get("via_ir", False))


def _walk(node: object, contract: str, found: dict[int, str]) -> None:
    """Collects immutable declarations' AST ids -> "Contract.name"."""
    if isinstance(node, list):
        for child in node:
            _walk(child, contract, found)
        return
    if not isinstance(node, dict):
        return
    if node.get("nodeType") == "ContractDefinition":
        contract = str(node.get("name"))
    elif node.get("nodeType") == "VariableDeclaration" and node.get("mutability") == "immutable":
        found[int(node["id"])] = f"{contract}.{node['name']}"
    for child in node.values():
        if isinstance(child, dict | list):
            _walk(child, contract, found)


def _parse_output(output: Mapping[str, object], targets: Mapping[str, str]) -> dict[str, object]:
    """The compiler output reduced to what verification needs, in the cache's JSON shape."""
    names: dict[int, str] = {}
    for source in cast(Mapping[str, Mapping[str, object]], output.get("sources", {})).values():
        _walk(source.get("ast"), "", names)
    contracts = cast(Mapping[str, Mapping[str, Mapping[str, object]]], output.get("contracts", {}))
    reduced: dict[str, object] = {}
    for contract, unit in targets.items():
        try:
            deployed = cast(Mapping[str, object], contracts[unit][contract]["evm"])
            code = cast(Mapping[str, object], deployed["deployedBytecode"])
        except KeyError:
            raise VerificationError(f"the compiler produced no code for {contract}") from None
        refs = cast(Mapping[str, list[Mapping[str, int]]], code.get("immutableReferences", {}))
        immutables = {
            names.get(int(ast_id), f"immutable#{ast_id}"): [[r["start"], r["length"]] for r in rs]
            for ast_id, rs in refs.items()
        }
        reduced[contract] = {"source": unit, "runtime": code["object"], "immutables": immutables}
    return reduced


def _from_cache(data: Mapping[str, object]) -> dict[str, CompiledContract]:
    compiled = {}
    for name, raw in cast(Mapping[str, Mapping[str, object]], data).items():
        immutables = cast(Mapping[str, list[list[int]]], raw["immutables"])
        compiled[name] = CompiledContract(
            name=name,
            source=str(raw["source"]),
            runtime=bytes.fromhex(str(raw["runtime"]).removeprefix("0x")),
            immutables={k: tuple((s, n) for s, n in v) for k, v in immutables.items()},
        )
    return compiled


def default_cache_dir() -> Path:
    return project_root() / ".dongne" / "verify-cache"


def compile_contracts(cache_dir: Path | None = None) -> tuple[str, dict[str, CompiledContract]]:
    """(solc version, contract name -> runtime code) of every contract a deployment holds."""
    root = project_root()
    shim = solc_shim()
    pairs = _remappings()
    targets = {name: _remap(path, pairs) for name, path in _ENTRY_POINTS.items()}
    sources = _collect_sources(root, sorted(set(targets.values())), pairs)
    standard_input = _standard_input(sources, targets)
    # The compiler is identified by the installed solcjs package and the shim rather than by
    # asking it (`--version` loads solcjs: over a second, most of a cached run).
    compiler = (root / "node_modules" / "solc" / "package.json").read_bytes() + shim.read_bytes()
    key_material = json.dumps([_CACHE_FORMAT, standard_input], sort_keys=True).encode()
    key = hashlib.sha256(hashlib.sha256(compiler).digest() + key_material).hexdigest()
    cache_file = (cache_dir or default_cache_dir()) / f"{key}.json"
    try:
        cached = json.loads(cache_file.read_text())
        return str(cached["solc"]), _from_cache(cached["contracts"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not compiled yet, or an unreadable file: compile again
    version = str(get_solc_version(shim, with_commit_hash=True))
    try:
        output = solcx.compile_standard(standard_input, solc_binary=shim, allow_paths=[str(root)])
    except SolcError as exc:
        raise VerificationError(f"the pinned sources do not compile:\n{exc}") from exc
    reduced = _parse_output(cast(Mapping[str, object], output), targets)
    _write_atomically(cache_file, json.dumps({"solc": version, "contracts": reduced}))
    return version, _from_cache(reduced)


def _write_atomically(path: Path, text: str) -> None:
    # Parallel test workers may compile at once; each renames a private temp file into place.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------
# Comparing


def _strip_metadata(code: bytes) -> bytes:
    """Drops a trailing CBOR metadata map (solc's ``appendCBOR``) if one is there."""
    if len(code) < 2:
        return code
    length = int.from_bytes(code[-2:], "big")
    start = len(code) - 2 - length
    if length == 0 or start < 0:
        return code
    tail = code[start:-2]
    # A CBOR map (major type 5, 1-7 entries) naming the compiler is solc's metadata.
    return code[:start] if 0xA1 <= tail[0] <= 0xA7 and b"solc" in tail else code


def _masked(code: bytes, ranges: Sequence[tuple[int, int]]) -> bytes:
    buffer = bytearray(code)
    for start, length in ranges:
        end = min(start + length, len(buffer))
        if start < end:
            buffer[start:end] = bytes(end - start)
    return bytes(buffer)


def first_difference(expected: bytes, actual: bytes) -> int | None:
    """The first byte offset where two codes differ (a length difference counts), or None."""
    for offset, (a, b) in enumerate(zip(expected, actual, strict=False)):
        if a != b:
            return offset
    return None if len(expected) == len(actual) else min(len(expected), len(actual))


def _at(code: bytes, where: tuple[int, int]) -> bytes:
    start, length = where
    return code[start : start + length]


def _compare(label: str, address: str, compiled: CompiledContract, code: bytes) -> ContractResult:
    if not code:
        return ContractResult(label, compiled.name, address, "missing", detail="no code")
    ranges = compiled.immutable_ranges
    expected = _masked(_strip_metadata(compiled.runtime), ranges)
    actual = _strip_metadata(code)
    values = {
        name: "0x" + _at(actual, where[0]).hex() for name, where in compiled.immutables.items()
    }
    offset = first_difference(expected, _masked(actual, ranges))
    if offset is not None:
        detail = f"{len(actual)} bytes on chain, {len(expected)} compiled"
        return ContractResult(label, compiled.name, address, "differs", offset, detail, values)
    # Masking hides what sits in an immutable's slots; the copies of one immutable must agree,
    # or the code was forged to read different values at different places.
    for name, where in compiled.immutables.items():
        for start, length in where[1:]:
            if _at(actual, (start, length)) != _at(actual, where[0]):
                detail = f"copies of immutable {name} disagree"
                return ContractResult(label, compiled.name, address, "differs", start, detail)
    return ContractResult(label, compiled.name, address, "match", immutables=values)


def _word_address(word: str) -> str:
    return to_checksum_address("0x" + word.removeprefix("0x").rjust(64, "0")[-40:])


# ------------------------------------------------------------------------------------------
# Verifying a deployment


def _targets(manifest: Manifest) -> Iterator[tuple[str, str, str]]:
    """(label, contract, address) of every contract the manifest records."""
    for name in NETWORK_CONTRACTS:
        recorded = manifest.contracts.get(name)
        yield name, name, recorded.address if recorded else ""
    for region, municipality in sorted(manifest.municipalities.items()):
        yield f"municipality {region}", "BeaconProxy", municipality.token


def verify_deployment(
    rpc_url: str, manifest: Manifest, *, cache_dir: Path | None = None
) -> VerificationReport:
    """Recompiles the pinned sources and compares every contract in ``manifest`` with the chain.

    Raises :class:`VerificationError` when the node is on another chain than the manifest or the
    sources do not compile; a contract that differs or is missing is reported, not raised.
    """
    version, compiled = compile_contracts(cache_dir)
    with RpcClient(rpc_url) as rpc:
        chain_id = rpc.chain_id()
        if chain_id != manifest.chain_id:
            raise VerificationError(
                f"the manifest is for chain {manifest.chain_id}, the node at {rpc_url} is on"
                f" chain {chain_id}"
            )
        targets = list(_targets(manifest))
        codes = rpc.batch(("eth_getCode", [a, "latest"]) for _, _, a in targets if a)
        code_of = dict(zip((a for _, _, a in targets if a), codes, strict=True))
        results = []
        for label, contract, address in targets:
            if not address:
                results.append(
                    ContractResult(label, contract, "", "missing", detail="not in the manifest")
                )
                continue
            code = bytes.fromhex(str(code_of[address]).removeprefix("0x"))
            results.append(_compare(label, address, compiled[contract], code))
        checks = _link_checks(rpc, manifest, results, code_of)
    return VerificationReport(chain_id, version, tuple(results), tuple(checks))


def _link_checks(
    rpc: RpcClient,
    manifest: Manifest,
    results: Sequence[ContractResult],
    code_of: Mapping[str, JSONValue],
) -> list[CheckResult]:
    addresses = {name: c.address for name, c in manifest.contracts.items()}
    # Recompiling with other settings than the deployer's would make every contract differ;
    # this line says why.
    ours = json.dumps(compiler_settings().as_dict(), sort_keys=True)
    theirs = json.dumps(manifest.compiler, sort_keys=True)
    checks = [CheckResult("manifest", "compiler settings", ours, theirs)]
    for name, recorded in manifest.contracts.items():
        code = bytes.fromhex(str(code_of.get(recorded.address, "0x")).removeprefix("0x"))
        actual = "0x" + keccak(code).hex()
        checks.append(CheckResult(name, "code hash (manifest)", recorded.code_hash, actual))
    for result in results:
        for (contract, immutable), target in _IMMUTABLE_LINKS.items():
            value = result.immutables.get(immutable)
            if result.contract == contract and value is not None and target in addresses:
                actual = _word_address(value)
                checks.append(CheckResult(result.label, immutable, addresses[target], actual))
    beacon = addresses.get("UpgradeableBeacon")
    implementation = addresses.get("VoucherToken")
    if beacon and implementation:
        call = {"to": beacon, "data": _IMPLEMENTATION_CALL}
        actual = _read_address(rpc, "eth_call", [call, "latest"])
        checks.append(CheckResult("UpgradeableBeacon", "implementation()", implementation, actual))
    timelock = addresses.get("DongneTimelock")
    if beacon and timelock:  # no key can upgrade every city at once, only the timelock
        call = {"to": beacon, "data": _OWNER_CALL}
        actual = _read_address(rpc, "eth_call", [call, "latest"])
        checks.append(CheckResult("UpgradeableBeacon", "owner()", timelock, actual))
    if beacon:
        for region, municipality in sorted(manifest.municipalities.items()):
            actual = _read_address(
                rpc, "eth_getStorageAt", [municipality.token, BEACON_SLOT, "latest"]
            )
            label = f"municipality {region}"
            checks.append(CheckResult(label, "ERC-1967 beacon slot", beacon, actual))
    return checks


def _read_address(rpc: RpcClient, method: str, params: Sequence[object]) -> str:
    try:
        word = rpc.call(method, params)
    except RpcError as exc:
        # A beacon that reverts on implementation() is a failed check, not a crash.
        return f"unreadable ({exc.message})"
    if not isinstance(word, str) or len(word) < 42:
        return f"unreadable ({word!r:.80})"
    return _word_address(word)
