"""One merchant's lines in the issued settlement batches: what the bank was told to pay the
shop, for which of its redemptions (the merchant's own references), the line's status
(pending, released, paid, held for want of an account) and the account it is paid into,
masked; so a shop follows its settlement without seeing other shops' lines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from gateway.audit.payees import mask_account
from gateway.audit.payouts import payee_lines
from gateway.audit.settlement import get_batch
from gateway.db.tables import distribution as d
from gateway.db.tables.settlement import REDEMPTION, RELEASED

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
    status: str  # pending | released | paid | held
    reason: str | None  # why held: NoBankAccount
    released_in: str | None  # the batch whose bank file pays it (a later one if it was held)
    bank_code: str | None
    bank_account: str | None  # masked: ***-***-1234


def merchant_settlements(
    engine: Engine, chain_id: int, token: str, merchant: str
) -> list[MerchantSettlement]:
    """The merchant's lines in every issued batch of ``token``, oldest batch first."""
    s = d.settlement_batches.c
    with engine.connect() as conn:
        batches = {
            row.reference: row
            for row in conn.execute(
                select(d.settlement_batches)
                .where(s.chain_id == chain_id, s.token == token.lower())
                .order_by(s.since)
            )
        }
        stored = [p for p in payee_lines(conn, chain_id, token, merchant) if p.kind == REDEMPTION]
    by_batch = {p.reference: p for p in stored}
    out: list[MerchantSettlement] = []
    for reference, row in batches.items():
        line = by_batch.get(reference)
        if line is not None:
            out.append(
                MerchantSettlement(
                    reference, line.line_reference, line.amount, line.events, list(line.refs),
                    int(row.since), int(row.until), float(row.created_at),
                    row.status == RELEASED, line.status, line.reason, line.released_in,
                    line.bank_code, mask_account(line.bank_account),
                )
            )  # fmt: skip
        elif int(row.payable) == int(row.total) and int(row.redemptions) > 0 and row.total > 0:
            out.extend(_legacy(engine, chain_id, reference, merchant))
    return out


def _legacy(
    engine: Engine, chain_id: int, reference: str, merchant: str
) -> list[MerchantSettlement]:
    """A batch issued before payout lines were stored (0011): its lines from the index."""
    batch = get_batch(engine, chain_id, reference)
    if batch.lines:
        return []
    return [
        MerchantSettlement(
            batch.reference, line.line_reference, line.amount, line.redemptions, list(line.refs),
            batch.since, batch.until, batch.issued_at, batch.reconciled, RELEASED, None,
            batch.reference, None, None,
        )
        for line in batch.merchants
        if line.merchant.lower() == merchant.lower()
    ]  # fmt: skip
