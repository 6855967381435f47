"""`dongne import residents` killed with SIGKILL mid-run (anvil mining a block a second, so
transactions are in flight when it dies), then run again: it resumes after the cursor, every
wallet is registered once, and no transaction of the operator reverted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import create_engine, text

from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network
from gateway.devnet.onboarding_samples import resident_cells, sample_wallets, write_csv
from gateway.onboarding.onchain import ChainView

DONGNE = [sys.executable, "-m", "gateway.cli"]


@pytest.fixture(scope="module")
def mining(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    net = start_local_network(tmp_path_factory.mktemp("mining"), (SIHEUNG,), block_time=1)
    yield net
    net.stop()


def command(net: LocalNetwork, csv: Path, database: Path) -> list[str]:
    return [
        *DONGNE, "import", "residents", str(csv), "--batch", "40", "--in-flight", "1",
        "--errors", str(csv.with_suffix(".errors.csv")), "--rpc", net.rpc_url,
        "--manifest", str(net.manifest_path), "--database-url", f"sqlite:///{database}", "--json",
    ]  # fmt: skip


def cursor(database: Path) -> int:
    if not database.exists():
        return 0
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT max(cursor) FROM import_jobs")).scalar() or 0)
    except Exception:  # the schema is being created
        return 0
    finally:
        engine.dispose()


def test_sigkill_mid_import_then_the_same_command_resumes(
    mining: LocalNetwork, tmp_path: Path
) -> None:
    w = sample_wallets(240, seed=int(time.time()))
    csv = write_csv(tmp_path / "residents.csv", "residents",
                    [resident_cells(x, i) for i, x in enumerate(w)])  # fmt: skip
    database = tmp_path / "gateway.db"
    env = {**os.environ, "DONGNE_DEPLOYER_KEY": "0x" + bytes(mining.operator.account.key).hex()}
    first_block = mining.operator.rpc.block_number()
    run = subprocess.Popen(command(mining, csv, database), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 90
    while cursor(database) < 41:  # the first window (40 rows, lines 2-41) is committed
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # into the next window: its transaction is signed and sent, not mined
    run.send_signal(signal.SIGKILL)
    run.wait()
    killed_at = cursor(database)
    assert 41 <= killed_at < 241
    done = subprocess.run(command(mining, csv, database), env=env, capture_output=True,
                          text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["rows"], summary["ok"], summary["failed"], summary["status"]) == (
        240, 240, 0, "done",
    )  # fmt: skip
    assert lines_after_header(csv.with_suffix(".errors.csv")) == 0
    m = mining.manifest
    kinds = ChainView(mining.operator.rpc, m.registry, m.forwarder).identities(w)
    assert all(k == 1 for k, _frozen in kinds)
    # Nobody registered twice: no transaction of the operator reverted since the start.
    assert operator_reverts(mining, first_block) == 0
    again = subprocess.run(command(mining, csv, database), env=env, capture_output=True,
                           text=True, timeout=60, check=False)  # fmt: skip
    assert json.loads(again.stdout) == summary  # a finished file is a no-op


def lines_after_header(path: Path) -> int:
    return len(path.read_text().splitlines()) - 1


def operator_reverts(net: LocalNetwork, since: int) -> int:
    rpc, sender = net.operator.rpc, net.operator.address.lower()
    reverted = 0
    for number in range(since, rpc.block_number() + 1):
        block = rpc.get_block(number, full=True)
        assert block is not None
        for tx in cast(list[dict[str, str]], block["transactions"]):
            if tx["from"].lower() == sender:
                receipt = rpc.get_receipt(tx["hash"])
                assert receipt is not None
                reverted += int(str(receipt["status"]), 16) == 0
    return reverted
