"""Every table of the gateway, registered on one metadata for Alembic."""

import gateway.distribution_tables  # distribution, settlement, fraud thresholds
import gateway.index_tables  # noqa: F401  (the indexer's tables)
from gateway.relay_tables import batches, requests

__all__ = ["batches", "requests"]
