"""Every table of the gateway, registered on one metadata for Alembic."""

import gateway.db.tables.access  # sign-in, API keys, staff and data-access logs
import gateway.db.tables.distribution  # distribution, settlement, fraud thresholds
import gateway.db.tables.index  # the indexer's tables
import gateway.db.tables.onboarding  # bulk import jobs and their per-row errors
import gateway.db.tables.purchase  # in-app purchases: sale discount, orders, webhook events
import gateway.db.tables.registry  # merchant profiles, residents' accounts
import gateway.db.tables.settlement  # noqa: F401  (settlement batches' payout lines)
from gateway.db.tables.relayer import batches, requests

__all__ = ["batches", "requests"]
