"""What the gateway tells its operator: Prometheus metrics (one module per concern, all on
one registry, ``registry``) and structured logs carrying a request id (``logs``).

The metric objects live here, at floor 2, so the services that do the work (relayer, indexer,
database) update them in place; chain/ (floor 1) reports its JSON-RPC calls through the
observer hook of its clients (``rpc_metrics.observe_rpc``). gateway.http serves ``/metrics``.
"""
