"""The one loop that sends a key's own transactions: estimate, sign, send, wait for receipts.

Everything Dongne sends outside the relayer goes through :class:`Sender`: deployments, the
operator's and cities' staff calls, distribution pushes, benchmarks' setup. One gas-price
policy and one way to report a revert (:class:`TransactionFailed` with the decoded custom
error) instead of one per caller. Raw JSON-RPC, no web3: seeding thousands of accounts stays
fast. The relayer keeps its own batcher (pipelined batches under a key pool).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from chain.protocol.errors import (
    ContractRevert,
    DongneChainError,
    decode_revert,
    revert_data_from_rpc_error,
)
from chain.protocol.hashing import parse_address, to_checksum
from chain.rpc import JSONObject, RpcClient, RpcError

__all__ = ["Call", "Sender", "SignedTransaction", "TransactionFailed", "gas_limit"]

Call = tuple[str | None, bytes, int]
"""``(to, data, value)``; ``to=None`` deploys ``data`` as init code."""


class TransactionFailed(DongneChainError, RuntimeError):  # noqa: N818 - reads as a fact
    """A transaction reverted or never got a receipt; ``revert`` is the decoded custom error
    where the node told it (always, for a revert caught by the gas estimate)."""

    def __init__(
        self,
        what: str,
        revert: ContractRevert | None,
        tx_hash: str | None,
        reason: str = "reverted",
    ) -> None:
        if revert is not None:
            reason = f"{revert.name}{revert.args}"
        super().__init__(f"{what}: {reason}" + (f" (tx {tx_hash})" if tx_hash else ""))
        self.what = what
        self.revert = revert
        self.tx_hash = tx_hash


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    tx_hash: str
    nonce: int
    raw: bytes


def gas_limit(estimate: int) -> int:
    """The limit signed for an estimate: a quarter more, for state that changes between the
    estimate and inclusion (a grant batch's bitmap, a cap's counter). Only the limit, never
    the gas used, depends on it."""
    return estimate + estimate // 4


@dataclass
class Sender:
    """Sends ``account``'s transactions with consecutive nonces from the node's pending count.

    ``gas_price`` fixes the price; by default it is read once from the node: twice the latest
    base fee, or the node's suggestion if higher (a zero-gas network answers 0 for both). Not
    twice ``eth_gasPrice``: anvil suggests from recent prices, so senders doubling its
    suggestion would double the price sender after sender.
    """

    rpc: RpcClient
    account: LocalAccount
    chain_id: int
    gas_price: int | None = None
    receipt_timeout: float = 120.0

    @property
    def address(self) -> str:
        return str(self.account.address)

    def price(self) -> int:
        if self.gas_price is None:
            block = self.rpc.get_block("latest")
            base_fee = int(str(block.get("baseFeePerGas", "0x0")), 16) if block else 0
            suggested = int(str(self.rpc.call("eth_gasPrice", [])), 16)
            self.gas_price = max(2 * base_fee, suggested)
        return self.gas_price

    def estimate(self, call: Call, what: str) -> int:
        """The gas ``call`` needs; a call that would revert raises with its custom error."""
        to, data, value = call
        params: dict[str, object] = {"from": self.address, "data": "0x" + data.hex()}
        if value:
            params["value"] = hex(value)
        if to is not None:
            params["to"] = to
        try:
            return int(str(self.rpc.call("eth_estimateGas", [params])), 16)
        except RpcError as exc:
            raw = revert_data_from_rpc_error(
                {"code": exc.code, "message": exc.message, "data": exc.data}
            )
            revert = decode_revert(raw) if raw is not None else None
            raise TransactionFailed(what, revert, None, exc.message) from exc

    def sign(self, call: Call, *, nonce: int, gas: int) -> SignedTransaction:
        to, data, value = call
        tx: dict[str, object] = {
            "data": data,
            "value": value,
            "gas": gas,
            "gasPrice": self.price(),
            "nonce": nonce,
            "chainId": self.chain_id,
        }
        if to is not None:
            tx["to"] = to_checksum(parse_address(to))  # eth-account refuses lower-case
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        return SignedTransaction(
            "0x" + bytes(signed.hash).hex(), nonce, bytes(signed.raw_transaction)
        )

    def prepare(self, call: Call, what: str, *, nonce: int | None = None) -> SignedTransaction:
        """Estimate and sign ``call`` without sending it (for callers that record the hash
        before the transaction leaves, as the distribution pusher does)."""
        gas = gas_limit(self.estimate(call, what))
        if nonce is None:
            nonce = self.rpc.get_transaction_count(self.address, "pending")
        return self.sign(call, nonce=nonce, gas=gas)

    def send(
        self, to: str | None, data: bytes, what: str = "transaction", value: int = 0
    ) -> JSONObject:
        return self.send_many([(to, data, value)], what)[0]

    def send_many(
        self, calls: Sequence[Call], what: str = "transaction", *, wait: bool = True
    ) -> list[JSONObject]:
        """Sends ``calls`` with consecutive nonces, then waits for every receipt (unless
        ``wait`` is false) and raises if any reverted. Each call's gas is estimated first,
        so a call that would revert fails here with its custom error, before anything of
        the later calls is sent."""
        nonce = self.rpc.get_transaction_count(self.address, "pending")
        hashes = []
        for i, call in enumerate(calls):
            label = what if len(calls) == 1 else f"{what} #{i}"
            signed = self.sign(call, nonce=nonce + i, gas=gas_limit(self.estimate(call, label)))
            hashes.append(str(self.rpc.send_raw_transaction(signed.raw)))
        if not wait:
            return []
        receipts = [self.wait(h, what) for h in hashes]
        for i, receipt in enumerate(receipts):
            if int(str(receipt["status"]), 16) != 1:
                raise TransactionFailed(
                    what if len(calls) == 1 else f"{what} #{i}", None, hashes[i]
                )
        return receipts

    def wait(self, tx_hash: str, what: str = "waiting for receipt") -> JSONObject:
        """The receipt of ``tx_hash``, polled with a growing pause up to ``receipt_timeout``."""
        deadline = time.monotonic() + self.receipt_timeout
        pause = 0.005
        while (receipt := self.rpc.get_receipt(tx_hash)) is None:
            if time.monotonic() > deadline:
                raise TransactionFailed(f"{what}: no receipt", None, tx_hash)
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
        return receipt
