"""`dongne indexer` as its own process: it indexes the chain into SQLite, survives kill -9 at
any point (rows and checkpoint commit together), resumes with no row twice, follows new
blocks, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from gateway.db import create_engine_for
from gateway.db.tables import index as index_tables

from .conftest import Net, activity, dump


def start(net: Net, database_url: str, manifest: Path, log: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DONGNE_INDEX_BATCH_BLOCKS": "1",  # many small ranges: a kill lands between two
        "DONGNE_POLL_INTERVAL_S": "0.05",
    }
    command = [sys.executable, "-m", "gateway.cli", "indexer", "--json"]
    options = ["--database-url", database_url, "--rpc", net.node.rpc_url]
    return subprocess.Popen(
        [*command, *options, "--manifest", str(manifest)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )


def checkpoint(engine: Engine) -> int | None:
    c = index_tables.checkpoints.c
    with engine.connect() as conn:
        return conn.execute(select(c.block_number)).scalar_one_or_none()


def wait_for(engine: Engine, block: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while (checkpoint(engine) or -1) < block:
        assert process.poll() is None, f"the indexer exited with {process.returncode}"
        assert time.monotonic() < deadline, f"not indexed to block {block}"
        time.sleep(0.02)


@pytest.fixture
def index_engine(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    engine = create_engine_for(url)
    yield url, engine
    engine.dispose()


def test_the_indexer_process_resumes_after_kill_9_with_no_duplicate_row(
    chain: Net, index_engine: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = index_engine
    manifest = tmp_path / "manifest.json"
    chain.manifest.save(manifest)
    log = tmp_path / "indexer.log"
    first = start(chain, url, manifest, log)
    try:
        # Killed as soon as some ranges are in, well before the head: nothing is flushed.
        wait_for(engine, chain.manifest.start_block + 2, first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    killed_at = checkpoint(engine)
    assert killed_at is not None
    assert killed_at < chain.head(), "the kill came too late to interrupt anything"

    activity(chain, 6, variant=7)  # the chain moves on while no indexer runs
    second = start(chain, url, manifest, log)
    try:
        wait_for(engine, chain.head(), second)
        activity(chain, 2, variant=8)  # and it follows new blocks
        wait_for(engine, chain.head(), second)
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=30)
    assert second.returncode == 0, log.read_text()[-2000:]
    syncs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert syncs, out
    assert syncs[0]["from_block"] == killed_at + 1  # resumed at its checkpoint
    assert max(s["to_block"] for s in syncs) == chain.head()

    # Row for row what one uninterrupted in-process run writes: nothing lost, nothing twice.
    reference = create_engine_for(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        chain.indexer(reference).sync_once()
        assert dump(engine) == dump(reference)
    finally:
        reference.dispose()
