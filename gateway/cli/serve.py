"""`dongne gateway`: the gateway alone (no node, no deploy), as one replica or N on one port.

Settings come from the environment as for every gateway process (``DONGNE_DATABASE_URL``,
``DONGNE_RPC_URL``, ``DONGNE_MANIFEST_PATH``, ``DONGNE_RELAYER_KEYS``...). With ``--replicas N``
the N processes share the port through SO_REUSEPORT (gateway.devnet.replicas) and the relaying
through shard leases (gateway.relayer.shards); several replicas want PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import JsonOut, console, run_action


def gateway(
    replicas: Annotated[
        int, typer.Option(min=1, help="Gateway processes sharing the port (SO_REUSEPORT).")
    ] = 1,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    replica_id: Annotated[
        str | None,
        typer.Option(
            envvar="DONGNE_REPLICA_ID",
            help="Base of the replicas' ids (<id>-0, <id>-1...; default: the host name). "
            "Stable across restarts, unique per machine.",
        ),
    ] = None,
    log_dir: Annotated[
        Path | None, typer.Option(help="Write each replica's log to <dir>/gateway-<i>.log.")
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """Run gateway replicas on one port until SIGTERM or Ctrl-C, restarting any that exits.

    Example: DONGNE_DATABASE_URL=postgresql://dongne@db/dongne DONGNE_RELAYER_KEYS='["0x.."]'
    dongne gateway --replicas 4 --host 0.0.0.0 --port 8000
    """
    from gateway.devnet.replicas import ReplicaSet

    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    env = {"DONGNE_REPLICA_ID": replica_id} if replica_id else {}
    group = ReplicaSet(env, replicas, host=host, port=port, log_dir=log_dir)
    run_action(group.start)
    ids = [group.replica_id(i) for i in range(replicas)]
    if as_json:
        print(json.dumps({"url": group.url, "replicas": ids}), flush=True)
    else:
        console.print(f"gateway on {group.url}: {replicas} replica(s) {', '.join(ids)}")
    try:
        while not stop.wait(1.0):
            for i in group.restart_exited():
                console.print(f"replica {group.replica_id(i)} exited: started again")
    finally:
        group.stop()
