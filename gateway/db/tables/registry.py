"""The city's registers beside the chain: who a merchant is (business name, registration
number, address, location, contact, bank account) and where a resident's cash goes.

The chain knows a merchant only as a wallet with a region, a KSIC category and a tier; a bank
cannot pay a wallet address and a resident cannot find a shop by it. These rows tie the
on-chain record to the business behind it. Private columns (bank account, contact, KYC
reference) are shown only to the person themselves, their city's staff and the settlement
bank: the public directory selects named public columns, never the row.

Addresses are lowercase ``0x`` hex, as in the index, so the two join without case folding.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from gateway.db.schema import metadata

ADDRESS = String(42)

# A merchant profile's life: `applied` (the merchant asked), `approved` (a registrar approved
# it; the on-chain registration is on its way), `registered` (the index saw MerchantRegistered
# for it), `rejected` (with the registrar's reason; the merchant may apply again).
APPLIED, APPROVED, REGISTERED, REJECTED = "applied", "approved", "registered", "rejected"

merchant_profiles = Table(
    "merchant_profiles",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("token", ADDRESS, primary_key=True),  # the municipality's voucher token
    Column("merchant", ADDRESS, primary_key=True),  # the shop's wallet
    # Public: what the directory shows.
    Column("business_name", String(200), nullable=False),
    Column("business_number", String(10), nullable=False),  # 사업자등록번호, digits only
    Column("address", Text, nullable=False),
    Column("legal_dong", String(10), nullable=False),  # 10-digit 법정동 code
    Column("category", Integer, nullable=False),  # KSIC
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("market", Integer, nullable=False, default=0),  # 1: a traditional-market stall
    # Private: the merchant, its city's staff and the settlement bank.
    Column("phone", String(32), nullable=True),
    Column("email", String(200), nullable=True),
    Column("bank_code", String(8), nullable=True),  # KFTC bank code, e.g. "004"
    Column("bank_account", String(32), nullable=True),
    Column("account_holder", String(100), nullable=True),
    # The application's state.
    Column("status", String(16), nullable=False),
    Column("tier", Integer, nullable=False, default=0),
    Column("reviewed_by", ADDRESS, nullable=True),
    Column("review_note", Text, nullable=True),
    Column("applied_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_merchant_profiles_name", "chain_id", "token", "business_name"),
    Index("ix_merchant_profiles_category", "chain_id", "token", "category"),
    Index("ix_merchant_profiles_dong", "chain_id", "legal_dong"),
    Index("ix_merchant_profiles_number", "chain_id", "business_number"),
)

# Where a resident's cash goes (a refund of the remaining purchased balance, an in-app
# purchase's refund), and the KYC reference their registration came from. Network-wide: a
# resident registers once and may hold any city's vouchers.
resident_accounts = Table(
    "resident_accounts",
    metadata,
    Column("chain_id", Integer, primary_key=True),
    Column("wallet", ADDRESS, primary_key=True),
    Column("kyc_ref", String(64), nullable=True),
    Column("bank_code", String(8), nullable=True),
    Column("bank_account", String(32), nullable=True),
    Column("account_holder", String(100), nullable=True),
    Column("updated_at", Float, nullable=False),
    Index("ix_resident_accounts_kyc", "chain_id", "kyc_ref"),
)

__all__ = [
    "APPLIED",
    "APPROVED",
    "REGISTERED",
    "REJECTED",
    "merchant_profiles",
    "resident_accounts",
]
