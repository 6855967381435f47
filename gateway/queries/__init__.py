"""Read models over the index: what wallets, city staff and the API ask for.

Pure functions of an Engine returning frozen dataclasses. Addresses are taken in any case and
answered in EIP-55 checksum form. Every figure is derived from indexed events (the chain is the
source of truth). The chain id defaults to the one chain the database indexes.
"""

from gateway.queries.funding import FunderTotal, Funding, FundingShare, FundingVersion, funding
from gateway.queries.invoices import (
    Invoice,
    InvoicePage,
    InvoiceStatus,
    merchant_invoices,
    payment_requests,
)
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
from gateway.queries.scope import MAX_PAGE, InvalidCursorError
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
    "MerchantSales",
    "Municipality",
    "Pocket",
    "ProgramSummary",
    "TokenBalance",
    "balances",
    "dashboard",
    "decode_cursor",
    "encode_cursor",
    "funding",
    "history",
    "indexer_status",
    "merchant_invoices",
    "merchant_sales",
    "municipalities",
    "municipality",
    "payment_requests",
    "program",
    "programs",
]
