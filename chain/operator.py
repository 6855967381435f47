"""Transactions signed by an operator's or a municipality's own key, sent straight to a node.

Used by the CLI, the demo seeding and tests for what is not relayed: identity registration by
a KYC registrar, role grants, merchant registration, sales by an issuer, program commits. Raw
JSON-RPC (no web3) so seeding thousands of accounts stays fast; transactions are sent with
consecutive nonces and their receipts collected afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils.crypto import keccak

from chain.protocol.calls import (
    ProgramParams,
    RewardParams,
    encode_create_program,
    encode_create_reward_program,
    encode_issue,
    encode_register_merchant,
)
from chain.protocol.contracts import encode_function, event_topic
from chain.rpc import JSONObject
from chain.sender import Sender, TransactionFailed

KIND = {"citizen": 1, "merchant": 2, "institution": 3}
# The municipal roles the local network's operator takes (its city staff is one key). AccessControl
# grants any bytes32 role; AUDITOR_ROLE and FRAUD_OFFICER_ROLE gate only the gateway's routes.
ROLES = (
    "ISSUER_ROLE",
    "MERCHANT_REGISTRAR_ROLE",
    "PROGRAM_MANAGER_ROLE",
    "PAUSER_ROLE",
    "AUDITOR_ROLE",
    "FRAUD_OFFICER_ROLE",
)
PROGRAM_CREATED = event_topic("ProgramCreated")


def role_id(name: str) -> bytes:
    return bytes(32) if name == "DEFAULT_ADMIN_ROLE" else keccak(text=name)


def _program_id(receipt: JSONObject, what: str) -> int:
    """The id in the receipt's ``ProgramCreated`` (a reward program emits one too)."""
    logs = receipt.get("logs")
    for entry in logs if isinstance(logs, list) else []:
        if isinstance(entry, dict):
            topics = entry.get("topics")
            if isinstance(topics, list) and topics and topics[0] == PROGRAM_CREATED:
                return int(str(topics[1]), 16)
    raise TransactionFailed(what, None, str(receipt.get("transactionHash")))


class Operator(Sender):
    """A :class:`~chain.sender.Sender` with the staff calls Dongne's tools make."""

    def send_calls(
        self, calls: Sequence[tuple[str, bytes]], what: str = "transaction", *, wait: bool = True
    ) -> list[JSONObject]:
        """Calls without value to existing contracts, with consecutive nonces."""
        return self.send_many([(to, data, 0) for to, data in calls], what, wait=wait)

    # ------------------------------------------------------------------ network-wide

    def register(self, registry: str, accounts: Sequence[str], kind: str) -> None:
        """Registers wallets in the identity registry (the operator is a KYC registrar)."""
        for start in range(0, len(accounts), 500):
            chunk = list(accounts[start : start + 500])
            data = encode_function("registerBatch", [chunk, KIND[kind]], "IdentityRegistry")
            self.send(registry, data, f"register {len(chunk)} {kind}s")

    def set_frozen(self, registry: str, account: str, frozen: bool) -> None:
        data = encode_function("setFrozen", [account, frozen], "IdentityRegistry")
        self.send(registry, data, "setFrozen")

    # ------------------------------------------------------------------ one municipality

    def grant_roles(self, token: str, account: str, roles: Sequence[str] = ROLES) -> None:
        calls = [(token, encode_function("grantRole", [role_id(r), account])) for r in roles]
        self.send_calls(calls, "grantRole")

    def register_merchant(
        self, token: str, merchant: str, region: int, category: int, tier: int, market: bool
    ) -> None:
        data = encode_register_merchant(merchant, region, category, tier, market)
        self.send(token, data, "registerMerchant")

    def issue(self, token: str, buyer: str, face: int, paid: int) -> None:
        self.send(token, encode_issue(buyer, face, paid), "issue")

    def create_program(self, token: str, params: ProgramParams) -> int:
        receipt = self.send(token, encode_create_program(params), "createProgram")
        return _program_id(receipt, "createProgram")

    def create_reward_program(self, token: str, params: RewardParams) -> int:
        receipt = self.send(token, encode_create_reward_program(params), "createRewardProgram")
        return _program_id(receipt, "createRewardProgram")

    def call_function(self, token: str, function: str, args: Sequence[object]) -> JSONObject:
        """Any other function of the token by its name, e.g. ``closeProgram``."""
        return self.send(token, encode_function(function, args), function)


__all__ = ["Operator", "TransactionFailed", "role_id"]
