"""What the chain already knows about a window's wallets, read before anything is sent.

``registerBatch`` is atomic (one wallet registered since the file was written reverts the
whole chunk) and a resumed import must not register twice, so every window asks the chain
first: each wallet's identity kind, and for merchants the token's record. Batched
``eth_call``s, a few hundred per JSON-RPC request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from chain.protocol.contracts import output_type, selector
from chain.protocol.hashing import parse_address
from chain.rpc import RpcClient
from gateway.errors import GatewayError

__all__ = ["CITIZEN", "KIND_NAMES", "MERCHANT", "NONE", "ChainMerchant", "ChainView"]

NONE, CITIZEN, MERCHANT = 0, 1, 2  # IIdentityRegistry.Kind
KIND_NAMES = {0: "none", 1: "citizen", 2: "merchant", 3: "institution"}
ACTIVE, SUSPENDED = 1, 2  # IVoucherTypes.MerchantStatus
_IDENTITY_OF = selector("identityOf", "IdentityRegistry")
_MERCHANT_OF = selector("merchantOf")
# merchantOf returns a static struct, one word a field: status is the 4th, bannedUntil the 6th.
_MERCHANT_WORDS = len(output_type("merchantOf").strip("()").split(","))
_STATUS_WORD, _BANNED_UNTIL_WORD = 3, 5
_NONCES = selector("nonces", "DongneForwarder")
_RPC_BATCH = 500  # calls per JSON-RPC batch: nodes cap batch sizes (Besu: 1,024)


@dataclass(frozen=True, slots=True)
class ChainMerchant:
    status: int
    banned_until: int

    @property
    def registered(self) -> bool:
        return self.status in (ACTIVE, SUSPENDED)


class ChainView:
    """Batched reads of the identity registry, one voucher token and the forwarder."""

    def __init__(self, rpc: RpcClient, registry: str, forwarder: str) -> None:
        self.rpc, self.registry, self.forwarder = rpc, registry, forwarder

    @staticmethod
    def _address_calls(function: bytes, wallets: Sequence[str]) -> list[bytes]:
        # By hand: eth-abi takes ~0.45 ms to encode one address, the whole of a window's
        # check at 100k rows.
        return [function + bytes(12) + parse_address(w) for w in wallets]

    def _calls(self, to: str, payloads: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for start in range(0, len(payloads), _RPC_BATCH):
            chunk = payloads[start : start + _RPC_BATCH]
            calls = [("eth_call", [{"to": to, "data": "0x" + p.hex()}, "latest"]) for p in chunk]
            out.extend(bytes.fromhex(str(r)[2:]) for r in self.rpc.batch(calls))
        return out

    def identities(self, wallets: Sequence[str]) -> list[tuple[int, bool]]:
        """``identityOf``: (kind, frozen) of each wallet."""
        raws = self._calls(self.registry, self._address_calls(_IDENTITY_OF, wallets))
        return [(int.from_bytes(r[:32], "big"), r[63] != 0) for r in raws]

    def merchants(self, token: str, wallets: Sequence[str]) -> list[ChainMerchant]:
        """The token's ``merchantOf`` record of each wallet (status 0: never registered)."""
        raws = self._calls(token, self._address_calls(_MERCHANT_OF, wallets))
        out = []
        for raw in raws:
            if len(raw) != 32 * _MERCHANT_WORDS:
                raise GatewayError("NodeUnavailable", f"merchantOf answered {len(raw)} bytes")
            word = [int.from_bytes(raw[32 * i : 32 * i + 32], "big") for i in range(6)]
            out.append(ChainMerchant(word[_STATUS_WORD], word[_BANNED_UNTIL_WORD]))
        return out

    def forwarder_nonce(self, signer: str) -> int:
        (data,) = self._address_calls(_NONCES, [signer])
        raw = self.rpc.eth_call({"to": self.forwarder, "data": "0x" + data.hex()})
        return int.from_bytes(raw[:32], "big")

    def block_timestamp(self) -> int:
        block = self.rpc.get_block("latest")
        return int(str(block["timestamp"]), 16) if block else int(time.time())

    def settle(self, sender: str, timeout: float = 120.0) -> None:
        """Waits until none of ``sender``'s transactions is pending: a run killed after
        sending leaves some in the pool, and a resume must see them mined before it checks
        who is registered (else it sends them again and its copy reverts)."""
        deadline = time.monotonic() + timeout
        while self.rpc.get_transaction_count(sender, "pending") > self.rpc.get_transaction_count(
            sender, "latest"
        ):
            if time.monotonic() > deadline:
                detail = f"transactions of {sender} are still pending after {timeout:.0f} s"
                raise GatewayError("NodeUnavailable", detail, {"sender": sender})
            time.sleep(0.2)
