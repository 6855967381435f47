"""Transactions signed by an operator's or a municipality's own key, sent straight to a node.

Used by the CLI, the demo seeding and tests for what is not relayed: identity registration by
a KYC registrar, role grants, merchant registration, sales by an issuer, program commits. Raw
JSON-RPC (no web3) so seeding thousands of accounts stays fast; transactions are sent with
consecutive nonces and their receipts collected afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.protocol.calls import (
    ProgramParams,
    RewardParams,
    Rules,
    encode_create_program,
    encode_create_reward_program,
    encode_issue,
    encode_register_merchant,
)
from chain.protocol.contracts import encode_function, event_topic
from chain.protocol.staff import PreparedCall, operation, parse_values, prepare, role_id
from chain.rpc import JSONObject
from chain.sender import Sender, TransactionFailed
from chain.staff import complete

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

    def set_frozen(self, registry: str, account: str, frozen: bool) -> JSONObject:
        return self.staff(registry, "freeze" if frozen else "unfreeze", account=account)

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

    # ------------------------------------------------------------------ staff operations
    # One generic sender over chain.protocol.staff's table, and a named method per operation
    # so callers (CLI, scenarios, seeding) never encode an admin call by hand.

    def chain_time(self) -> int:
        """The latest block's time: a ban's year counts from the chain's clock."""
        block = self.rpc.get_block("latest")
        return int(str(block["timestamp"]), 16) if block else 0

    def prepare_staff(self, target: str, name: str, **raw: object) -> PreparedCall:
        """The call of staff operation ``name`` (see ``chain.protocol.staff.OPERATIONS``)."""
        op = operation(name)
        values = complete(self.rpc, target, op, parse_values(op, raw))
        return prepare(op, values, self.chain_time())

    def staff(self, target: str, name: str, **raw: object) -> JSONObject:
        """Sends staff operation ``name`` to ``target`` (a token, or the identity registry
        for freeze/unfreeze); its receipt."""
        call = self.prepare_staff(target, name, **raw)
        return self.send(target, call.data, call.function)

    def suspend_merchant(self, token: str, merchant: str) -> JSONObject:
        return self.staff(token, "merchant-suspend", merchant=merchant)

    def reactivate_merchant(self, token: str, merchant: str) -> JSONObject:
        return self.staff(token, "merchant-reactivate", merchant=merchant)

    def cancel_merchant(self, token: str, merchant: str) -> JSONObject:
        return self.staff(token, "merchant-cancel", merchant=merchant)

    def ban_merchant(self, token: str, merchant: str, days: int = 365) -> JSONObject:
        """Cancels the registration and bars re-registration for ``days`` (a year by rule)."""
        return self.staff(token, "merchant-ban", merchant=merchant, days=days)

    def set_merchant_tier(
        self, token: str, merchant: str, tier: int, category: int | None = None
    ) -> JSONObject:
        return self.staff(token, "merchant-tier", merchant=merchant, tier=tier, category=category)

    def set_paused(self, token: str, paused: bool) -> JSONObject:
        return self.staff(token, "pause" if paused else "unpause")

    def set_institution_limits(
        self, token: str, institution: str, per_payment: int, per_month: int
    ) -> JSONObject:
        return self.staff(token, "institution-limits", institution=institution,
                          per_payment=per_payment, per_month=per_month)  # fmt: skip

    def set_institution_category(self, token: str, category: int, blocked: bool) -> JSONObject:
        """Blocks (or allows) a category for every institution wallet of the city."""
        return self.staff(token, "institution-category", category=category, blocked=blocked)

    def set_excluded_category(self, token: str, category: int, excluded: bool) -> JSONObject:
        return self.staff(token, "exclusion", category=category, excluded=excluded)

    def propose_rules(self, token: str, rules: Rules) -> JSONObject:
        return self.staff(token, "rules-propose", rules=rules)

    def activate_rules(self, token: str) -> JSONObject:
        return self.staff(token, "rules-activate")

    def cancel_pending_rules(self, token: str) -> JSONObject:
        return self.staff(token, "rules-cancel")

    def close_program(self, token: str, program_id: int) -> JSONObject:
        return self.staff(token, "program-close", program_id=program_id)


__all__ = ["Operator", "TransactionFailed", "role_id"]
