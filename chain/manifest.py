"""The deployment manifest: what the gateway, the CLI and auditors read about a network."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chain.protocol.errors import DongneChainError

# Deployed in this order; each one's constructor takes addresses of earlier ones.
NETWORK_CONTRACTS = (
    "DongneForwarder",
    "IdentityRegistry",  # trusts the forwarder: a lost key cancels its recovery relayed
    "VoucherServices",
    "VoucherAdmin",
    "VoucherToken",
    "DongneTimelock",  # owns the beacon: upgrades wait for its delay
    "UpgradeableBeacon",
    "VoucherFactory",
    "DongneAnchor",  # last: adding it to a deployed network redeploys nothing else
)


class ManifestError(DongneChainError, ValueError):
    """The manifest file is unreadable or belongs to another chain."""


@dataclass(frozen=True)
class DeployedContract:
    address: str
    block: int
    tx_hash: str
    code_hash: str


@dataclass(frozen=True)
class Municipality:
    region: int
    token: str
    name: str
    symbol: str
    admin: str
    block: int
    tx_hash: str


@dataclass
class Manifest:
    chain_id: int
    operator: str
    contracts: dict[str, DeployedContract] = field(default_factory=dict)
    municipalities: dict[int, Municipality] = field(default_factory=dict)
    compiler: dict[str, object] = field(default_factory=dict)
    toolchain: dict[str, str] = field(default_factory=dict)

    def address(self, contract: str) -> str:
        try:
            return self.contracts[contract].address
        except KeyError:
            raise ManifestError(f"{contract} is not in the manifest") from None

    def token(self, region: int) -> str:
        try:
            return self.municipalities[region].token
        except KeyError:
            raise ManifestError(f"no municipality with region {region} in the manifest") from None

    @property
    def forwarder(self) -> str:
        return self.address("DongneForwarder")

    @property
    def registry(self) -> str:
        return self.address("IdentityRegistry")

    @property
    def factory(self) -> str:
        return self.address("VoucherFactory")

    @property
    def start_block(self) -> int:
        """The first block an indexer needs: the earliest deployment."""
        return min((c.block for c in self.contracts.values()), default=0)

    def to_json(self) -> str:
        data = asdict(self)
        data["municipalities"] = {str(k): v for k, v in sorted(data["municipalities"].items())}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            data = json.loads(text)
            return cls(
                chain_id=int(data["chain_id"]),
                operator=str(data["operator"]),
                contracts={k: DeployedContract(**v) for k, v in data["contracts"].items()},
                municipalities={
                    int(k): Municipality(**v) for k, v in data["municipalities"].items()
                },
                compiler=dict(data.get("compiler", {})),
                toolchain=dict(data.get("toolchain", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"malformed manifest: {exc}") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)  # atomic: a crash never leaves half a manifest

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            return cls.from_json(path.read_text())
        except OSError as exc:
            raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
