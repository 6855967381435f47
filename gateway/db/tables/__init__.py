"""Every table of the gateway, registered on one metadata for Alembic."""

import gateway.db.tables.access  # sign-in, API keys, staff and data-access logs
import gateway.db.tables.distribution  # distribution, settlement, fraud thresholds
import gateway.db.tables.index  # noqa: F401  (the indexer's tables)
from gateway.db.tables.relayer import batches, requests

__all__ = ["batches", "requests"]
