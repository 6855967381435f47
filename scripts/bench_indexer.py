#!/usr/bin/env python3
"""Indexer benchmark: >= 200k real events on anvil, then a full reindex into SQLite and
PostgreSQL, timed against the raw ``eth_getLogs`` fetch of the same range (the limit).

The indexer runs as production runs it: its own process (``dongne indexer --once`` on an empty
database, a fresh PostgreSQL schema each run); its speed is the sync it reports.

The events come from the real contracts: ``grantBatch`` transactions of 500 multiproof grants
(500 ``Granted`` events each, the cheapest way to volume), plus payments and gifts by citizens
(``Paid``/``Gifted`` with their ``Transfer``s). Transactions are signed locally and sent with
mining off, then mined into large blocks, as a busy production network would seal them.

The last line printed is one JSON object (``name``, ``metrics``, ``baselines``, ``ratios``).

    FOUNDRY_OUT=out .venv/bin/python scripts/bench_indexer.py [--grants 200000] [--smoke]

``--follow`` measures instead how closely ``dongne indexer`` (its own process, following)
keeps up with the head while relayed payments flow: a gateway (no embedded indexer) on an
interval-mining anvil is first saturated to measure the relayer's capacity (as
``bench_relay.py --overload`` does, with its setup, pre-signing and offers), then offered 70%
of it (or ``--follow-rate``) for ``--follow-seconds``; the indexer's lag, the head
(``eth_blockNumber``) minus its checkpoint in the shared database, is sampled every 0.1 s.
Reports ``metrics.follow_lag_blocks_max`` and ``_p99`` (the bound in issue 17: 2 blocks),
with name ``indexer_follow``.

    FOUNDRY_OUT=out .venv/bin/python scripts/bench_indexer.py --follow [--follow-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

from eth_account import Account
from eth_utils.address import to_checksum_address
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from web3 import Web3
from web3.contract import Contract

from chain.deploy import deploy_municipality, deploy_network
from chain.manifest import Manifest
from chain.node import LocalNode
from chain.protocol.abi import load_abi
from chain.protocol.calls import (
    SELECTORS,
    Rules,
    default_rules,
    encode_gift,
    encode_grant_batch,
    encode_pay,
)
from chain.protocol.merkle import MerkleTree, MultiProof
from chain.rpc import RpcClient

REGION = 41390
GRANTS_PER_TX = 500
TXS_PER_BLOCK = 10  # grantBatch transactions per block
CITIZENS = 20
MERCHANTS = 4
GAS_LIMIT = 1_000_000_000  # large blocks: many 500-grant transactions each
POSTGRES_URL = os.environ.get(
    "DONGNE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

console = Console(stderr=True)


class Sender:
    """Signs transactions with locally tracked nonces and sends them in JSON-RPC batches."""

    def __init__(self, rpc: RpcClient, chain_id: int) -> None:
        self.rpc = rpc
        self.chain_id = chain_id
        self.nonces: dict[str, int] = {}
        self.queue: list[str] = []
        self.queued_bytes = 0
        self.hashes: list[str] = []

    def send(self, key: str, to: str, data: str, gas: int) -> None:
        account = Account.from_key(key)
        nonce = self.nonces.get(account.address)
        if nonce is None:
            nonce = self.rpc.get_transaction_count(account.address, "pending")
        tx = {
            "to": to,
            "data": data,
            "gas": gas,
            "gasPrice": 10**10,
            "nonce": nonce,
            "chainId": self.chain_id,
            "value": 0,
        }
        self.queue.append("0x" + Account.sign_transaction(tx, key).raw_transaction.hex())
        self.nonces[account.address] = nonce + 1
        self.queued_bytes += len(self.queue[-1])
        if len(self.queue) >= 100 or self.queued_bytes > 1_000_000:  # node body limits
            self.flush()

    def flush(self) -> None:
        calls = [("eth_sendRawTransaction", [raw]) for raw in self.queue]
        self.hashes.extend(str(h) for h in self.rpc.batch(calls))
        self.queue.clear()
        self.queued_bytes = 0

    def mine_all(self, node: LocalNode) -> int:
        """Mines until every sent transaction is in a block; returns failed receipts."""
        self.flush()
        while True:
            status = node.rpc.call("txpool_status")
            pending = int(str(status["pending"]), 16) if isinstance(status, dict) else 0
            if pending == 0:
                break
            node.mine()
        failed = 0
        for start in range(0, len(self.hashes), 500):
            chunk = self.hashes[start : start + 500]
            receipts = self.rpc.batch(("eth_getTransactionReceipt", [h]) for h in chunk)
            failed += sum(1 for r in receipts if not isinstance(r, dict) or r["status"] != "0x1")
        self.hashes.clear()
        return failed


def _grant_batch_calldata(program_id: int, multi: MultiProof) -> bytes:
    """``grantBatch`` calldata by hand: eth-abi takes ~0.1 s for 500 grants, this ~1 ms."""

    def word(value: int) -> bytes:
        return value.to_bytes(32, "big")

    grants = b"".join(
        word(leaf.index) + bytes(12) + bytes.fromhex(leaf.recipient[2:]) + word(leaf.amount)
        for leaf in multi.leaves
    )
    grants_at = 4 * 32
    proof_at = grants_at + 32 + len(grants)
    flags_at = proof_at + 32 + 32 * len(multi.proof)
    return (
        SELECTORS["grantBatch"]
        + word(program_id)
        + word(grants_at)
        + word(proof_at)
        + word(flags_at)
        + word(len(multi.leaves))
        + grants
        + word(len(multi.proof))
        + b"".join(multi.proof)
        + word(len(multi.proof_flags))
        + b"".join(word(int(f)) for f in multi.proof_flags)
    )


def generate(
    node: LocalNode, grants: int, payments: int, gifts: int
) -> tuple[Manifest, dict[str, int]]:
    """Deploys the network and fills the chain with activity; returns the manifest and counts."""
    dev = node.dev_accounts()
    operator, citizens, merchants = dev[0], dev[1 : 1 + CITIZENS], dev[1 + CITIZENS :]
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    op = Account.from_key(operator.private_key)
    manifest = deploy_network(w3, op)
    rules = default_rules()
    # Room for many small payments per citizen (cashback keeps within the holding cap).
    rules = Rules.from_tuple([*rules.as_tuple()[:13], 10**12, 10**12, 10**12])
    made = deploy_municipality(
        w3,
        op,
        manifest,
        region=REGION,
        name="Bench",
        symbol="BNC",
        admin=op.address,
        rules=rules.as_tuple(),
    )
    token = w3.eth.contract(address=to_checksum_address(made.token), abi=load_abi("VoucherToken"))
    registry = w3.eth.contract(
        address=to_checksum_address(manifest.registry), abi=load_abi("IdentityRegistry")
    )
    sender = Sender(node.rpc, manifest.chain_id)
    key = operator.private_key

    def op_call(contract: Contract, fn: str, *args: object, gas: int = 2_000_000) -> None:
        sender.send(key, contract.address, contract.encode_abi(fn, list(args)), gas)

    op_call(registry, "registerBatch", [c.address for c in citizens], 1)
    op_call(registry, "registerBatch", [m.address for m in merchants], 2)
    for role in ("ISSUER_ROLE", "MERCHANT_REGISTRAR_ROLE", "PROGRAM_MANAGER_ROLE"):
        op_call(token, "grantRole", token.functions[role]().call(), op.address)
    for tier, merchant in enumerate(merchants):
        op_call(token, "registerMerchant", merchant.address, REGION, 5611, tier % 3, False)
    for citizen in citizens:
        op_call(token, "issue", citizen.address, 700_000, 650_000)
    # The recipients file: `grants` leaves over a pool of recipients (pockets get reused).
    pool = [Account.create().address.lower() for _ in range(min(grants, 5_000))]
    csv = "".join(f"{pool[i % len(pool)]},1000\n" for i in range(grants))
    tree = MerkleTree.from_csv(io.StringIO(csv))
    now = w3.eth.get_block("latest")["timestamp"]
    params: tuple[object, ...] = (
        tree.root,
        1000 * grants,
        now - 10,
        now + 30 * 86_400,
        False,
        [],
        b"\x01" * 32,
    )
    op_call(token, "createProgram", params)
    failed = sender.mine_all(node)
    node.set_automine(False)
    started = time.monotonic()
    rounds = -(-grants // (GRANTS_PER_TX * TXS_PER_BLOCK))
    sent = 0
    for n in range(rounds):
        # One block a round: ~5,000 grants plus a share of payments and gifts, as a busy
        # network would seal them every block period.
        first_grant = n * GRANTS_PER_TX * TXS_PER_BLOCK
        for first in range(
            first_grant, min(grants, first_grant + GRANTS_PER_TX * TXS_PER_BLOCK), GRANTS_PER_TX
        ):
            multi = tree.multiproof(range(first, min(grants, first + GRANTS_PER_TX)))
            data = _grant_batch_calldata(1, multi)
            if first == 0:  # the hand encoding must be eth-abi's, byte for byte
                assert data == encode_grant_batch(1, multi.leaves, multi.proof, multi.proof_flags)
            sender.send(key, token.address, "0x" + data.hex(), 60_000_000)
        for i in range(n * payments // rounds, (n + 1) * payments // rounds):
            citizen, merchant = citizens[i % CITIZENS], merchants[i % MERCHANTS]
            data = encode_pay(merchant.address, 100, i.to_bytes(32, "big"))
            sender.send(citizen.private_key, token.address, "0x" + data.hex(), 300_000)
        for i in range(n * gifts // rounds, (n + 1) * gifts // rounds):
            a, b = citizens[i % CITIZENS], citizens[(i + 1) % CITIZENS]
            data = encode_gift(b.address, 10)
            sender.send(a.private_key, token.address, "0x" + data.hex(), 200_000)
        sent += len(sender.queue) + len(sender.hashes)
        failed += sender.mine_all(node)
    console.print(f"sent and mined {sent} transactions in {time.monotonic() - started:.1f} s")
    node.set_automine(True)
    return manifest, {"failed_txs": failed, "blocks": node.rpc.block_number()}


def raw_fetch(
    rpc: RpcClient, manifest: Manifest, tokens: Sequence[str], span: int
) -> tuple[int, float]:
    """The limit: eth_getLogs of the same addresses and range, JSON-decoded, nothing else."""
    addresses = [manifest.forwarder, manifest.registry, manifest.factory, *tokens]
    head = rpc.block_number()
    started = time.perf_counter()
    logs = 0
    for first in range(manifest.start_block, head + 1, span):
        query = {
            "fromBlock": hex(first),
            "toBlock": hex(min(head, first + span - 1)),
            "address": addresses,
        }
        logs += len(rpc.get_logs(query))
    return logs, time.perf_counter() - started


def process_index(rpc_url: str, manifest: Path, database_url: str) -> tuple[int, float]:
    """One ``dongne indexer --once`` process (the indexer as production runs it, its own
    process) from an empty database: (events, seconds of its sync as it reports them; the
    interpreter's start and the schema's migration are not the indexer's speed)."""
    command = [sys.executable, "-m", "gateway.cli", "indexer", "--once", "--json"]
    options = ["--database-url", database_url, "--rpc", rpc_url, "--manifest", str(manifest)]
    done = subprocess.run(
        [*command, *options], capture_output=True, text=True, timeout=3600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"dongne indexer failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return int(report["events"]), float(report["seconds"])


def sqlite_reindex(rpc_url: str, manifest: Path) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        return process_index(rpc_url, manifest, f"sqlite:///{Path(tmp) / 'index.db'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grants", type=int, default=200_000)
    parser.add_argument("--payments", type=int, default=4_000)
    parser.add_argument("--gifts", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3, help="rounds of measurements (median)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="small sizes, one run (< 1 min)")
    parser.add_argument("--follow", action="store_true", help="lag while payments are relayed")
    parser.add_argument(
        "--follow-rate", type=float, default=None, help="payments/s (default 70%% of capacity)"
    )
    parser.add_argument("--follow-seconds", type=float, default=60.0)
    parser.add_argument("--follow-wallets", type=int, default=3000)
    parser.add_argument("--follow-offer", type=float, default=1500.0, help="capacity: offered/s")
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument("--expected", type=float, default=800.0, help="capacity to sign for")
    parser.add_argument("--block-time", type=float, default=1.0, help="--follow: seconds")
    parser.add_argument("--database-url", default=None, help="--follow: default a SQLite file")
    args = parser.parse_args(argv)
    if args.smoke:
        args.grants, args.payments, args.gifts, args.runs = 5_000, 200, 100, 1
        args.follow_seconds, args.follow_wallets, args.follow_offer = 5.0, 200, 200.0
        args.capacity_seconds, args.expected = 3.0, 200.0
    if args.follow:
        result = follow(args)
        print(json.dumps(result))
        return 0

    with LocalNode(accounts=1 + CITIZENS + MERCHANTS, block_gas_limit=GAS_LIMIT) as node:
        t0 = time.monotonic()
        manifest, facts = generate(node, args.grants, args.payments, args.gifts)
        console.print(f"generated in {time.monotonic() - t0:.1f} s: {facts}")
        rpc = RpcClient(node.rpc_url, timeout=600)
        manifest_path = Path(tempfile.mkdtemp(prefix="dongne-bench-indexer-")) / "manifest.json"
        manifest.save(manifest_path)
        tokens = [m.token for m in manifest.municipalities.values()]
        total_logs, _ = raw_fetch(rpc, manifest, tokens, 1 << 30)  # warm-up and count
        span = max(1, facts["blocks"] * 20_000 // max(total_logs, 1))
        postgres = None if args.no_postgres else _postgres_target(node.rpc_url, manifest_path)
        # Each indexer run is paired with a raw fetch just before it: on a shared machine the
        # load changes by the minute, and a ratio of neighbours is fairer than of distant runs.
        raw: list[float] = []
        sqlite: list[tuple[float, float]] = []  # (seconds, raw seconds just before)
        pg: list[tuple[float, float]] = []
        events = 0
        for n in range(args.runs):
            raw_logs, raw_s = raw_fetch(rpc, manifest, tokens, span)
            events, seconds = sqlite_reindex(node.rpc_url, manifest_path)
            raw.append(raw_s)
            sqlite.append((seconds, raw_s))
            if postgres is not None:
                raw_logs, raw_s = raw_fetch(rpc, manifest, tokens, span)
                raw.append(raw_s)
                pg.append((postgres(), raw_s))
            console.print(
                f"run {n + 1}: raw {raw[-1]:.2f} s, sqlite {sqlite[-1][0]:.2f} s"
                + (f", postgres {pg[-1][0]:.2f} s" if pg else "")
            )

    raw_rate = raw_logs / statistics.median(raw)
    sqlite_s = statistics.median(s for s, _ in sqlite)
    sqlite_ratio = statistics.median(r / s for s, r in sqlite) * events / raw_logs
    postgres_s = statistics.median(s for s, _ in pg) if pg else None
    postgres_ratio = statistics.median(r / s for s, r in pg) * events / raw_logs if pg else None
    sqlite_rate = events / sqlite_s
    postgres_rate = events / postgres_s if postgres_s else None
    table = Table(title=f"indexer benchmark: {events:,} events in {facts['blocks']} blocks")
    for column in ("target", "seconds (median)", "events/s", "vs raw (paired)"):
        table.add_column(column, justify="right")
    table.add_row("raw eth_getLogs", f"{statistics.median(raw):.2f}", f"{raw_rate:,.0f}", "1.00")
    table.add_row("SQLite", f"{sqlite_s:.2f}", f"{sqlite_rate:,.0f}", f"{sqlite_ratio:.2f}")
    if postgres_rate is not None and postgres_s is not None and postgres_ratio is not None:
        table.add_row(
            "PostgreSQL", f"{postgres_s:.2f}", f"{postgres_rate:,.0f}", f"{postgres_ratio:.2f}"
        )
    Console().print(table)
    result = {
        "name": "indexer",
        "metrics": {
            "sqlite_events_per_s": round(sqlite_rate),
            "postgres_events_per_s": None if postgres_rate is None else round(postgres_rate),
            "events": events,
            "logs": raw_logs,
            "blocks": facts["blocks"],
            "failed_txs": facts["failed_txs"],
            "sqlite_seconds": round(sqlite_s, 3),
            "postgres_seconds": None if postgres_s is None else round(postgres_s, 3),
            "runs": args.runs,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
        },
        "baselines": {
            "raw_getlogs_events_per_s": round(raw_rate),
            "raw_seconds": round(statistics.median(raw), 3),
        },
        "ratios": {
            "sqlite_vs_raw": round(sqlite_ratio, 3),
            "postgres_vs_raw": None if postgres_ratio is None else round(postgres_ratio, 3),
        },
    }
    print(json.dumps(result))
    return 0


def follow(args: argparse.Namespace) -> dict[str, object]:
    """The indexer's lag behind the head while payments are relayed (see the docstring)."""
    # bench_relay's load: its wallets, merchants and vouchers, pre-signed requests, open-loop
    # offers honouring Retry-After, and its capacity measure (this directory is on sys.path
    # when run as a script).
    from bench_relay import offer, presign_wallets, setup, steady_rate, wait_executed

    from chain.protocol.forwarder import ForwarderDomain
    from gateway.db import create_engine_for
    from gateway.db.tables.index import checkpoints
    from gateway.devnet.localnet import SIHEUNG, start_local_network
    from gateway.devnet.process import GatewayProcess

    workdir = Path(tempfile.mkdtemp(prefix="dongne-bench-follow-"))
    net = start_local_network(workdir, (SIHEUNG,), block_time=args.block_time,
                              block_gas_limit=GAS_LIMIT)  # fmt: skip
    indexer: subprocess.Popen[bytes] | None = None
    samples: dict[str, list[int]] = {"capacity": [], "follow": []}
    try:
        wallets = args.follow_wallets
        everyone, shops, token = setup(net, 2 * wallets, 20)
        domain = ForwarderDomain(net.manifest.chain_id, net.manifest.forwarder)
        phases = (args.capacity_seconds, args.follow_seconds)
        nonces = [math.ceil(args.expected * seconds / wallets * 1.5) + 2 for seconds in phases]
        console.print(f"pre-signing {sum(nonces) * wallets} requests")
        groups = (everyone[:wallets], everyone[wallets:])
        bodies = [
            presign_wallets(domain, token, group, shops, n)
            for group, n in zip(groups, nonces, strict=True)
        ]
        database_url = args.database_url or f"sqlite:///{workdir / 'gateway.db'}"
        engine = create_engine_for(database_url)  # migrated before either process starts
        env = net.gateway_env(
            database_url,
            batch_max_requests="300",
            batch_interval_ms="100",
            rate_limit_per_signer="1000",
            embedded_indexer="false",
        )
        command = [sys.executable, "-m", "gateway.cli", "indexer", "--json"]
        options = ["--database-url", database_url, "--rpc", net.rpc_url]
        options += ["--manifest", str(net.manifest_path)]
        indexer = subprocess.Popen(
            [*command, *options],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "indexer.log", "wb"),  # noqa: SIM115 (closed with the process)
        )
        rpc = net.operator.rpc
        forwarder = net.manifest.forwarder
        select_checkpoint = checkpoints.select().with_only_columns(checkpoints.c.block_number)

        def lag() -> int | None:
            with engine.connect() as conn:
                indexed = conn.execute(select_checkpoint).scalar()
            return None if indexed is None else rpc.block_number() - int(indexed)

        deadline = time.monotonic() + 300
        while (behind := lag()) is None or behind > 1:  # caught up with the setup first
            if time.monotonic() > deadline or indexer.poll() is not None:
                raise RuntimeError(f"the indexer did not catch up: {workdir / 'indexer.log'}")
            time.sleep(0.2)
        phase = ["capacity"]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                behind = lag()
                if behind is not None:
                    samples[phase[0]].append(behind)
                stop.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        # A shared machine under load may take more than a minute to import and start it.
        # (start() once: `with gateway.start()` would start a second process on enter.)
        gateway = GatewayProcess(env, log_path=workdir / "gateway.log")
        try:
            gw = gateway.start(timeout=300)
            sampler.start()
            # The relayer's capacity as bench_relay --overload measures it: saturated, the
            # requests made final per second of chain time, from a third into the offer.
            first_block = rpc.block_number() + 1
            console.print(f"capacity: offering {args.follow_offer:.0f}/s for {phases[0]} s")
            marks: list[int] = []
            loop = asyncio.new_event_loop()
            loop.call_later(phases[0] / 3, lambda: marks.append(rpc.block_number()))
            warm = loop.run_until_complete(
                offer(gw.url, groups[0], bodies[0], args.follow_offer, phases[0])
            )
            loop.close()
            steady_end = rpc.block_number()
            wait_executed(rpc, forwarder, first_block, warm, timeout=120)
            capacity, _ = steady_rate(rpc, forwarder, marks[0], steady_end)
            rate = args.follow_rate or 0.7 * capacity
            console.print(f"capacity {capacity:.0f}/s; following at {rate:.0f}/s for {phases[1]} s")
            first_block = rpc.block_number() + 1
            phase[0] = "follow"
            load = asyncio.run(offer(gw.url, groups[1], bodies[1], rate, phases[1]))
            wait_executed(rpc, forwarder, first_block, load, timeout=120)
            stop.set()
            sampler.join()
        finally:
            stop.set()
            gateway.stop()
        blocks = rpc.block_number() - first_block
        engine.dispose()
    finally:
        if indexer is not None:
            indexer.terminate()
            indexer.wait(30)
        net.stop()
    ordered = sorted(samples["follow"])
    if not ordered:
        raise RuntimeError("no lag sample")
    worst = ordered[-1]
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    at_capacity = max(samples["capacity"], default=None)
    console.print(
        f"lag over {len(ordered)} samples: max {worst}, p99 {p99} blocks"
        f" (max {at_capacity} while saturated)"
    )
    return {
        "name": "indexer_follow",
        "metrics": {
            "follow_lag_blocks_max": worst,
            "follow_lag_blocks_p99": p99,
            "follow_lag_blocks_p50": ordered[len(ordered) // 2],
            "follow_lag_blocks_max_at_capacity": at_capacity,
            "samples": len(ordered),
            "blocks": blocks,
            "capacity_per_s": round(capacity, 1),
            "offered_per_s": round(load.sends / load.window, 1),
            "accepted_per_s": round(len(load.accepted) / load.window, 1),
            "refused": dict(load.refused),
            "seconds": round(load.window, 1),
            "block_time_s": args.block_time,
            "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
        },
        "baselines": {"lag_bound_blocks": 2, "relay_capacity_per_s": round(capacity, 1)},
        "ratios": {"follow_lag_max_vs_bound": round(worst / 2, 3)},
    }


def _postgres_target(rpc_url: str, manifest: Path) -> Callable[[], float] | None:
    """A function timing one reindex into a fresh PostgreSQL schema, or None if unreachable."""
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url, connect_args={"connect_timeout": 3}, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        console.print(f"PostgreSQL skipped: {url} unreachable ({exc.__class__.__name__})")
        return None

    def run() -> float:
        schema = f"bench_{secrets.token_hex(4)}"  # a fresh schema: no test's tables
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            in_schema = f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
            return process_index(rpc_url, manifest, in_schema)[1]
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))

    return run


if __name__ == "__main__":
    sys.exit(main())
