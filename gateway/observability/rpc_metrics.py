"""JSON-RPC calls to the node, by method: plugged into chain/'s clients as their observer."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from chain.rpc import NodeUnavailableError, RpcError
from gateway.observability.registry import REGISTRY

__all__ = ["RPC_CALLS", "RPC_ERRORS", "RPC_SECONDS", "observe_rpc"]

RPC_CALLS = Counter(
    "dongne_rpc_calls", "JSON-RPC calls made to the node, by method", ["method"],
    registry=REGISTRY,
)  # fmt: skip
RPC_ERRORS = Counter(
    "dongne_rpc_errors",
    "JSON-RPC calls that failed, by method and kind (rpc: the node's error object, a revert "
    "included; unavailable: no answer)",
    ["method", "kind"], registry=REGISTRY,
)  # fmt: skip
RPC_SECONDS = Histogram(
    "dongne_rpc_duration_seconds", "JSON-RPC round trip (a batched call: its batch's)",
    ["method"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30),
)  # fmt: skip

_KINDS = ("rpc", "unavailable")

# Children per method, resolved once: labels() costs more than the observation itself, and
# simulations call this hundreds of times a second. Methods are our own code's, a short list.
_children: dict[str, tuple[Counter, Histogram]] = {}


def observe_rpc(method: str, seconds: float, error: BaseException | None) -> None:
    """A ``chain.rpc.RpcObserver``."""
    children = _children.get(method)
    if children is None:
        children = _children[method] = (
            RPC_CALLS.labels(method=method),
            RPC_SECONDS.labels(method=method),
        )
        for kind in _KINDS:  # a method's error series exist at 0 (rates need a start)
            RPC_ERRORS.labels(method=method, kind=kind)
    children[0].inc()
    children[1].observe(seconds)
    if error is not None:
        kind = "unavailable" if isinstance(error, NodeUnavailableError) else "rpc"
        if not isinstance(error, NodeUnavailableError | RpcError):
            kind = "other"
        RPC_ERRORS.labels(method=method, kind=kind).inc()
