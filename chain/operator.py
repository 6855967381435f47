"""Transactions signed by an operator's or a municipality's own key, sent straight to a node.

Used by the CLI, the demo seeding and tests for what is not relayed: identity registration by
a KYC registrar, role grants, merchant registration, sales by an issuer, program commits. Raw
JSON-RPC (no web3) so seeding thousands of accounts stays fast; transactions are sent with
consecutive nonces and their receipts collected afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from chain.protocol.calls import (
    ProgramParams,
    encode_create_program,
    encode_issue,
    encode_register_merchant,
)
from chain.protocol.errors import (
    ContractRevert,
    DongneChainError,
    decode_revert,
    revert_data_from_rpc_error,
)
from chain.rpc import JSONObject, RpcClient, RpcError

KIND = {"citizen": 1, "merchant": 2, "institution": 3}
ROLES = ("ISSUER_ROLE", "MERCHANT_REGISTRAR_ROLE", "PROGRAM_MANAGER_ROLE", "PAUSER_ROLE")
PROGRAM_CREATED = (
    "0x"
    + keccak(
        text="ProgramCreated(uint256,bytes32,uint256,uint256,uint256,bool,uint24[],bytes32)"
    ).hex()
)


class TransactionFailed(DongneChainError, RuntimeError):  # noqa: N818 - reads as a fact
    """An operator transaction reverted; `revert` is the decoded custom error, if any."""

    def __init__(self, what: str, revert: ContractRevert | None, tx_hash: str | None) -> None:
        reason = f"{revert.name}{revert.args}" if revert is not None else "reverted"
        super().__init__(f"{what}: {reason}" + (f" (tx {tx_hash})" if tx_hash else ""))
        self.what = what
        self.revert = revert
        self.tx_hash = tx_hash


def role_id(name: str) -> bytes:
    return bytes(32) if name == "DEFAULT_ADMIN_ROLE" else keccak(text=name)


@dataclass
class Operator:
    rpc: RpcClient
    account: LocalAccount
    chain_id: int
    gas_price: int | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _price(self) -> int:
        if self.gas_price is None:
            self.gas_price = int(str(self.rpc.call("eth_gasPrice", [])), 16) * 2
        return self.gas_price

    def send(self, to: str, data: bytes, what: str = "transaction") -> JSONObject:
        return self.send_many([(to, data)], what)[0]

    def send_many(
        self, calls: Sequence[tuple[str, bytes]], what: str = "transaction", *, wait: bool = True
    ) -> list[JSONObject]:
        """Sends calls with consecutive nonces, then waits for every receipt. Each call's gas
        is estimated first, so a call that would revert fails with its custom error."""
        nonce = int(str(self.rpc.call("eth_getTransactionCount", [self.address, "pending"])), 16)
        hashes = []
        for i, (to, data) in enumerate(calls):
            tx_call = {"from": self.address, "to": to, "data": "0x" + data.hex()}
            try:
                gas = int(str(self.rpc.call("eth_estimateGas", [tx_call])), 16)
            except RpcError as exc:
                raw = revert_data_from_rpc_error(
                    {"code": exc.code, "message": exc.message, "data": exc.data}
                )
                revert = decode_revert(raw) if raw is not None else None
                raise TransactionFailed(f"{what} #{i}", revert, None) from exc
            tx = {
                "to": to,
                "data": data,
                "gas": gas + gas // 5,
                "gasPrice": self._price(),
                "nonce": nonce + i,
                "chainId": self.chain_id,
                "value": 0,
            }
            signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
            hashes.append(str(self.rpc.send_raw_transaction(bytes(signed.raw_transaction))))
        if not wait:
            return []
        receipts = [self.wait(h) for h in hashes]
        for i, receipt in enumerate(receipts):
            if int(str(receipt["status"]), 16) != 1:
                raise TransactionFailed(f"{what} #{i}", None, hashes[i])
        return receipts

    def wait(self, tx_hash: str, timeout: float = 120.0) -> JSONObject:
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.rpc.get_receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise TransactionFailed("waiting for receipt", None, tx_hash)
            time.sleep(0.05)

    # ------------------------------------------------------------------ network-wide

    def register(self, registry: str, accounts: Sequence[str], kind: str) -> None:
        """Registers wallets in the identity registry (the operator is a KYC registrar)."""
        for start in range(0, len(accounts), 500):
            chunk = list(accounts[start : start + 500])
            data = keccak(text="registerBatch(address[],uint8)")[:4] + abi_encode(
                ["address[]", "uint8"], [chunk, KIND[kind]]
            )
            self.send(registry, data, f"register {len(chunk)} {kind}s")

    def set_frozen(self, registry: str, account: str, frozen: bool) -> None:
        data = keccak(text="setFrozen(address,bool)")[:4] + abi_encode(
            ["address", "bool"], [account, frozen]
        )
        self.send(registry, data, "setFrozen")

    # ------------------------------------------------------------------ one municipality

    def grant_roles(self, token: str, account: str, roles: Sequence[str] = ROLES) -> None:
        calls = [
            (
                token,
                keccak(text="grantRole(bytes32,address)")[:4]
                + abi_encode(["bytes32", "address"], [role_id(r), account]),
            )
            for r in roles
        ]
        self.send_many(calls, "grantRole")

    def register_merchant(
        self, token: str, merchant: str, region: int, category: int, tier: int, market: bool
    ) -> None:
        data = encode_register_merchant(merchant, region, category, tier, market)
        self.send(token, data, "registerMerchant")

    def issue(self, token: str, buyer: str, face: int, paid: int) -> None:
        self.send(token, encode_issue(buyer, face, paid), "issue")

    def create_program(self, token: str, params: ProgramParams) -> int:
        receipt = self.send(token, encode_create_program(params), "createProgram")
        logs = receipt.get("logs")
        for entry in logs if isinstance(logs, list) else []:
            if isinstance(entry, dict):
                topics = entry.get("topics")
                if isinstance(topics, list) and topics and topics[0] == PROGRAM_CREATED:
                    return int(str(topics[1]), 16)
        raise TransactionFailed("createProgram", None, str(receipt.get("transactionHash")))

    def call_function(self, token: str, signature: str, args: Sequence[object]) -> JSONObject:
        """Any other function by its Solidity signature, e.g. `closeProgram(uint256)`."""
        return self.send(token, _encode_signature(signature, args), signature)


def _encode_signature(signature: str, args: Sequence[object]) -> bytes:
    types = signature[signature.index("(") + 1 : -1]
    type_list = [t for t in types.split(",") if t] if "(" not in types else None
    if type_list is None:
        raise ValueError("use chain.protocol.calls for struct arguments")
    return keccak(text=signature)[:4] + abi_encode(type_list, list(args))


__all__ = ["Operator", "TransactionFailed", "role_id"]
