"""Read models over the index: what wallets, city staff and the API ask for.

Pure functions of an Engine returning frozen dataclasses. Addresses are taken in any case and
answered in EIP-55 checksum form. Every figure is derived from indexed events (the chain is the
source of truth). The chain id defaults to the one chain the database indexes.
"""

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
    "HistoryItem",
    "HistoryPage",
    "IndexerStatus",
    "InvalidCursorError",
    "MerchantSales",
    "Municipality",
    "Pocket",
    "ProgramSummary",
    "TokenBalance",
    "balances",
    "dashboard",
    "decode_cursor",
    "encode_cursor",
    "history",
    "indexer_status",
    "merchant_sales",
    "municipalities",
    "municipality",
    "program",
    "programs",
]
