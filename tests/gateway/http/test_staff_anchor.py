"""Issue 14: the staff log's head is anchored on chain, so whoever runs the database cannot
rewrite the log and recompute its hash chain unnoticed. (Runs after the other HTTP tests: it
rewrites the shared world's log.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import select, update

from gateway.access import staff_log
from gateway.db import create_engine_for
from gateway.db.tables import access as a

from .conftest import World


def test_a_rewritten_staff_log_fails_against_its_anchor(world: World) -> None:
    auditor = world.client("auditor")
    url = f"/v1/audit/{world.siheung}/staff-log/verify"
    assert auditor.get(url).json()["anchored_entries"] is None
    env = {**os.environ, "DONGNE_DEPLOYER_KEY": "0x" + bytes(world.net.operator.account.key).hex()}
    anchored = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "audit", "anchor-log", "--rpc", world.net.rpc_url,
         "--manifest", str(world.net.manifest_path), "--database-url", world.database_url,
         "--json"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert anchored.returncode == 0, anchored.stderr
    entries = json.loads(anchored.stdout)["entries"]
    assert entries > 0
    check = auditor.get(url).json()
    assert (check["ok"], check["anchored_entries"], check["entries"]) == (True, entries, entries)

    # The database's operator edits the first entry and recomputes every hash after it: the
    # chain alone checks out again, the anchor does not.
    engine = create_engine_for(world.database_url)
    s = a.staff_log.c
    with engine.begin() as conn:
        rows = conn.execute(select(a.staff_log).order_by(s.seq)).all()
        prev = staff_log.GENESIS
        for i, row in enumerate(rows):
            actor = "0x" + "00" * 20 if i == 0 else row.actor
            digest = staff_log._hash(prev, row.at, actor, row.role, row.token, row.action,
                                     row.request_id, row.before, row.after)  # fmt: skip
            conn.execute(update(a.staff_log).where(s.seq == row.seq)
                         .values(actor=actor, prev_hash=prev, hash=digest))  # fmt: skip
            prev = digest
    assert staff_log.verify(engine).ok  # what the database alone would say
    tampered = auditor.get(url).json()
    assert (tampered["ok"], tampered["problem"]) == (False, "anchor_mismatch")
    engine.dispose()
