"""Who a wallet is in the registry: its kind, and the municipalities where it is a merchant.

The portal shows pages by this (a merchant's sales, a resident's pockets) next to the staff
roles of ``/v1/me``; both come from the chain through the index.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from gateway.db.tables import index as t
from gateway.queries.scope import chain_of, checksum

__all__ = ["KINDS", "WalletIdentity", "wallet_identity"]

KINDS = {1: "citizen", 2: "merchant", 3: "institution"}  # IIdentityRegistry.Kind


@dataclass(frozen=True, slots=True)
class WalletIdentity:
    kind: str | None  # citizen | merchant | institution; None when not registered
    frozen: bool
    merchant_in: list[str]  # tokens where the wallet is a registered merchant


def wallet_identity(engine: Engine, address: str, *, chain_id: int | None = None) -> WalletIdentity:
    who = address.lower()
    i, m = t.identities.c, t.merchants.c
    with engine.connect() as conn:
        chain = chain_of(conn, chain_id)
        row = conn.execute(
            select(i.kind, i.frozen).where(i.chain_id == chain, i.account == who)
        ).first()
        tokens = conn.execute(
            select(m.token).where(m.chain_id == chain, m.merchant == who).order_by(m.token)
        ).scalars()
        merchant_in = [checksum(token) for token in tokens]
    if row is None:
        return WalletIdentity(None, False, merchant_in)
    return WalletIdentity(KINDS.get(row.kind), bool(row.frozen), merchant_in)
