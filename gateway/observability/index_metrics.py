"""The indexer's throughput; its lag behind the head is read at scrape (``scrape``)."""

from __future__ import annotations

from prometheus_client import Counter

from gateway.observability.registry import REGISTRY

__all__ = ["EVENTS_INGESTED"]

EVENTS_INGESTED = Counter(
    "dongne_indexer_events", "chain events decoded and written to the index", registry=REGISTRY
)
