"""What the relayer reads from the chain, cached: identities, forwarder nonces, the set of
contracts it relays to, and a simulation of a request's call."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from chain.manifest import Manifest
from chain.protocol.abi import load_abi
from chain.protocol.calls import USER_FUNCTIONS
from chain.protocol.errors import ContractRevert, decode_revert, revert_data_from_rpc_error
from chain.protocol.forwarder import ForwarderDomain
from chain.rpc import RpcError
from chain.rpc_async import AsyncRpc

IDENTITY_OF = function_signature_to_4byte_selector("identityOf(address)")
NONCES = function_signature_to_4byte_selector("nonces(address)")
TOKENS = function_signature_to_4byte_selector("tokens()")

KIND_NONE, KIND_CITIZEN, KIND_MERCHANT, KIND_INSTITUTION = range(4)

# Functions a wallet may ask the gateway to relay: citizens' and merchants' money movements
# (chain.calls.USER_FUNCTIONS), plus the staff operations a municipality signs with its own key
# (their roles are checked on chain; the relayer key itself holds none).
STAFF_FUNCTIONS = (
    "issue",
    "createProgram",
    "closeProgram",
    "grantBatch",
    "registerMerchant",
    "updateMerchant",
    "setMerchantStatus",
    "proposeRules",
    "activateRules",
    "cancelPendingRules",
    "setInstitutionCategory",
    "setPaused",
)


def _selectors(contract: str, names: Collection[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in load_abi(contract):
        if entry.get("type") == "function" and entry.get("name") in names:
            inputs = entry.get("inputs", [])
            assert isinstance(inputs, list)
            signature = f"{entry['name']}({','.join(_type(i) for i in inputs)})"
            out["0x" + function_signature_to_4byte_selector(signature).hex()] = str(entry["name"])
    return out


def _type(param: object) -> str:
    assert isinstance(param, dict)
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


USER_SELECTORS = _selectors("VoucherToken", USER_FUNCTIONS)
STAFF_SELECTORS = _selectors("VoucherToken", STAFF_FUNCTIONS)


@dataclass
class _Cached:
    value: tuple[int, bool]
    at: float


@dataclass
class ChainView:
    rpc: AsyncRpc
    manifest: Manifest
    identity_ttl_s: float = 5.0
    domain: ForwarderDomain = field(init=False)
    _identities: dict[str, _Cached] = field(default_factory=dict)
    _targets: set[str] = field(default_factory=set)
    _targets_refreshed: float = 0.0

    def __post_init__(self) -> None:
        self.domain = ForwarderDomain(self.manifest.chain_id, self.manifest.forwarder)
        self._targets = {m.token for m in self.manifest.municipalities.values()}

    async def identity(self, account: str) -> tuple[int, bool]:
        """(kind, frozen) from the identity registry, cached briefly: a freeze reaches the
        relayer within the TTL, and on chain at once (the token checks the registry)."""
        now = time.monotonic()
        cached = self._identities.get(account)
        if cached is not None and now - cached.at < self.identity_ttl_s:
            return cached.value
        raw = await self.rpc.eth_call(
            self.manifest.registry, IDENTITY_OF + abi_encode(["address"], [account])
        )
        kind, frozen = abi_decode(["uint8", "bool"], raw)
        value = (int(kind), bool(frozen))
        self._identities[account] = _Cached(value, now)
        return value

    async def forwarder_nonce(self, signer: str) -> int:
        raw = await self.rpc.eth_call(
            self.manifest.forwarder, NONCES + abi_encode(["address"], [signer])
        )
        return int.from_bytes(raw[:32], "big")

    async def is_municipal_token(self, address: str) -> bool:
        if address in self._targets:
            return True
        # A municipality deployed after start: ask the factory, at most twice a second.
        now = time.monotonic()
        if now - self._targets_refreshed > 0.5:
            self._targets_refreshed = now
            raw = await self.rpc.eth_call(self.manifest.factory, TOKENS)
            (tokens,) = abi_decode(["address[]"], raw)
            self._targets.update(to_checksum_address(t) for t in tokens)
        return address in self._targets

    async def simulate(self, signer: str, target: str, data: bytes) -> ContractRevert | None:
        """Runs the request's call as the forwarder would (sender appended, ERC-2771) and
        returns the decoded custom error if it reverts."""
        try:
            await self.rpc.eth_call(
                target, data + bytes.fromhex(signer[2:]), sender=self.manifest.forwarder
            )
        except RpcError as exc:
            reply = {"code": exc.code, "message": exc.message, "data": exc.data}
            revert = revert_data_from_rpc_error(reply)
            if revert is None:
                raise
            return decode_revert(revert)
        return None
