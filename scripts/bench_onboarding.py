#!/usr/bin/env python3
"""Onboarding benchmark: a city's residents and merchants imported from CSV onto anvil mining
a 300M-gas block every second, against one transaction per row.

    .venv/bin/python scripts/bench_onboarding.py [--smoke]

Measured in one run, on the network ``dongne up`` deploys (Siheung), with a SQLite gateway
database:

- ``dongne import residents``' pipeline (``gateway.onboarding.import_file``) over 100,000
  fresh residents: wall seconds from the first row read to the last window committed,
  transactions and gas (``registerBatch`` chunks of 500, 8 in flight);
- the same over 10,000 fresh merchants (identity ``registerBatch`` + operator-signed
  ``registerMerchant`` requests in forwarder ``executeBatch`` batches of 200, 5 in flight);
- one ``executeBatch`` of 200 merchants traced (``debug_traceTransaction``, callTracer):
  the forwarded ``registerMerchant`` calls' gas against the batch's, i.e. what the
  forwarder costs per merchant over a native batch function on the token;
- the baselines, in the same run on the same node: one transaction per row, (a) pipelined
  (200 rows' transactions signed with consecutive nonces, then every receipt awaited) and
  (b) one after the other as ``dongne city register`` / ``city merchant`` do (each waits for
  its receipt; a merchant takes two). Ratios are ours / baseline, per row (lower is better).

``--smoke`` runs the same code with 2,000 residents, 200 merchants and smaller baselines
(< 1 min). The last line printed is one JSON object
``{"name": "onboarding", "metrics", "baselines", "ratios"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from rich.console import Console
from rich.table import Table

from chain.artifacts import forge_build
from chain.operator import KIND
from chain.protocol.calls import encode_register_merchant
from chain.protocol.contracts import encode_function
from chain.rpc import JSONObject
from chain.sender import Call
from gateway.db import create_engine_for
from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network
from gateway.devnet.onboarding_samples import (
    merchant_cells,
    resident_cells,
    sample_wallets,
    write_csv,
)
from gateway.onboarding import ImportTarget, import_file
from gateway.onboarding.onchain import ChainView
from gateway.onboarding.rows import MerchantRow, read_rows
from gateway.onboarding.transactions import Registrar

BLOCK_TIME_S = 1
REGION = SIHEUNG.region
CATEGORY = 56111

console = Console(stderr=True)


@dataclass(frozen=True)
class Config:
    residents: int
    merchants: int
    pipelined: int  # rows of the pipelined one-transaction-per-row baseline
    sequential: int  # rows of the one-after-the-other baseline


FULL = Config(residents=100_000, merchants=10_000, pipelined=200, sequential=10)
SMOKE = Config(residents=2_000, merchants=200, pipelined=20, sequential=3)


@dataclass(frozen=True)
class Measured:
    rows: int
    seconds: float
    transactions: int
    gas: int
    blocks: int

    @property
    def seconds_per_row(self) -> float:
        return self.seconds / self.rows

    @property
    def gas_per_row(self) -> int:
        return self.gas // self.rows


def timed_blocks(net: LocalNetwork, action: Callable[[], tuple[int, int]], rows: int) -> Measured:
    """Runs ``action`` (-> transactions, gas) and measures its wall time and blocks."""
    rpc = net.operator.rpc
    first = rpc.block_number()
    started = time.perf_counter()
    transactions, gas = action()
    seconds = time.perf_counter() - started
    return Measured(rows, seconds, transactions, gas, rpc.block_number() - first)


def imported(net: LocalNetwork, workdir: Path, kind: str, count: int, seed: int) -> Measured:
    wallets = sample_wallets(count, seed)
    if kind == "residents":
        rows = [resident_cells(w, i) for i, w in enumerate(wallets)]
    else:
        rows = [merchant_cells(w, i, REGION) for i, w in enumerate(wallets)]
    path = write_csv(workdir / f"{kind}.csv", kind, rows)
    del rows, wallets
    engine = create_engine_for(f"sqlite:///{workdir / 'gateway.db'}")
    m, op = net.manifest, net.operator
    target = ImportTarget(m.chain_id, m.registry, m.forwarder, m.token(REGION), REGION)

    def progress(job: object) -> None:
        read = getattr(job, "rows_read", 0)
        if read % (count // 10 or 1) < 5_000 or read == count:
            console.print(f"  {kind}: {read:,} / {count:,}")

    def run() -> tuple[int, int]:
        job = import_file(engine, op.rpc, op.account, target, path, kind, on_window=progress)
        if (job.rows_ok, job.rows_failed) != (count, 0):
            raise RuntimeError(f"{kind}: {job.rows_ok} ok, {job.rows_failed} failed of {count}")
        return job.transactions, job.gas_used

    measured = timed_blocks(net, run, count)
    engine.dispose()
    return measured


def row_calls(net: LocalNetwork, kind: str, wallets: Sequence[str]) -> list[Call]:
    """One transaction per resident; two per merchant (its identity, then the token's record)."""
    registry, token = net.manifest.registry, net.manifest.token(REGION)
    calls: list[Call] = []
    for w in wallets:
        identity = encode_function("register", [w, KIND[kind]], "IdentityRegistry")
        calls.append((registry, identity, 0))
        if kind == "merchant":
            calls.append((token, encode_register_merchant(w, REGION, CATEGORY, 0, False), 0))
    return calls


def gas_of(receipts: Sequence[JSONObject]) -> int:
    return sum(int(str(r["gasUsed"]), 16) for r in receipts)


def pipelined(net: LocalNetwork, kind: str, count: int, seed: int) -> Measured:
    calls = row_calls(net, kind, sample_wallets(count, seed))
    # A merchant's registerMerchant cannot be estimated before its identity is mined: the
    # identities go first (all pipelined), then the merchants' records.
    identities, records = (
        calls[:: 1 + (kind == "merchant")],
        calls[1::2] if kind == "merchant" else [],
    )

    def run() -> tuple[int, int]:
        receipts = net.operator.send_many(identities, f"register {kind}")
        if records:
            receipts += net.operator.send_many(records, "registerMerchant")
        return len(receipts), gas_of(receipts)

    return timed_blocks(net, run, count)


def sequential(net: LocalNetwork, kind: str, count: int, seed: int) -> Measured:
    calls = row_calls(net, kind, sample_wallets(count, seed))

    def run() -> tuple[int, int]:
        receipts = [net.operator.send(to, data, kind) for to, data, _value in calls]
        return len(receipts), gas_of(receipts)

    return timed_blocks(net, run, count)


@dataclass(frozen=True)
class ForwarderCost:
    """Where a merchant's gas goes in one ``executeBatch``, from the node's call trace."""

    merchants: int
    per_merchant: int  # the batch's gas / merchants
    register_call: int  # mean gas of the forwarded registerMerchant call itself
    overhead: int  # per merchant: everything else (signature, nonce, calldata, trust check)


def forwarder_cost(net: LocalNetwork, workdir: Path, count: int, seed: int) -> ForwarderCost:
    """One ``executeBatch`` of ``count`` registrations (identities registered beforehand),
    traced with ``callTracer``: what a native ``registerMerchants`` loop would save is about
    the overhead, less its own ~2.6k of calldata per merchant."""
    m, op = net.manifest, net.operator
    wallets = sample_wallets(count, seed)
    cells = [merchant_cells(w, i, REGION) for i, w in enumerate(wallets)]
    path = write_csv(workdir / "traced.csv", "merchants", cells)
    rows = [r for r in read_rows(path, "merchants", region=REGION) if isinstance(r, MerchantRow)]
    op.register(m.registry, wallets, "merchant")
    registrar = Registrar(op.rpc, op.account, m.chain_id, m.registry, m.forwarder)
    view = ChainView(op.rpc, m.registry, m.forwarder)
    calls = registrar.merchant_calls(
        m.token(REGION), rows, REGION, first_nonce=view.forwarder_nonce(registrar.address),
        deadline=view.block_timestamp() + 3_600, batch=count,
    )  # fmt: skip
    (receipt,) = registrar.send(calls)
    trace = cast(
        dict[str, list[dict[str, str]]],
        op.rpc.call(
            "debug_traceTransaction", [receipt["transactionHash"], {"tracer": "callTracer"}]
        ),
    )
    inner = [c for c in trace["calls"] if c["type"] == "CALL"]
    if len(inner) != count:
        raise RuntimeError(f"traced {len(inner)} forwarded calls, expected {count}")
    total, forwarded = int(str(receipt["gasUsed"]), 16), sum(int(c["gasUsed"], 16) for c in inner)
    return ForwarderCost(count, total // count, forwarded // count, (total - forwarded) // count)


def result(
    ours: dict[str, Measured], base: dict[str, Measured], cost: ForwarderCost
) -> dict[str, object]:
    metrics: dict[str, object] = {
        "forwarder_batch_gas_per_merchant": cost.per_merchant,
        "forwarded_register_merchant_gas": cost.register_call,
        "forwarder_overhead_gas_per_merchant": cost.overhead,
    }
    for kind, m in ours.items():
        metrics.update({
            f"{kind}_rows": m.rows, f"{kind}_s": round(m.seconds, 2),
            f"{kind}_rows_per_s": round(m.rows / m.seconds, 1),
            f"{kind}_transactions": m.transactions, f"{kind}_blocks": m.blocks,
            f"{kind}_gas": m.gas, f"{kind}_gas_per_row": m.gas_per_row,
        })  # fmt: skip
    baselines: dict[str, object] = {}
    for name, m in base.items():
        baselines.update({
            f"{name}_rows": m.rows, f"{name}_s_per_row": round(m.seconds_per_row, 4),
            f"{name}_gas_per_row": m.gas_per_row, f"{name}_transactions": m.transactions,
        })  # fmt: skip
    ratios: dict[str, float] = {}
    for kind in ours:
        mine = ours[kind]
        for style in ("pipelined", "sequential"):
            other = base[f"{kind}_{style}"]
            ratios[f"{kind}_time_per_row_vs_{style}"] = round(
                mine.seconds_per_row / other.seconds_per_row, 4
            )
        ratios[f"{kind}_gas_per_row"] = round(
            mine.gas_per_row / base[f"{kind}_pipelined"].gas_per_row, 3
        )
    return {"name": "onboarding", "metrics": metrics, "baselines": baselines, "ratios": ratios}


def print_table(ours: dict[str, Measured], base: dict[str, Measured]) -> None:
    table = Table(title=f"onboarding on anvil, {BLOCK_TIME_S} s blocks of 300M gas", width=120)
    for column in ("figure", "rows", "s", "rows/s", "txs", "blocks", "gas/row"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    rows = [(f"import {k}", m) for k, m in ours.items()]
    rows += [(f"one tx per row: {k.replace('_', ', ')}", m) for k, m in base.items()]
    for label, m in rows:
        table.add_row(
            label, f"{m.rows:,}", f"{m.seconds:.1f}", f"{m.rows / m.seconds:,.1f}",
            f"{m.transactions:,}", f"{m.blocks:,}", f"{m.gas_per_row:,}",
        )  # fmt: skip
    Console(width=120, stderr=True).print(table)


def run(config: Config) -> dict[str, object]:
    started = time.monotonic()
    forge_build()
    with tempfile.TemporaryDirectory(prefix="dongne-bench-onboarding-") as tmp:
        workdir = Path(tmp)
        net = start_local_network(workdir / "net", (SIHEUNG,), block_time=BLOCK_TIME_S)
        try:
            console.print(f"network up: {time.monotonic() - started:.1f} s")
            base = {
                "resident_pipelined": pipelined(net, "citizen", config.pipelined, 11),
                "resident_sequential": sequential(net, "citizen", config.sequential, 12),
                "merchant_pipelined": pipelined(net, "merchant", config.pipelined, 13),
                "merchant_sequential": sequential(net, "merchant", config.sequential, 14),
            }
            console.print(f"baselines: {time.monotonic() - started:.1f} s")
            ours = {
                "resident": imported(net, workdir, "residents", config.residents, 21),
                "merchant": imported(net, workdir, "merchants", config.merchants, 22),
            }
            console.print(f"imports: {time.monotonic() - started:.1f} s")
            cost = forwarder_cost(net, workdir, 200, 23)
        finally:
            net.stop()
    print_table(ours, base)
    return result(ours, base, cost)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2,000 residents, 200 merchants")
    args = parser.parse_args(argv)
    print(json.dumps(run(SMOKE if args.smoke else FULL), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
