"""Read models over the index: what wallets, city staff and the API ask for.

Pure functions of an Engine returning frozen dataclasses. Addresses are taken in any case and
answered in EIP-55 checksum form. Every figure is derived from indexed events (the chain is the
source of truth). The chain id defaults to the one chain the database indexes.
"""

from gateway.queries.funding import FunderTotal, Funding, FundingShare, FundingVersion, funding
from gateway.queries.identity import WalletIdentity, wallet_identity
from gateway.queries.invoices import (
    Invoice,
    InvoicePage,
    InvoiceStatus,
    merchant_invoices,
    payment_requests,
)
from gateway.queries.merchant_list import MerchantPage, MerchantRecord, merchant_list
from gateway.queries.merchants import MerchantSales, merchant_sales
from gateway.queries.municipalities import (
    Dashboard,
    IndexerStatus,
    Municipality,
    ProgramSummary,
    dashboard,
    indexer_status,
    municipalities,
    municipality,
    program,
    programs,
)
from gateway.queries.rules import MonthlyCaps, RuleChange, RulesView, monthly_caps, rules_view
from gateway.queries.scope import MAX_PAGE, InvalidCursorError
from gateway.queries.series import DailyBucket, DailySeries, daily_series
from gateway.queries.wallets import (
    HistoryItem,
    HistoryPage,
    Pocket,
    TokenBalance,
    balances,
    decode_cursor,
    encode_cursor,
    history,
)

__all__ = [
    "MAX_PAGE",
    "DailyBucket",
    "DailySeries",
    "Dashboard",
    "FunderTotal",
    "Funding",
    "FundingShare",
    "FundingVersion",
    "HistoryItem",
    "HistoryPage",
    "IndexerStatus",
    "InvalidCursorError",
    "Invoice",
    "InvoicePage",
    "InvoiceStatus",
    "MerchantPage",
    "MerchantRecord",
    "MerchantSales",
    "MonthlyCaps",
    "Municipality",
    "Pocket",
    "ProgramSummary",
    "RuleChange",
    "RulesView",
    "TokenBalance",
    "WalletIdentity",
    "balances",
    "daily_series",
    "dashboard",
    "decode_cursor",
    "encode_cursor",
    "funding",
    "history",
    "indexer_status",
    "merchant_invoices",
    "merchant_list",
    "merchant_sales",
    "monthly_caps",
    "municipalities",
    "municipality",
    "payment_requests",
    "program",
    "programs",
    "rules_view",
    "wallet_identity",
]
