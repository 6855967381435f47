"""Roles come from the chain: the contracts' AccessControl grants, folded from the index.

The index keeps every RoleGranted/RoleRevoked of the tokens and the registry; a wallet's roles
are the grants not revoked since. Answers are cached for ``ttl_s`` (2 s), so a role revoked on
chain stops working within the indexer's lag (one block) plus that cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

from eth_utils.crypto import keccak
from sqlalchemy import Engine, select

from gateway.db.tables import index as t

__all__ = ["ROLE_NAMES", "RoleBook", "holders", "role_hash"]

ROLE_NAMES = (
    "DEFAULT_ADMIN_ROLE",  # a municipality's admin: rules, roles, thresholds, links
    "ISSUER_ROLE",  # sales agent
    "MERCHANT_REGISTRAR_ROLE",
    "PROGRAM_MANAGER_ROLE",
    "PAUSER_ROLE",
    "AUDITOR_ROLE",  # reads a municipality's personal data; granted on chain, so auditable
    "FRAUD_OFFICER_ROLE",  # fraud thresholds and declared links
    "REWARDER_ROLE",
    "REGISTRAR_ROLE",  # the identity registry's KYC registrars
)


def role_hash(name: str) -> str:
    """The bytes32 of a role as the index stores it (0x-hex): keccak of its name, zero for
    the admin role, as OpenZeppelin's AccessControl defines them."""
    if name == "DEFAULT_ADMIN_ROLE":
        return "0x" + "00" * 32
    return "0x" + keccak(text=name).hex()


_BY_HASH = {role_hash(name): name for name in ROLE_NAMES}

Roles = Mapping[str, frozenset[str]]
"""Contract (lower-case address) -> the role names held there."""


class RoleBook:
    """Who holds which role where, read from the index of ``chain_id``."""

    def __init__(self, engine: Engine, chain_id: int, *, ttl_s: float = 2.0, size: int = 10_000):
        self.engine, self.chain_id, self.ttl_s, self.size = engine, chain_id, ttl_s, size
        self._cache: OrderedDict[str, tuple[float, Roles]] = OrderedDict()
        self._lock = threading.Lock()

    def roles_of(self, address: str) -> Roles:
        key = address.lower()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._cache.move_to_end(key)
                return hit[1]
        roles = self._read(key)
        with self._lock:
            self._cache[key] = (now, roles)
            self._cache.move_to_end(key)
            while len(self._cache) > self.size:  # bounded: strangers cannot grow it forever
                self._cache.popitem(last=False)
        return roles

    def holds(self, address: str, role: str, contract: str) -> bool:
        return role in self.roles_of(address).get(contract.lower(), frozenset())

    def _read(self, account: str) -> Roles:
        r = t.role_changes.c
        query = (
            select(r.contract, r.role, r.action)
            .where(r.chain_id == self.chain_id, r.account == account)
            .where(r.action.in_(("granted", "revoked")))
            .order_by(r.block_number, r.log_index)
        )
        held: dict[tuple[str, str], bool] = {}
        with self.engine.connect() as conn:
            for contract, role, action in conn.execute(query):
                held[(str(contract).lower(), str(role).lower())] = action == "granted"
        out: dict[str, set[str]] = {}
        for (contract, role), granted in held.items():
            name = _BY_HASH.get(role)
            if granted and name is not None:
                out.setdefault(contract, set()).add(name)
        return {contract: frozenset(names) for contract, names in out.items()}


def holders(engine: Engine, chain_id: int, contract: str) -> dict[str, list[str]]:
    """Role name -> the accounts holding it in ``contract`` now (role holdership is public on
    chain; this is the same fold as :class:`RoleBook`, by contract instead of by account)."""
    r = t.role_changes.c
    query = (
        select(r.account, r.role, r.action)
        .where(r.chain_id == chain_id, r.contract == contract.lower())
        .where(r.action.in_(("granted", "revoked")))
        .order_by(r.block_number, r.log_index)
    )
    held: dict[tuple[str, str], bool] = {}
    with engine.connect() as conn:
        for account, role, action in conn.execute(query):
            held[(str(role).lower(), str(account).lower())] = action == "granted"
    out: dict[str, list[str]] = {}
    for (role, account), granted in sorted(held.items()):
        name = _BY_HASH.get(role)
        if granted and name is not None:
            out.setdefault(name, []).append(account)
    return out
