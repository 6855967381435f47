"""`dongne indexer`: the indexer as its own process, one per database.

Gateway replicas sharing the database then run with ``DONGNE_EMBEDDED_INDEXER=false`` and serve
what this process writes; the relayer's CPU is no longer shared with decoding and inserts.
Rows and checkpoint are written in one transaction per range, so a process killed at any point
resumes from its checkpoint with no row twice.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from chain.manifest import Manifest
from gateway.cli.common import JsonOut, ManifestPath, RpcUrl, console, fail, run_action
from gateway.indexer.follower import SyncReport


def indexer(
    database_url: Annotated[
        str,
        typer.Option(envvar="DONGNE_DATABASE_URL", help="Index database (SQLite or PostgreSQL)."),
    ] = "sqlite:///.dongne/gateway.db",
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    once: Annotated[
        bool, typer.Option("--once", help="Index up to the head, then exit (no following).")
    ] = False,
    as_json: JsonOut = False,
) -> None:
    """Run the indexer alone: follow the chain into the database until SIGTERM or Ctrl-C.

    Confirmations, range size and poll interval come from DONGNE_CONFIRMATIONS,
    DONGNE_INDEX_BATCH_BLOCKS and DONGNE_POLL_INTERVAL_S. With --json every sync that indexed
    something prints one JSON line (from_block, to_block, head, events, seconds).
    Example: DONGNE_EMBEDDED_INDEXER=false on the gateways, and one
    dongne indexer --database-url postgresql://dongne@db/dongne --rpc http://node:8545
    """
    from chain.rpc import RpcClient
    from gateway.cli.progress import rich_progress
    from gateway.db import create_engine_for
    from gateway.indexer import Indexer
    from gateway.settings import Settings

    if not manifest_path.exists():
        fail(f"no manifest at {manifest_path}")
    manifest = Manifest.load(manifest_path)
    settings = Settings(rpc_url=rpc, database_url=database_url, manifest_path=manifest_path)
    engine = run_action(lambda: create_engine_for(database_url))
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()  # the range being written commits first; the next sync does not start

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def say(report: SyncReport) -> None:
        line = {
            "from_block": report.from_block,
            "to_block": report.to_block,
            "head": report.head,
            "events": report.events,
            "reorg_depth": report.reorg_depth,
            "seconds": round(report.seconds, 3),
        }
        if as_json:
            print(json.dumps(line), flush=True)
        else:
            console.print(
                f"indexed blocks {report.from_block}-{report.to_block} of {report.head}: "
                f"{report.events} events in {report.seconds:.2f} s"
            )

    try:
        with RpcClient(rpc) as client:
            follower = Indexer.from_settings(settings, engine, client, manifest)
            if as_json:
                say(run_action(follower.sync_once))
            else:
                with rich_progress() as show:  # catching up can take minutes
                    say(run_action(lambda: follower.sync_once(show)))
            if not once:
                run_action(lambda: follower.run_forever(stop, say))
    finally:
        engine.dispose()
