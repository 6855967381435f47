"""Relay throughput: the whole stack on anvil with interval mining, against two baselines.

Many wallets, requests signed before the clock starts, then submitted over real HTTP to a
gateway process for a sustained window. Reports accepted/s, final/s, p50/p99 acceptance and
time-to-final. Baselines in the same run and on the same node settings: a naive relay (one
forwarder `execute` per request, waiting for each receipt) and raw pre-signed ETH transfers
sent straight to the node (the node's own ceiling).

    python scripts/bench_relay.py [--seconds 60] [--rate 1500] [--wallets 3000]

``--overload`` measures admission control instead: the relayer's capacity first (offered
``--rate`` for ``--capacity-seconds``: the requests made final per second of chain time),
then twice that offered for ``--duration`` seconds. Each wallet has one request out at a time,
as a wallet app does; a refused request is sent again after its Retry-After (every send counts
as offered). It reports accepted/s against capacity, the p99 of refusals and of acceptances,
and checks that every accepted request ran exactly once on chain (the forwarder's
ExecutedForwardRequest events) and is final in the relayer's table. ``--smoke`` is a few
seconds of the same.

    python scripts/bench_relay.py --overload [--duration 60] [--smoke]

Last line: one JSON object {"name": "relay" or "relay_overload", "metrics", "baselines",
"ratios"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import tempfile
import time
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from eth_account import Account
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, select

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
from gateway.db.tables.relayer import requests as relayer_requests
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


@dataclass
class Offered:
    """What an open-loop offer saw: every send, and what each answer was."""

    sends: int = 0
    idle_ticks: int = 0  # ticks with every wallet waiting (the offer fell short)
    accepted: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (signer, nonce)
    accept_ms: list[float] = field(default_factory=list)
    refuse_ms: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retry_after: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0

    @property
    def window(self) -> float:
        return max(self.ended - self.started, 1e-9)


async def offer(
    url: str, wallets: list[Wallet], bodies: list[list[bytes]], rate: float, seconds: float
) -> Offered:
    """Offers `rate` sends/s for `seconds`. A wallet has one request out at a time: accepted,
    its next nonce may go; refused (429/503), the same body is sent again after Retry-After."""
    result = Offered()
    loop = asyncio.get_running_loop()
    ready: deque[int] = deque(range(len(wallets)))
    next_nonce = [0] * len(wallets)
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            nonce = next_nonce[i]
            sent = time.perf_counter()
            try:
                async with session.post(
                    url + "/v1/requests",
                    data=bodies[i][nonce],
                    headers={"Content-Type": "application/json"},
                ) as response:
                    payload = await response.json(content_type=None)
                    status, retry = response.status, response.headers.get("Retry-After")
            except aiohttp.ClientError as exc:
                result.errors[type(exc).__name__] += 1
                loop.call_later(1.0, ready.append, i)
                return
            ms = (time.perf_counter() - sent) * 1000
            if status == 202:
                result.accept_ms.append(ms)
                result.accepted[str(payload["id"])] = (wallets[i].address, nonce)
                next_nonce[i] = nonce + 1
                if next_nonce[i] < len(bodies[i]):
                    ready.append(i)
            elif status in (429, 503):
                result.refuse_ms.append(ms)
                code = str(payload.get("code", status))
                reason = (payload.get("args") or {}).get("reason")  # Overloaded's: which limit
                result.refused[f"{code}:{reason}" if reason else code] += 1
                result.retry_after[str(retry)] += 1
                loop.call_later(float(retry or 1), ready.append, i)
            else:  # a bug in the bench or the relayer: that wallet stops
                result.errors[str(payload.get("code", status))] += 1

        tasks: set[asyncio.Task[None]] = set()
        result.started = next_at = time.perf_counter()
        while (now := time.perf_counter()) - result.started < seconds:
            if next_at > now:
                await asyncio.sleep(next_at - now)
            next_at += 1.0 / rate
            if not ready:
                result.idle_ticks += 1
                continue
            result.sends += 1
            task = asyncio.create_task(one(ready.popleft()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        result.ended = time.perf_counter()
        await asyncio.gather(*tasks)
    return result


def executed_pairs(rpc: RpcClient, forwarder: str, first: int) -> Counter[tuple[str, int]]:
    """How many times each (signer, nonce) ran on chain since block `first`."""
    logs = rpc.get_logs(
        {"address": forwarder, "fromBlock": hex(first), "toBlock": "latest", "topics": [EXECUTED]}
    )
    runs: Counter[tuple[str, int]] = Counter()
    for log in logs:
        signer = "0x" + str(log["topics"][1])[-40:]  # type: ignore[index]
        runs[(signer.lower(), int(str(log["data"])[2:66], 16))] += 1
    return runs


def wait_executed(
    rpc: RpcClient, forwarder: str, first: int, accepted: Offered, timeout: float
) -> Counter[tuple[str, int]]:
    wanted = {(signer.lower(), nonce) for signer, nonce in accepted.accepted.values()}
    deadline = time.time() + timeout
    while True:
        runs = executed_pairs(rpc, forwarder, first)
        if wanted <= runs.keys() or time.time() > deadline:
            return runs
        time.sleep(1)


def _sign_bodies(
    job: tuple[ForwarderDomain, str, list[Wallet], list[str], int],
) -> list[list[bytes]]:
    domain, token, wallets, shops, nonces = job
    rounds = presign(domain, token, wallets, shops, nonces)
    return [[json.dumps(rounds[k][i]).encode() for k in range(nonces)] for i in range(len(wallets))]


def presign_wallets(
    domain: ForwarderDomain, token: str, wallets: list[Wallet], shops: list[str], nonces: int
) -> list[list[bytes]]:
    """Each wallet's requests, nonce 0 to `nonces` - 1, as JSON bodies (signed on every
    core before the clock starts: ~1 ms a signature)."""
    step = max(1, len(wallets) // 8)
    jobs = [
        (domain, token, wallets[i : i + step], shops, nonces) for i in range(0, len(wallets), step)
    ]
    with ProcessPoolExecutor() as pool:
        return [bodies for chunk in pool.map(_sign_bodies, jobs) for bodies in chunk]


def steady_rate(rpc: RpcClient, forwarder: str, after: int, last: int) -> tuple[float, int]:
    """Requests executed per second of chain time in blocks `after`+1 .. `last`: the rate the
    relayer sustains while saturated, without the ramp before its first batches or the tail
    after the offer stopped."""
    counts = executed_per_block(rpc, forwarder, after + 1, last)
    t0 = int(str(rpc.get_block(after)["timestamp"]), 16)  # type: ignore[index]
    t1 = int(str(rpc.get_block(last)["timestamp"]), 16)  # type: ignore[index]
    total = sum(counts.values())
    return total / max(t1 - t0, 1), total


def overload(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="dongne-bench-overload-"))
    net = start_local_network(
        workdir, (SIHEUNG,), block_time=args.block_time, block_gas_limit=args.block_gas_limit
    )
    try:
        everyone, shops, token = setup(net, 2 * args.wallets, args.merchants)
        domain = ForwarderDomain(net.manifest.chain_id, net.manifest.forwarder)
        # Nonces enough for `--expected` accepted/s (the capacity, about) spread over every
        # wallet, with room: a wallet that runs out stops (counted in idle_ticks).
        nonces = [
            math.ceil(args.expected * seconds / args.wallets * 1.5) + 2
            for seconds in (args.capacity_seconds, args.duration)
        ]
        console.print(f"pre-signing {sum(nonces) * args.wallets} requests")
        first_wallets, second_wallets = everyone[: args.wallets], everyone[args.wallets :]
        bodies = [
            presign_wallets(domain, token, group, shops, n)
            for group, n in zip((first_wallets, second_wallets), nonces, strict=True)
        ]
        db = args.database_url or f"sqlite:///{workdir / 'gateway.db'}"
        env = net.gateway_env(
            db,
            batch_max_requests="300",
            batch_interval_ms="100",
            rate_limit_per_signer="1000",
            embedded_indexer="true" if args.indexer else "false",
        )
        rpc = net.operator.rpc
        forwarder = net.manifest.forwarder
        gateway = GatewayProcess(env, log_path=workdir / "gateway.log")
        # A shared machine under load may take more than a minute to import and start it.
        with gateway.start(timeout=300) as gw:
            first_block = rpc.block_number() + 1
            console.print(f"capacity: offering {args.rate:.0f}/s for {args.capacity_seconds} s")
            # Saturated (a backlog kept by admission control), the batcher drains at its best:
            # blocks from a third into the offer to its end.
            marks: list[int] = []
            warmup = asyncio.get_event_loop_policy().new_event_loop()
            warmup.call_later(args.capacity_seconds / 3, lambda: marks.append(rpc.block_number()))
            warm = warmup.run_until_complete(
                offer(gw.url, first_wallets, bodies[0], args.rate, args.capacity_seconds)
            )
            warmup.close()
            steady_end = rpc.block_number()
            wait_executed(rpc, forwarder, first_block, warm, timeout=120)
            capacity, _ = steady_rate(rpc, forwarder, marks[0], steady_end)
            console.print(
                f"capacity {capacity:.0f}/s; accepted {len(warm.accepted) / warm.window:.0f}/s,"
                f" refused {dict(warm.refused)}, errors {dict(warm.errors)}"
            )
            offered = 2 * capacity
            second_block = rpc.block_number() + 1
            console.print(f"overload: offering {offered:.0f}/s (2x) for {args.duration} s")
            load = asyncio.run(offer(gw.url, second_wallets, bodies[1], offered, args.duration))
            runs = wait_executed(rpc, forwarder, second_block, load, timeout=180)
            final_states = relayer_states(db, list(load.accepted))
    finally:
        net.stop()
    wanted = {(signer.lower(), nonce) for signer, nonce in load.accepted.values()}
    lost = sum(1 for pair in wanted if runs.get(pair, 0) != 1)
    not_final = (
        len(load.accepted) - final_states.get("succeeded", 0) - final_states.get("failed", 0)
    )
    accepted_per_s = len(load.accepted) / load.window
    metrics = {
        "capacity_per_s": round(capacity, 1),
        "capacity_phase_accepted_per_s": round(len(warm.accepted) / warm.window, 1),
        "capacity_phase_refused": dict(warm.refused),
        "offered_per_s": round(load.sends / load.window, 1),
        "accepted_per_s": round(accepted_per_s, 1),
        "overload_accepted_vs_capacity": round(accepted_per_s / capacity, 3) if capacity else None,
        "overload_refuse_p99_ms": ms(load.refuse_ms, 0.99),
        "overload_refuse_p50_ms": ms(load.refuse_ms, 0.5),
        "overload_p99_accept_ms": ms(load.accept_ms, 0.99),
        "overload_p50_accept_ms": ms(load.accept_ms, 0.5),
        "overload_lost": lost,
        "overload_not_final": not_final,
        "accepted": len(load.accepted),
        "refused": dict(load.refused),
        "retry_after_s": dict(load.retry_after),
        "errors": dict(load.errors),
        "idle_ticks": load.idle_ticks,
        "final_states": final_states,
        "seconds": round(load.window, 1),
        "wallets": args.wallets,
        "block_time_s": args.block_time,
        "database": "postgresql" if db.startswith("postgres") else "sqlite",
    }
    return {
        "name": "relay_overload",
        "metrics": metrics,
        "baselines": {"capacity_per_s": round(capacity, 1)},
        "ratios": {"accepted_vs_capacity": metrics["overload_accepted_vs_capacity"]},
    }


def ms(values: list[float], q: float) -> float | None:
    """A percentile for JSON: None when nothing was measured (NaN is not JSON)."""
    return round(percentile(values, q), 2) if values else None


def relayer_states(database_url: str, ids: list[str]) -> dict[str, int]:
    """The relayer's own word on the accepted requests: how many are in each status."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    states: Counter[str] = Counter()
    try:
        with engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                query = select(relayer_requests.c.status).where(relayer_requests.c.id.in_(chunk))
                states.update(str(status) for status in conn.execute(query).scalars())
    finally:
        engine.dispose()
    return dict(states)


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
    parser.add_argument("--overload", action="store_true", help="admission control: 2x capacity")
    parser.add_argument("--duration", type=float, default=60.0, help="--overload: seconds at 2x")
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument(
        "--expected", type=float, default=800.0, help="--overload: capacity to pre-sign for"
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds of the same")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.rate, args.wallets = 3.0, 200.0, 200
        args.duration, args.capacity_seconds, args.naive_seconds = 4.0, 3.0, 2.0
        args.expected = 200.0
    if args.overload:
        result = overload(args)
        show(result)
        print(json.dumps(result))
        return

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
            embedded_indexer="true" if args.indexer else "false",
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
        raw = raw_transfers(net, 2_000 if args.smoke else 20_000)
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
    result = {"name": "relay", "metrics": metrics, "baselines": baselines, "ratios": ratios}
    show(result)
    print(json.dumps(result))


def show(result: dict[str, object]) -> None:
    table = Table(title=f"{result['name']} benchmark")
    for column in ("measure", "value"):
        table.add_column(column)
    for part in ("metrics", "baselines", "ratios"):
        values = result[part]
        assert isinstance(values, dict)
        for k, v in values.items():
            table.add_row(k, str(v))
    Console(stderr=True).print(table)


if __name__ == "__main__":
    main()
