"""State read at scrape time: what the relayer and the indexer already hold in memory (counts,
queues, balances, how far the index trails the head) becomes metric families on demand, so
their hot paths keep no second copy of it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import fields

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.indexer.follower import Indexer
from gateway.relayer.service import Relayer

__all__ = ["GatewayState"]

# Stats fields and what they count (each exported as dongne_relay_<field>_total).
_STATS_HELP = {
    "batches_sent": "executeBatch transactions sent",
    "requests_sent": "requests put in batches",
    "succeeded": "requests that succeeded on chain",
    "failed": "requests that ended failed",
    "requeued": "requests requeued after a skip or drop",
    "refused_unsent": "requests failed by simulation, never sent",
    "resent": "batch transactions sent again (not mined in time)",
    "dropped": "batch transactions the node refused or replaced (requests requeued)",
    "adopted": "requests stored by another replica, taken up by their shard's owner here",
    "gas_used": "gas used by mined batches",
}


class GatewayState(Collector):
    """The relayer's and the indexer's state as metric families (either may be absent: a
    replica that does not index, or an app not started)."""

    def __init__(self, relayer: Relayer | None, indexer: Indexer | None) -> None:
        self.relayer = relayer
        self.indexer = indexer

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        if self.relayer is not None:
            yield from _relayer(self.relayer)
        if self.indexer is not None:
            yield from _indexer(self.indexer)


def _relayer(relayer: Relayer) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
    stats = relayer.stats  # every shard's, across takeovers: counters never go down
    for f in fields(stats):
        yield CounterMetricFamily(
            f"dongne_relay_{f.name}", _STATS_HELP[f.name], value=getattr(stats, f.name)
        )
    refused = CounterMetricFamily(
        "dongne_relay_overload_refused", "submissions refused 503 Overloaded, by reason "
        "(intake_full: too many being checked; backlog: the backlog would not drain in time)",
        labels=["reason"],
    )  # fmt: skip
    for reason, count in relayer.intake.admission.refused.items():
        refused.add_metric([reason], count)
    yield refused
    admission = relayer.intake.admission
    yield GaugeMetricFamily(
        "dongne_relay_intake_limit", "submissions the intake checks at once before refusing "
        "(the adaptive limit, aimed at intake_target_ms)", value=admission.limit.limit,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "dongne_relay_intake_in_flight", "submissions being checked and stored now",
        value=admission.in_flight,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "dongne_relay_relaying", "1 while this replica batches at least one shard",
        value=int(relayer.relaying),
    )  # fmt: skip
    yield GaugeMetricFamily(
        "dongne_relay_shards_held", "shards (relayer keys) this replica batches",
        value=len(relayer.batchers),
    )  # fmt: skip
    batchers = list(relayer.batchers.values())
    yield GaugeMetricFamily(
        "dongne_relay_in_flight_batches", "batches sent and not yet final",
        value=sum(len(b.in_flight) for b in batchers),
    )  # fmt: skip
    yield GaugeMetricFamily(
        "dongne_relay_held_requests", "requests held in memory (queued, parked or in flight)",
        value=relayer.nonces.held(),
    )  # fmt: skip
    yield GaugeMetricFamily(
        "dongne_relay_parked_requests",
        "held requests behind a nonce gap (not counted as backlog by admission control)",
        value=relayer.nonces.parked(),
    )
    # One shard per relayer key: a signer's requests always go through the same key.
    depth = GaugeMetricFamily(
        "dongne_relay_queue_depth", "requests waiting to be batched, per shard this replica "
        "holds (labelled by its relayer key)", labels=["key"],
    )  # fmt: skip
    for b in batchers:
        depth.add_metric([b.keys[0].address], sum(len(q) for q in list(b.waiting.values())))
    yield depth
    balance = GaugeMetricFamily(
        "dongne_relayer_key_balance_wei", "relayer key balances (last refresh)", labels=["key"]
    )
    for key in relayer.keys:
        if key.balance is not None:
            balance.add_metric([key.address], key.balance)
    yield balance


def _indexer(indexer: Indexer) -> Iterator[GaugeMetricFamily]:
    lag = indexer.lag(time.time())
    if lag.head is not None:
        yield GaugeMetricFamily("dongne_indexer_head_block", "chain head last seen", value=lag.head)
    yield GaugeMetricFamily(
        "dongne_indexer_head_lag_blocks", "blocks between the head (less confirmations) and the "
        "index's checkpoint", value=lag.blocks,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "dongne_indexer_head_lag_seconds",
        "seconds since the index last reached the head (grows while the node or the database "
        "is unavailable, or while catching up)", value=lag.seconds,
    )  # fmt: skip
