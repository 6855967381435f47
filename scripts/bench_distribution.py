#!/usr/bin/env python3
"""Distribution benchmark: allowances pushed to fresh recipients, programs committed and closed
at any size, the recipient tree built, and 100k grants pushed through anvil.

    .venv/bin/python scripts/bench_distribution.py [--smoke]

Measured in one run, on contracts built by the same ``forge build`` into ``out/``:

- gas per fresh recipient of ``grantBatch`` pushes of 500 consecutive leaf indices with a
  ``chain.protocol.merkle`` multiproof over the largest tree, built as the gateway builds it
  (leaves in
  index order, ``sortLeaves: false``), so that one batch is one subtree (a multiproof of ~15
  nodes) and a dense run of the claimed bitmap: the headline ``grant_per_recipient``. For
  comparison, the same size of tree with leaves sorted by hash (the JS library's default), pushed
  from a second program to other fresh recipients, with batches in leaf-index order (dense
  bitmap, scattered multiproof) and in tree order (small multiproof, scattered bitmap); its
  cheaper figure is ``grant_per_recipient_sorted_tree``. Both against an OpenZeppelin ERC20 mint
  loop and a GasliteDrop-style packed airdrop to fresh recipients
  (``contracts/test/baselines/BaselineERC20.sol``);
- ``createProgram`` and ``closeProgram`` gas at N = 1k, 100k and 1M leaves, closing after expiry
  (reached by warping anvil's clock);
- the time and peak memory of building the 1M-leaf (index-ordered) tree from a recipients CSV,
  in a child process so that its ``ru_maxrss`` is the build's alone;
- the wall time anvil with 300M-gas blocks mined every second takes to include 100k grants, sent
  as pre-signed transactions with consecutive nonces, from the first send to the last receipt.

``--smoke`` runs the same code at small sizes (< 40 s); size-specific figures it does not
measure (``tree_build_1m_s``, ``push_100k_chain_s``) are null then. The last line printed is one
JSON object ``{"name": "distribution", "metrics", "baselines", "ratios"}``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_gas import BenchError, Receipt, Wallet, calldata, latest_timestamp
from eth_account import Account
from rich.console import Console
from rich.table import Table

from chain.artifacts import forge_build
from chain.node import LocalNode
from chain.protocol.calls import SELECTORS, ProgramParams, encode_create_program, encode_grant_batch
from chain.protocol.contracts import event_topic
from chain.protocol.merkle import MerkleTree, MultiProof
from chain.rpc import RpcClient
from chain.sender import Sender
from gateway.devnet.localnet import SIHEUNG, deploy_local, start_local_network

BASELINE_SOURCE = "BaselineERC20.sol"
BATCH = 500
GRANT = 100_000  # won per recipient
PROGRAM_SECONDS = 30 * 86_400
PUSH_BLOCK_GAS_LIMIT = 300_000_000
PUSH_BLOCK_TIME_S = 1
# Pre-signed pushes get their gas limit without an estimate each (an estimate re-runs a 20M-gas
# batch many times): the first batch's estimate, scaled by each batch's calldata size, plus
# this margin. anvil packs blocks by gas limit, not gas used, so a loose margin costs blocks.
PUSH_GAS_MARGIN = 1.05
PUSH_SEND_BYTES = 1 << 20  # per JSON-RPC batch request
PROGRAM_CREATED_TOPIC = event_topic("ProgramCreated")
GRANTED_TOPIC = event_topic("Granted")


@dataclass(frozen=True)
class Config:
    program_sizes: tuple[int, ...]  # createProgram/closeProgram at these N; grants on the last
    grant_batches: int  # batches measured per strategy and per baseline
    push_grants: int


FULL = Config(program_sizes=(1_000, 100_000, 1_000_000), grant_batches=4, push_grants=100_000)
SMOKE = Config(program_sizes=(1_000, 20_000), grant_batches=1, push_grants=10_000)
# The hash-sorted comparison tree's recipients: another seed, so that its grants go to fresh
# accounts too (a recipient who already holds tokens costs a cheaper balance write).
SORTED_TREE_SEED = 4040

console = Console(stderr=True)


# ------------------------------------------------------------------------------------------
# Recipient lists and trees


def write_recipients(path: Path, count: int, seed: int = 2020) -> None:
    """``count`` fresh recipients of ``GRANT`` won each: the file a municipality uploads."""
    rng = random.Random(seed)
    with path.open("w") as handle:
        handle.write("address,amount\n")
        for _ in range(count):
            handle.write(f"0x{rng.randbytes(20).hex()},{GRANT}\n")


@dataclass(frozen=True)
class TreeBuild:
    leaves: int
    seconds: float
    peak_rss_mb: float  # the child's peak resident set, interpreter included
    build_mb: float  # the peak minus what the child held before building


def build_tree_in_child(csv_path: Path, tree_path: Path) -> TreeBuild:
    """Times ``MerkleTree.from_csv`` in a fresh interpreter, which saves the tree to
    ``tree_path`` afterwards (see :func:`child_build_tree`)."""
    command = [sys.executable, __file__, "--build-tree", str(csv_path), str(tree_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"the tree-building child failed:\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return TreeBuild(
        leaves=int(report["leaves"]),
        seconds=float(report["seconds"]),
        peak_rss_mb=report["peak_kib"] / 1024,
        build_mb=(report["peak_kib"] - report["before_kib"]) / 1024,
    )


def child_build_tree(csv_path: str, tree_path: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    tree = MerkleTree.from_csv(csv_path)  # the default, index order, as the gateway builds
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tree.save(tree_path)
    report = {"leaves": len(tree), "seconds": seconds, "before_kib": before, "peak_kib": peak}
    print(json.dumps(report))


def grant_batch_calldata(program_id: int, multi: MultiProof) -> bytes:
    """``grantBatch`` calldata by hand: ~1 ms a batch against eth-abi's ~50 ms, which adds up
    over the 200 batches of a 100k push. Checked against eth-abi once per run."""

    def word(value: int) -> bytes:
        return value.to_bytes(32, "big")

    grants = b"".join(
        word(leaf.index) + bytes(12) + bytes.fromhex(leaf.recipient[2:]) + word(leaf.amount)
        for leaf in multi.leaves
    )
    grants_at = 4 * 32
    proof_at = grants_at + 32 + len(grants)
    flags_at = proof_at + 32 + 32 * len(multi.proof)
    return b"".join(
        (
            SELECTORS["grantBatch"],
            word(program_id),
            word(grants_at),
            word(proof_at),
            word(flags_at),
            word(len(multi.leaves)),
            grants,
            word(len(multi.proof)),
            *multi.proof,
            word(len(multi.proof_flags)),
            *(word(int(flag)) for flag in multi.proof_flags),
        )
    )


def index_batches(first: int, count: int) -> list[list[int]]:
    """Batches of consecutive leaf indices: two claimed-bitmap words each. In an index-ordered
    tree they are also adjacent leaves, so the multiproof carries ~log2(N) nodes in all; in a
    hash-sorted tree they are spread all over it, ~log2(N/500) nodes per leaf."""
    return [list(range(first + k * BATCH, first + (k + 1) * BATCH)) for k in range(count)]


def tree_order_batches(tree: MerkleTree, count: int, skip_below: int) -> list[list[int]]:
    """Batches of leaves adjacent in a hash-sorted tree: a multiproof of a few nodes, but
    indices spread over the whole claimed bitmap (nearly one fresh bitmap word per grant).
    Indices below ``skip_below`` (already pushed) are left out."""
    if not tree.sort_leaves:
        raise BenchError("tree-order batches are meant for a hash-sorted tree")
    by_position = [i for i in sorted(range(len(tree)), key=tree.leaf_hash) if i >= skip_below]
    return [by_position[k * BATCH : (k + 1) * BATCH] for k in range(count)]


# ------------------------------------------------------------------------------------------
# Gas: grants against the baselines, createProgram and closeProgram


def created_program_id(receipt: Receipt) -> int:
    for log in receipt.logs_with_topic(PROGRAM_CREATED_TOPIC):
        topics = log.get("topics")
        if isinstance(topics, list) and len(topics) > 1:
            return int(str(topics[1]), 16)
    raise BenchError(f"no ProgramCreated event in {receipt.tx_hash}")


@dataclass(frozen=True)
class Pushed:
    receipt: Receipt
    proof_nodes: int  # in the batch's multiproof


def proof_nodes(pushes: Sequence[Pushed]) -> int:
    """Median multiproof length of the batches."""
    return round(statistics.median(p.proof_nodes for p in pushes))


def per_recipient(batches: Sequence[Receipt | Pushed]) -> int:
    """Median receipt gas of whole batches, divided by the batch size."""
    receipts = [b.receipt if isinstance(b, Pushed) else b for b in batches]
    return round(statistics.median(r.gas_used for r in receipts) / BATCH)


class GasBench:
    """Programs and pushes on our network, and the baselines' airdrops, on one anvil."""

    def __init__(self, rpc: RpcClient, chain_id: int, token: str, keys: Sequence[str]) -> None:
        self.rpc = rpc
        self.token = token
        self.manager = Wallet(rpc, keys[0], chain_id)  # the operator holds every municipal role
        self.pusher = Wallet(rpc, keys[1], chain_id)  # anyone may push: the root is the authority
        self.deployer = Wallet(rpc, keys[2], chain_id)
        self.mint_loop = self.deployer.deploy("BaselineERC20", BASELINE_SOURCE, [])
        self.airdrop = self.deployer.deploy("BaselinePackedAirdrop", BASELINE_SOURCE, [])
        self._fresh = random.Random(96)

    def create_program(self, tree: MerkleTree) -> tuple[int, int]:
        """Commits ``tree``'s root; returns the program id and the gas."""
        now = latest_timestamp(self.rpc)
        params = ProgramParams(tree.root, GRANT * len(tree), now, now + PROGRAM_SECONDS)
        receipt = self.manager.send(self.token, encode_create_program(params), what="create")
        return created_program_id(receipt), receipt.gas_used

    def close_program(self, program_id: int) -> int:
        data = calldata("closeProgram", ["uint256"], program_id)
        return self.manager.send(self.token, data, what="closeProgram").gas_used

    def push(self, program_id: int, tree: MerkleTree, indices: Sequence[int]) -> Pushed:
        multi = tree.multiproof(indices)
        data = grant_batch_calldata(program_id, multi)
        receipt = self.pusher.send(self.token, data, what="grantBatch")
        granted = len(receipt.logs_with_topic(GRANTED_TOPIC))
        if granted != len(indices):
            raise BenchError(f"grantBatch paid {granted} of {len(indices)} grants")
        return Pushed(receipt, len(multi.proof))

    def fresh_recipients(self) -> list[str]:
        return ["0x" + self._fresh.randbytes(20).hex() for _ in range(BATCH)]

    def mint_loop_batch(self) -> Receipt:
        recipients = self.fresh_recipients()
        types = ["address[]", "uint256[]"]
        data = calldata("mintBatch", types, recipients, [GRANT] * len(recipients))
        return self.deployer.send(self.mint_loop, data, what="mintBatch")

    def packed_airdrop_batch(self) -> Receipt:
        recipients = self.fresh_recipients()
        packed = [(int(r, 16) << 96 | GRANT).to_bytes(32, "big") for r in recipients]
        data = calldata("airdrop", ["bytes32[]"], packed)
        return self.deployer.send(self.airdrop, data, what="airdrop")

    def warp(self, seconds: int) -> None:
        """Moves anvil's clock forward and mines a block at the new time."""
        self.rpc.call("evm_increaseTime", [seconds])
        self.rpc.call("evm_mine")


@dataclass(frozen=True)
class GasFigures:
    tree_leaves: int  # of the trees the grants are pushed from
    grant: int  # per fresh recipient: index-ordered tree, consecutive indices (the headline)
    grant_proof_nodes: int  # median multiproof length of those batches
    sorted_index_order: int  # hash-sorted tree, consecutive indices
    sorted_index_order_proof_nodes: int
    sorted_tree_order: int  # hash-sorted tree, leaves adjacent in the tree
    oz_mint_loop: int
    packed_airdrop: int
    create_program: dict[int, int]  # N -> gas
    create_first_program: int
    close_program: dict[int, int]

    @property
    def grant_sorted_tree(self) -> int:
        """With a hash-sorted tree a pusher would choose the cheaper way of batching."""
        return min(self.sorted_index_order, self.sorted_tree_order)

    @property
    def better_baseline(self) -> int:
        return min(self.oz_mint_loop, self.packed_airdrop)


def measure_gas(
    trees: Mapping[int, MerkleTree], sorted_tree: MerkleTree, batches: int
) -> GasFigures:
    """createProgram for every tree, pushes from the largest and from ``sorted_tree`` (a
    hash-sorted tree of the same size over other recipients), the baselines' airdrops, and
    closeProgram after expiry, on one anvil."""
    with tempfile.TemporaryDirectory(prefix="dongne-bench-distribution-") as workdir:
        net = start_local_network(Path(workdir), (SIHEUNG,))
        try:
            if net.node is None:
                raise BenchError("the local network has no node")
            keys = [a.private_key for a in net.node.dev_accounts()]
            token = net.manifest.token(SIHEUNG.region)
            roles = [keys[0], keys[2], keys[6]]
            bench = GasBench(net.node.rpc, net.manifest.chain_id, token, roles)
            # The municipality's first program also pays for the program counter's first write.
            _, first_program_gas = bench.create_program(trees[min(trees)])
            programs = {n: bench.create_program(tree) for n, tree in trees.items()}
            largest = max(trees)
            tree, (program_id, _) = trees[largest], programs[largest]
            if tree.sort_leaves or not sorted_tree.sort_leaves or len(sorted_tree) != largest:
                raise BenchError("expected an index-ordered tree and a sorted one of its size")
            _check_encoding(program_id, tree)
            by_index = [bench.push(program_id, tree, b) for b in index_batches(0, batches)]
            sorted_program, _ = bench.create_program(sorted_tree)
            sorted_by_index = [
                bench.push(sorted_program, sorted_tree, b) for b in index_batches(0, batches)
            ]
            tree_batches = tree_order_batches(sorted_tree, batches, skip_below=batches * BATCH)
            sorted_by_tree = [bench.push(sorted_program, sorted_tree, b) for b in tree_batches]
            mint_loop = [bench.mint_loop_batch() for _ in range(batches)]
            airdrop = [bench.packed_airdrop_batch() for _ in range(batches)]
            bench.warp(PROGRAM_SECONDS + 1)
            closes = {n: bench.close_program(pid) for n, (pid, _) in programs.items()}
        finally:
            net.stop()
    return GasFigures(
        tree_leaves=largest,
        grant=per_recipient(by_index),
        grant_proof_nodes=proof_nodes(by_index),
        sorted_index_order=per_recipient(sorted_by_index),
        sorted_index_order_proof_nodes=proof_nodes(sorted_by_index),
        sorted_tree_order=per_recipient(sorted_by_tree),
        oz_mint_loop=per_recipient(mint_loop),
        packed_airdrop=per_recipient(airdrop),
        create_program={n: gas for n, (_, gas) in programs.items()},
        create_first_program=first_program_gas,
        close_program=closes,
    )


def _check_encoding(program_id: int, tree: MerkleTree) -> None:
    multi = tree.multiproof(index_batches(0, 1)[0])
    reference = encode_grant_batch(program_id, multi.leaves, multi.proof, multi.proof_flags)
    if grant_batch_calldata(program_id, multi) != reference:
        raise BenchError("hand-encoded grantBatch calldata differs from eth-abi's")


# ------------------------------------------------------------------------------------------
# Chain time: 100k grants through anvil with 300M-gas blocks every second


@dataclass(frozen=True)
class Push:
    grants: int
    seconds: float  # wall time from the first send to the last receipt
    send_seconds: float  # of which submitting the signed transactions took this long
    transactions: int
    blocks: int
    gas_used: int


def measure_push(tree: MerkleTree, grants: int, workdir: Path) -> Push:
    """Deploys on a fresh anvil (automine, for speed), then switches it to interval mining and
    sends ``grants`` grants in pre-signed ``grantBatch`` transactions with consecutive nonces."""
    node = LocalNode(
        block_time=PUSH_BLOCK_TIME_S,
        block_gas_limit=PUSH_BLOCK_GAS_LIMIT,
        log_path=workdir / "anvil-push.log",
    )
    with node:
        node.set_automine(True)
        keys = [a.private_key for a in node.dev_accounts()]
        manifest, _ = deploy_local(node.rpc_url, keys[0], workdir / "push.json", (SIHEUNG,))
        token = manifest.token(SIHEUNG.region)
        manager = Wallet(node.rpc, keys[0], manifest.chain_id)
        now = latest_timestamp(node.rpc)
        params = ProgramParams(tree.root, GRANT * len(tree), now, now + PROGRAM_SECONDS)
        program_id = created_program_id(
            manager.send(token, encode_create_program(params), what="createProgram")
        )
        payloads = [
            grant_batch_calldata(program_id, tree.multiproof(batch))
            for batch in index_batches(0, grants // BATCH)
        ]
        raw = _sign_pushes(node.rpc, keys[2], manifest.chain_id, token, payloads)
        node.rpc.call("evm_setIntervalMining", [PUSH_BLOCK_TIME_S])
        started = time.monotonic()
        hashes = _send_raw(node.rpc, raw)
        sent = time.monotonic() - started
        pusher = Wallet(node.rpc, keys[2], manifest.chain_id)
        pusher.receipt(hashes[-1], "the last push", timeout=600)
        seconds = time.monotonic() - started
        receipts = [pusher.receipt(h, "push") for h in hashes]
    granted = sum(len(r.logs_with_topic(GRANTED_TOPIC)) for r in receipts)
    if granted != grants:
        raise BenchError(f"the pushes paid {granted} of {grants} grants")
    return Push(
        grants=grants,
        seconds=seconds,
        send_seconds=sent,
        transactions=len(receipts),
        blocks=len({r.block for r in receipts}),
        gas_used=sum(r.gas_used for r in receipts),
    )


def _sign_pushes(
    rpc: RpcClient, key: str, chain_id: int, token: str, payloads: Sequence[bytes]
) -> list[bytes]:
    # Full 300M-gas blocks raise the base fee 12.5% a block; 100 gwei stays above it throughout.
    sender = Sender(rpc, Account.from_key(key), chain_id, gas_price=100 * 10**9)
    estimate = sender.estimate((token, payloads[0], 0), "grantBatch")
    nonce = rpc.get_transaction_count(sender.address, "pending")
    return [
        sender.sign(
            (token, data, 0),
            nonce=nonce + i,
            gas=int(estimate * len(data) / len(payloads[0]) * PUSH_GAS_MARGIN),
        ).raw
        for i, data in enumerate(payloads)
    ]


def _send_raw(rpc: RpcClient, raw: Sequence[bytes]) -> list[str]:
    """Sends signed transactions in JSON-RPC batches of about ``PUSH_SEND_BYTES``."""
    hashes: list[str] = []
    chunk: list[tuple[str, Sequence[object]]] = []
    size = 0
    for tx in raw:
        chunk.append(("eth_sendRawTransaction", ["0x" + tx.hex()]))
        size += 2 * len(tx)
        if size >= PUSH_SEND_BYTES:
            hashes += [str(h) for h in rpc.batch(chunk)]
            chunk, size = [], 0
    hashes += [str(h) for h in rpc.batch(chunk)]
    return hashes


# ------------------------------------------------------------------------------------------
# Report


def result(gas: GasFigures, build: TreeBuild, push: Push) -> dict[str, object]:
    """The benchmark's JSON object."""
    metrics: dict[str, object] = {
        "grant_per_recipient": gas.grant,
        "grant_proof_nodes_per_batch": gas.grant_proof_nodes,
        "grant_per_recipient_sorted_tree": gas.grant_sorted_tree,
        "grant_per_recipient_sorted_tree_index_order": gas.sorted_index_order,
        "grant_per_recipient_sorted_tree_tree_order": gas.sorted_tree_order,
        "grant_proof_nodes_per_batch_sorted_tree_index_order": gas.sorted_index_order_proof_nodes,
        "grant_tree_leaves": gas.tree_leaves,
        "grant_batch_size": BATCH,
        "create_program_gas": {str(n): g for n, g in gas.create_program.items()},
        "create_first_program_gas": gas.create_first_program,
        "close_program_gas": {str(n): g for n, g in gas.close_program.items()},
        "tree_build_leaves": build.leaves,
        "tree_build_s": round(build.seconds, 2),
        "tree_build_1m_s": round(build.seconds, 2) if build.leaves == 1_000_000 else None,
        "tree_build_peak_rss_mb": round(build.peak_rss_mb, 1),
        "tree_build_mb": round(build.build_mb, 1),
        "push_grants": push.grants,
        "push_chain_s": round(push.seconds, 2),
        "push_100k_chain_s": round(push.seconds, 2) if push.grants == 100_000 else None,
        "push_send_s": round(push.send_seconds, 2),
        "push_blocks": push.blocks,
        "push_transactions": push.transactions,
        "push_gas_per_grant": round(push.gas_used / push.grants),
        "push_block_gas_limit": PUSH_BLOCK_GAS_LIMIT,
        "push_block_time_s": PUSH_BLOCK_TIME_S,
    }
    baselines = {
        "oz_mint_loop_per_recipient": gas.oz_mint_loop,
        "packed_airdrop_per_recipient": gas.packed_airdrop,
    }
    ratios = {
        "grant_per_recipient": round(gas.grant / gas.better_baseline, 3),
        "grant_sorted_tree": round(gas.grant_sorted_tree / gas.better_baseline, 3),
        "grant_vs_sorted_tree": round(gas.grant / gas.grant_sorted_tree, 3),
        "grant_vs_oz_mint_loop": round(gas.grant / gas.oz_mint_loop, 3),
        "grant_vs_packed_airdrop": round(gas.grant / gas.packed_airdrop, 3),
    }
    return {"name": "distribution", "metrics": metrics, "baselines": baselines, "ratios": ratios}


def print_table(gas: GasFigures, build: TreeBuild, push: Push) -> None:
    table = Table(title="distribution: gas on anvil (shanghai), times on this machine", width=120)
    for column in ("figure", "ours", "baseline", "ratio", "target"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    better = gas.better_baseline
    for label, ours in (
        (
            f"index-ordered tree, consecutive batches ({gas.grant_proof_nodes} proof nodes)",
            gas.grant,
        ),
        (
            f"hash-sorted tree, consecutive batches ({gas.sorted_index_order_proof_nodes:,} proof "
            "nodes)",
            gas.sorted_index_order,
        ),
        ("hash-sorted tree, tree-order batches", gas.sorted_tree_order),
    ):
        ratio = ours / better
        verdict = "met" if ratio <= 1.05 else "MISSED"
        table.add_row(
            f"grantBatch gas per fresh recipient, batches of {BATCH} from a "
            f"{gas.tree_leaves:,}-leaf {label}",
            f"{ours:,}",
            f"{better:,}",
            f"{ratio:.3f}",
            f"<= 1.05 {verdict}",
        )
    table.add_row("OZ ERC20 mint loop, per fresh recipient", "", f"{gas.oz_mint_loop:,}", "", "")
    table.add_row(
        "GasliteDrop-style packed airdrop, per fresh recipient",
        "",
        f"{gas.packed_airdrop:,}",
        "",
        "GasliteDrop: 24,946",
    )
    for label, figures in (
        ("createProgram", gas.create_program),
        ("closeProgram", gas.close_program),
    ):
        for n, value in figures.items():
            table.add_row(f"{label} gas, N = {n:,}", f"{value:,}", "", "", "flat in N")
    table.add_row(
        "createProgram gas, the municipality's first program",
        f"{gas.create_first_program:,}",
        "",
        "",
        "",
    )
    table.add_row(
        f"tree build from CSV, {build.leaves:,} leaves, s (peak RSS {build.peak_rss_mb:,.0f} MB)",
        f"{build.seconds:.1f}",
        "",
        "",
        "<= 60 s at 1M",
    )
    table.add_row(
        f"push {push.grants:,} grants, wall s: {PUSH_BLOCK_GAS_LIMIT // 10**6}M-gas blocks every "
        f"{PUSH_BLOCK_TIME_S} s, {push.transactions} txs in {push.blocks} blocks",
        f"{push.seconds:.1f}",
        "",
        "",
        "<= 15 s at 100k",
    )
    Console(width=120).print(table)


def run(config: Config) -> dict[str, object]:
    started = time.monotonic()
    forge_build()
    console.print(f"forge build: {time.monotonic() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="dongne-bench-distribution-") as tmp:
        workdir = Path(tmp)
        largest = max(config.program_sizes)
        trees: dict[int, MerkleTree] = {}  # index-ordered, the default the gateway builds
        for n in config.program_sizes:
            csv_path = workdir / f"recipients-{n}.csv"
            write_recipients(csv_path, n)
            if n == largest:
                build = build_tree_in_child(csv_path, workdir / "tree.bin")
                trees[n] = MerkleTree.load(workdir / "tree.bin")
            else:
                trees[n] = MerkleTree.from_csv(csv_path)
        sorted_csv = workdir / f"recipients-{largest}-sorted-tree.csv"
        write_recipients(sorted_csv, largest, seed=SORTED_TREE_SEED)
        sorted_tree = MerkleTree.from_csv(sorted_csv, sort_leaves=True)
        console.print(f"trees built: {time.monotonic() - started:.1f} s")
        gas = measure_gas(trees, sorted_tree, config.grant_batches)
        del sorted_tree
        console.print(f"gas measured: {time.monotonic() - started:.1f} s")
        push_tree = trees[min(n for n in trees if n >= config.push_grants)]
        push = measure_push(push_tree, config.push_grants, workdir)
        console.print(f"push measured: {time.monotonic() - started:.1f} s")
    print_table(gas, build, push)
    return result(gas, build, push)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, no 1M tree (< 40 s)")
    parser.add_argument("--build-tree", nargs=2, metavar=("CSV", "TREE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_tree:
        child_build_tree(*args.build_tree)
        return 0
    print(json.dumps(run(SMOKE if args.smoke else FULL), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
