"""One merchant's lines in the issued settlement batches: what the bank was told to pay the
shop, and for which of its redemptions (the merchant's own references), so a shop sees its
redemptions' settlement status without seeing other shops' lines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from gateway.audit.settlement import list_batches

__all__ = ["MerchantSettlement", "merchant_settlements"]


@dataclass(frozen=True, slots=True)
class MerchantSettlement:
    reference: str  # the batch
    line_reference: str  # what the bank quotes back
    amount: int  # won to pay the merchant
    redemptions: int
    refs: list[str]  # the merchant's references on the redemptions this line pays
    since: int
    until: int
    issued_at: float | None
    reconciled: bool  # the batch's redemptions all matched their burns


def merchant_settlements(
    engine: Engine, chain_id: int, token: str, merchant: str
) -> list[MerchantSettlement]:
    """The merchant's lines in every issued batch of ``token``, oldest batch first."""
    who = merchant.lower()
    out: list[MerchantSettlement] = []
    for batch in list_batches(engine, chain_id, token):
        for line in batch.merchants:
            if line.merchant.lower() != who:
                continue
            out.append(
                MerchantSettlement(
                    reference=batch.reference,
                    line_reference=line.line_reference,
                    amount=line.amount,
                    redemptions=line.redemptions,
                    refs=list(line.refs),
                    since=batch.since,
                    until=batch.until,
                    issued_at=batch.issued_at,
                    reconciled=batch.reconciled,
                )
            )
    return out
