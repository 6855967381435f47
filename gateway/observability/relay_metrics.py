"""The relayer's timings and sizes, observed where the work happens; its counts (sent, dropped,
resent...), queues and key balances are read at scrape time (``scrape``)."""

from __future__ import annotations

from prometheus_client import Histogram

from gateway.observability.registry import REGISTRY

__all__ = [
    "BATCH_SIZE",
    "INTAKE_ACCEPTED",
    "INTAKE_REFUSED",
    "INTAKE_REPEATED",
    "INTAKE_SECONDS",
    "TIME_TO_FINAL",
]

# Intake is CPU-bound (~700 requests/s): one observation on a child resolved once per outcome.
INTAKE_SECONDS = Histogram(
    "dongne_relay_intake_seconds",
    "from a signed request's arrival to its answer (stored, or refused), by outcome",
    ["outcome"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip
INTAKE_ACCEPTED = INTAKE_SECONDS.labels(outcome="accepted")
INTAKE_REPEATED = INTAKE_SECONDS.labels(outcome="repeated")  # the same request sent again
INTAKE_REFUSED = INTAKE_SECONDS.labels(outcome="refused")

BATCH_SIZE = Histogram(
    "dongne_relay_batch_size", "requests per executeBatch transaction sent", registry=REGISTRY,
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)  # fmt: skip
TIME_TO_FINAL = Histogram(
    "dongne_relay_time_to_final_seconds",
    "from a request's acceptance to its final state (succeeded or failed)",
    ["status"], registry=REGISTRY,
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 900),
)  # fmt: skip
