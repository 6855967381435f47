"""HTTP requests by route template (never the raw path: bounded label values) and status."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from gateway.observability.registry import REGISTRY

__all__ = ["HTTP_REQUESTS", "HTTP_SECONDS", "PREFLIGHT_ROUTE", "UNMATCHED_ROUTE"]

# A path no route matched (404s, scanners): one label value, whatever was asked.
UNMATCHED_ROUTE = "<unmatched>"
# A CORS preflight answered by the CORS middleware before routing: no route, yet not a miss.
PREFLIGHT_ROUTE = "<preflight>"

HTTP_REQUESTS = Counter(
    "dongne_http_requests", "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"], registry=REGISTRY,
)  # fmt: skip
HTTP_SECONDS = Histogram(
    "dongne_http_request_duration_seconds", "time to answer an HTTP request",
    ["method", "route"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)  # fmt: skip
