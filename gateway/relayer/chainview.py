"""What the relayer reads from the chain, cached: identities, forwarder nonces, the set of
contracts it relays to, and a simulation of a request's call."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.manifest import Manifest
from chain.protocol.abi import ContractName
from chain.protocol.calls import USER_FUNCTIONS
from chain.protocol.contracts import selector
from chain.protocol.errors import ContractRevert, decode_revert, revert_data_from_rpc_error
from chain.protocol.forwarder import ForwarderDomain
from chain.rpc import RpcError
from chain.rpc_async import AsyncRpc

IDENTITY_OF = selector("identityOf", "IdentityRegistry")
NONCES = selector("nonces", "DongneForwarder")
TOKENS = selector("tokens", "VoucherFactory")
HAS_ROLE = selector("hasRole")
ACCOUNT_OF = selector("accountOf")

KIND_NONE, KIND_CITIZEN, KIND_MERCHANT, KIND_INSTITUTION = range(4)

# Functions a wallet may ask the gateway to relay: citizens' and merchants' money movements
# (chain.calls.USER_FUNCTIONS), plus the staff operations a municipality signs with its own key,
# each with the role the token requires of its caller (VoucherAdmin's onlyRole modifiers). The
# relayer checks that role at intake, so a stranger's staff call never costs the relayer gas;
# the token checks it again on chain. The relayer key itself holds no role.
STAFF_ROLES: dict[str, str] = {
    "issue": "ISSUER_ROLE",
    "createProgram": "PROGRAM_MANAGER_ROLE",
    "closeProgram": "PROGRAM_MANAGER_ROLE",
    "grantBatch": "PROGRAM_MANAGER_ROLE",
    "registerMerchant": "MERCHANT_REGISTRAR_ROLE",
    "updateMerchant": "MERCHANT_REGISTRAR_ROLE",
    "setMerchantStatus": "MERCHANT_REGISTRAR_ROLE",
    "setPlatform": "MERCHANT_REGISTRAR_ROLE",
    # Anyone may sync on chain; the relayer pays for it only for the registrar.
    "syncMerchantExclusion": "MERCHANT_REGISTRAR_ROLE",
    "setInstitutionCategory": "DEFAULT_ADMIN_ROLE",
    "setInstitutionLimits": "DEFAULT_ADMIN_ROLE",
    "setInstitutionBlockedCategory": "DEFAULT_ADMIN_ROLE",
    "setExcludedCategory": "DEFAULT_ADMIN_ROLE",
    "proposeRules": "DEFAULT_ADMIN_ROLE",
    "activateRules": "DEFAULT_ADMIN_ROLE",
    "cancelPendingRules": "DEFAULT_ADMIN_ROLE",
    "proposeFundingPlan": "DEFAULT_ADMIN_ROLE",
    "activateFundingPlan": "DEFAULT_ADMIN_ROLE",
    "cancelPendingFundingPlan": "DEFAULT_ADMIN_ROLE",
    "createRewardProgram": "PROGRAM_MANAGER_ROLE",
    "rewardBatch": "REWARDER_ROLE",
    "setPaused": "PAUSER_ROLE",
}
STAFF_FUNCTIONS = tuple(STAFF_ROLES)


def _selectors(contract: ContractName, names: Collection[str]) -> dict[str, str]:
    return {"0x" + selector(name, contract).hex(): name for name in names}


USER_SELECTORS = _selectors("VoucherToken", USER_FUNCTIONS)
STAFF_SELECTORS = _selectors("VoucherToken", STAFF_FUNCTIONS)
# The one registry call relayed: a lost wallet's key (frozen by the recovery it may veto, and
# holding no gas) cancels a recovery it did not ask for. Nothing else goes to the registry.
CANCEL_RECOVERY = "0x" + selector("cancelRecovery", "IdentityRegistry").hex()


@dataclass
class _Cached:
    value: tuple[int, bool]
    at: float


class _Bounded(OrderedDict[str, _Cached]):
    """A small LRU: strangers' addresses cannot grow the relayer's memory without bound."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: _Cached) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


_OUT_OF_GAS = ContractRevert("OutOfGas", {}, "", b"")  # a marker, never reported


class GasExhausted(Exception):  # noqa: N818 - the simulation ran out of the request's gas
    """The simulated call ran out of the gas its request grants."""


@dataclass
class ChainView:
    rpc: AsyncRpc
    manifest: Manifest
    identity_ttl_s: float = 5.0
    domain: ForwarderDomain = field(init=False)
    _identities: _Bounded = field(default_factory=lambda: _Bounded(100_000))
    _roles: _Bounded = field(default_factory=lambda: _Bounded(10_000))
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
        self._identities.put(account, _Cached(value, now))
        return value

    async def has_role(self, token: str, role: str, account: str) -> bool:
        """Whether ``account`` holds ``role`` in ``token``, cached like identities."""
        key = f"{token}:{role}:{account}"
        now = time.monotonic()
        cached = self._roles.get(key)
        if cached is not None and now - cached.at < self.identity_ttl_s:
            return cached.value[1]
        role_id = bytes(32) if role == "DEFAULT_ADMIN_ROLE" else keccak(text=role)
        raw = await self.rpc.eth_call(
            token, HAS_ROLE + abi_encode(["bytes32", "address"], [role_id, account])
        )
        held = bool(int.from_bytes(raw[:32], "big"))
        self._roles.put(key, _Cached((0, held), now))
        return held

    async def forwarder_nonce(self, signer: str) -> int:
        raw = await self.rpc.eth_call(
            self.manifest.forwarder, NONCES + abi_encode(["address"], [signer])
        )
        return int.from_bytes(raw[:32], "big")

    async def payment_seq(self, token: str, payer: str) -> int:
        """The payer's next payment sequence on ``token`` (``accountOf``'s last field): the
        nonce its next signed payment there must carry."""
        raw = await self.rpc.eth_call(token, ACCOUNT_OF + abi_encode(["address"], [payer]))
        return int.from_bytes(raw[-32:], "big")

    async def simulate_payment(self, token: str, calldata: bytes) -> ContractRevert | None:
        """Runs ``payBySig`` calldata as a plain call (any sender may submit a signed payment;
        the forwarder as sender would make the token read an appended ERC-2771 sender)."""
        try:
            await self.rpc.eth_call(token, calldata)
        except RpcError as exc:
            reply = {"code": exc.code, "message": exc.message, "data": exc.data}
            revert = revert_data_from_rpc_error(reply)
            if revert is None:
                raise
            return decode_revert(revert)
        return None

    def knows_token(self, address: str) -> bool:
        """Whether ``address`` is a municipal token already known (no call to the node)."""
        return address in self._targets

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

    async def simulate(
        self, signer: str, target: str, data: bytes, gas: int | None = None
    ) -> ContractRevert | None:
        """Runs the request's call as the forwarder would (sender appended, ERC-2771, with the
        gas the request grants) and returns the decoded custom error if it reverts. Raises
        :class:`GasExhausted` when the call runs out of that gas: either the node says so, or
        the call reverts without data and succeeds with more gas (an inner call ran dry)."""
        calldata = data + bytes.fromhex(signer[2:])
        revert = await self._call(target, calldata, gas)
        if revert is _OUT_OF_GAS:
            raise GasExhausted(f"the call needs more than {gas} gas")
        ran_dry = gas is not None and revert is not None and revert.name == "EmptyRevert"
        if ran_dry and await self._call(target, calldata, None) is None:
            raise GasExhausted(f"the call needs more than {gas} gas")
        return revert

    async def _call(self, target: str, calldata: bytes, gas: int | None) -> ContractRevert | None:
        # The forwarder gives the call exactly the request's gas; as a transaction's gas the
        # intrinsic cost and the calldata come on top of it.
        tx_gas = None if gas is None else gas + 21_000 + 16 * len(calldata)
        try:
            await self.rpc.eth_call(target, calldata, sender=self.manifest.forwarder, gas=tx_gas)
        except RpcError as exc:
            reply = {"code": exc.code, "message": exc.message, "data": exc.data}
            revert = revert_data_from_rpc_error(reply)
            if revert is None:
                if "gas" in exc.message.lower():
                    return _OUT_OF_GAS
                raise
            return decode_revert(revert)
        return None
