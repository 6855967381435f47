"""Relay throughput: the whole stack on anvil with interval mining, against two baselines.

Many wallets, requests signed before the clock starts, then submitted over real HTTP to a
gateway process for a sustained window. Reports accepted/s, final/s, p50/p99 acceptance and
time-to-final. Baselines in the same run and on the same node settings: a naive relay (one
forwarder `execute` per request, waiting for each receipt) and raw pre-signed ETH transfers
sent straight to the node (the node's own ceiling).

    python scripts/bench_relay.py [--seconds 60] [--rate 1500] [--wallets 3000]

Last line: one JSON object {"name": "relay", "metrics", "baselines", "ratios"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from eth_account import Account
from rich.console import Console
from rich.table import Table

from chain.protocol.calls import encode_issue, encode_pay
from chain.protocol.contracts import event_topic
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    encode_execute,
    sign_request,
    signed_request_from_json,
    signed_request_to_json,
)
from chain.rpc import RpcClient
from chain.sender import Sender
from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network
from gateway.devnet.process import GatewayProcess

EXECUTED = event_topic("ExecutedForwardRequest", "DongneForwarder")
console = Console(stderr=True)
NAIVE_WALLETS = 100


@dataclass
class Wallet:
    key: bytes
    address: str


@dataclass
class Sample:
    sent: float
    accepted: float
    request_id: str
    status: int


@dataclass
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0


def setup(net: LocalNetwork, wallets: int, merchants: int) -> tuple[list[Wallet], list[str], str]:
    op = net.operator
    token = net.manifest.token(SIHEUNG.region)
    people = [Account.create() for _ in range(wallets)]
    shops = [Account.create().address for _ in range(merchants)]
    console.print(f"registering {wallets} citizens and {merchants} merchants")
    op.register(net.manifest.registry, [p.address for p in people], "citizen")
    op.register(net.manifest.registry, shops, "merchant")
    for shop in shops:
        op.register_merchant(token, shop, SIHEUNG.region, 56111, 1, False)
    console.print(f"selling vouchers to {wallets} citizens")
    for start in range(0, wallets, 500):
        chunk = people[start : start + 500]
        op.send_calls([(token, encode_issue(p.address, 500_000, 450_000)) for p in chunk], "issue")
    return [Wallet(bytes(p.key), p.address) for p in people], shops, token


def presign(
    domain: ForwarderDomain, token: str, wallets: list[Wallet], shops: list[str], rounds: int
) -> list[list[dict[str, str]]]:
    """rounds x wallets requests; round k holds every wallet's nonce k."""
    deadline = int(time.time()) + 3600
    out = []
    for k in range(rounds):
        batch = []
        for i, w in enumerate(wallets):
            data = encode_pay(shops[(i + k) % len(shops)], 100, secrets.token_bytes(32))
            request = ForwardRequest(w.address, token, 0, 300_000, k, deadline, data)
            batch.append(signed_request_to_json(sign_request(w.key, domain, request)))
        out.append(batch)
    return out


async def submit(
    url: str, rounds: list[list[dict[str, str]]], rate: float, seconds: float
) -> LoadResult:
    """Submits round after round at `rate` requests/s for at most `seconds`."""
    result = LoadResult()
    bodies = [json.dumps(b).encode() for r in rounds for b in r]
    connector = aiohttp.TCPConnector(limit=128)
    sem = asyncio.Semaphore(128)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes) -> None:
            async with sem:
                sent = time.perf_counter()
                try:
                    async with session.post(
                        url + "/v1/requests",
                        data=body,
                        headers={"Content-Type": "application/json"},
                    ) as response:
                        payload = await response.json(content_type=None)
                        status = response.status
                except aiohttp.ClientError as exc:
                    result.errors[type(exc).__name__] = result.errors.get(type(exc).__name__, 0) + 1
                    return
                done = time.perf_counter()
                if status == 202:
                    result.samples.append(Sample(sent, done, str(payload["id"]), status))
                else:
                    code = str(payload.get("code", status))
                    result.errors[code] = result.errors.get(code, 0) + 1

        result.started = time.perf_counter()
        tasks = []
        interval = 1.0 / rate
        next_at = result.started
        for body in bodies:
            now = time.perf_counter()
            if now - result.started > seconds:
                break
            if next_at > now:
                await asyncio.sleep(next_at - now)
            next_at += interval
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
        result.ended = time.perf_counter()
    return result


async def time_to_final(url: str, sample: list[Sample], timeout: float) -> list[float]:
    """Polls a sample of requests until final; returns seconds from acceptance to final."""
    pending = {s.request_id: s for s in sample}
    finals: list[float] = []
    deadline = time.perf_counter() + timeout
    async with aiohttp.ClientSession() as session:
        while pending and time.perf_counter() < deadline:
            for rid, s in list(pending.items()):
                async with session.get(f"{url}/v1/requests/{rid}") as response:
                    state = await response.json(content_type=None)
                if state.get("status") in ("succeeded", "failed"):
                    finals.append(time.perf_counter() - s.accepted)
                    del pending[rid]
            await asyncio.sleep(0.05)
    return finals


def executed_per_block(rpc: RpcClient, forwarder: str, first: int, last: int) -> dict[int, int]:
    logs = rpc.get_logs(
        {"address": forwarder, "fromBlock": hex(first), "toBlock": hex(last), "topics": [EXECUTED]}
    )
    counts: dict[int, int] = {}
    for log in logs:
        block = int(str(log["blockNumber"]), 16)
        counts[block] = counts.get(block, 0) + 1
    return counts


def final_rate(rpc: RpcClient, forwarder: str, first: int, last: int) -> tuple[float, int]:
    """Executed requests per second of chain time over the blocks that carried them."""
    counts = executed_per_block(rpc, forwarder, first, last)
    if not counts:
        return 0.0, 0
    lo, hi = min(counts), max(counts)
    t0 = int(str(rpc.get_block(lo - 1)["timestamp"]), 16)  # type: ignore[index]
    t1 = int(str(rpc.get_block(hi)["timestamp"]), 16)  # type: ignore[index]
    total = sum(counts.values())
    return total / max(t1 - t0, 1), total


def naive_relay(net: LocalNetwork, requests: list[dict[str, str]], seconds: float) -> float:
    """One `execute` per request, waiting for its receipt before the next."""
    op = net.operator
    done = 0
    start = time.perf_counter()
    for body in requests:
        if time.perf_counter() - start > seconds:
            break
        op.send(net.manifest.forwarder, encode_execute(signed_request_from_json(body)), "execute")
        done += 1
    return done / (time.perf_counter() - start)


def raw_transfers(net: LocalNetwork, count: int) -> float:
    """Pre-signed ETH transfers straight to the node: the chain's own ceiling here."""
    rpc = net.operator.rpc
    sender = Sender(rpc, Account.create(), net.manifest.chain_id, net.operator.price())
    net.operator.send(sender.address, b"", "fund", value=10**21)
    sink = "0x" + "11" * 20
    raws = ["0x" + sender.sign((sink, b"", 1), nonce=n, gas=21_000).raw.hex() for n in range(count)]
    first_block = rpc.block_number()
    start = time.perf_counter()
    for i in range(0, count, 200):
        rpc.batch(("eth_sendRawTransaction", [r]) for r in raws[i : i + 200])
    while rpc.get_transaction_count(sender.address, "latest") < count:
        time.sleep(0.05)
    last_block = rpc.block_number()
    t0 = int(str(rpc.get_block(first_block)["timestamp"]), 16)  # type: ignore[index]
    t1 = int(str(rpc.get_block(last_block)["timestamp"]), 16)  # type: ignore[index]
    del start
    return count / max(t1 - t0, 1)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1500.0, help="offered requests/s")
    parser.add_argument("--wallets", type=int, default=3000)
    parser.add_argument("--merchants", type=int, default=20)
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--block-gas-limit", type=int, default=1_000_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--naive-seconds", type=float, default=10.0)
    parser.add_argument(
        "--no-simulate", action="store_true", help="skip the acceptance-time simulation"
    )
    parser.add_argument(
        "--indexer",
        action="store_true",
        help="run the indexer inside the gateway process (production runs it separately)",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dongne-bench-relay-"))
    rounds_needed = int(args.rate * args.seconds / args.wallets) + 2
    net = start_local_network(
        workdir, (SIHEUNG,), block_time=args.block_time, block_gas_limit=args.block_gas_limit
    )
    try:
        everyone, shops, token = setup(net, args.wallets + NAIVE_WALLETS, args.merchants)
        wallets, naive_wallets = everyone[: args.wallets], everyone[args.wallets :]
        domain = ForwarderDomain(net.manifest.chain_id, net.manifest.forwarder)
        console.print(f"pre-signing {rounds_needed * len(wallets)} requests")
        rounds = presign(domain, token, wallets, shops, rounds_needed)
        naive_requests = presign(domain, token, naive_wallets, shops, 1)[0]
        db = args.database_url or f"sqlite:///{workdir / 'gateway.db'}"
        env = net.gateway_env(
            db,
            batch_max_requests="300",
            batch_interval_ms="100",
            rate_limit_per_signer="1000",
            simulate="false" if args.no_simulate else "true",
            run_indexer="true" if args.indexer else "false",
        )
        rpc = net.operator.rpc
        first_block = rpc.block_number() + 1
        with GatewayProcess(env, log_path=workdir / "gateway.log") as gw:
            console.print(f"submitting at {args.rate:.0f}/s for {args.seconds:.0f} s to {gw.url}")
            load = asyncio.run(submit(gw.url, rounds, args.rate, args.seconds))
            sample = load.samples[:: max(1, len(load.samples) // 300)]
            finals = asyncio.run(time_to_final(gw.url, sample, timeout=120))
            # Let the rest reach the chain before counting.
            expected = len(load.samples)
            deadline = time.time() + 120
            while time.time() < deadline:
                if (
                    sum(
                        executed_per_block(
                            rpc, net.manifest.forwarder, first_block, rpc.block_number()
                        ).values()
                    )
                    >= expected
                ):
                    break
                time.sleep(1)
        last_block = rpc.block_number()
        final_per_s, executed = final_rate(rpc, net.manifest.forwarder, first_block, last_block)
        accepted = len(load.samples)
        window = load.ended - load.started
        latencies = [(s.accepted - s.sent) * 1000 for s in load.samples]
        console.print("baseline: naive relay")
        naive = naive_relay(net, naive_requests, args.naive_seconds)
        console.print("baseline: raw transfers")
        raw = raw_transfers(net, 20_000)
    finally:
        net.stop()

    metrics = {
        "offered_per_s": args.rate,
        "accepted": accepted,
        "accepted_per_s": round(accepted / window, 1),
        "executed": executed,
        "final_per_s": round(final_per_s, 1),
        "p50_accept_ms": round(percentile(latencies, 0.5), 2),
        "p99_accept_ms": round(percentile(latencies, 0.99), 2),
        "p50_final_s": round(percentile(finals, 0.5), 2),
        "p99_final_s": round(percentile(finals, 0.99), 2),
        "rejected": load.errors,
        "seconds": round(window, 1),
        "wallets": args.wallets,
        "block_time_s": args.block_time,
        "block_gas_limit": args.block_gas_limit,
        "database": "postgresql" if db.startswith("postgres") else "sqlite",
    }
    baselines = {"naive_relay_per_s": round(naive, 2), "raw_transfer_per_s": round(raw, 1)}
    ratios = {
        "vs_naive": round(final_per_s / naive, 1) if naive else None,
        "vs_raw_transfers": round(final_per_s / raw, 3) if raw else None,
    }
    table = Table(title="relay benchmark")
    for column in ("measure", "value"):
        table.add_column(column)
    for k, v in {**metrics, **baselines, **ratios}.items():
        table.add_row(k, str(v))
    Console().print(table)
    print(
        json.dumps({"name": "relay", "metrics": metrics, "baselines": baselines, "ratios": ratios})
    )


if __name__ == "__main__":
    main()
