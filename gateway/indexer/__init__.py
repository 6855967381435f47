"""The chain indexer: follows the network's contracts and decodes every event into SQL."""

from gateway.indexer.decode import DecodedEvent, EventDecoder, EventValueError
from gateway.indexer.follower import (
    Indexer,
    IndexerError,
    Progress,
    ProgressCallback,
    ReorgTooDeepError,
    SyncReport,
)
from gateway.indexer.store import REORG_WINDOW, BlockRef, Checkpoint, IndexStore

__all__ = [
    "REORG_WINDOW",
    "BlockRef",
    "Checkpoint",
    "DecodedEvent",
    "EventDecoder",
    "EventValueError",
    "IndexStore",
    "Indexer",
    "IndexerError",
    "Progress",
    "ProgressCallback",
    "ReorgTooDeepError",
    "SyncReport",
]
