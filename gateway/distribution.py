"""Distribution jobs: a recipients CSV -> a saved tree -> a committed root -> pushed grants.

1. ``create_job`` builds the OpenZeppelin-compatible tree (``chain.merkle``), saves it as
   ``<trees dir>/<root hex>.bin`` (the CLI's layout, so either tool serves the other's trees)
   and answers root, total and count. The gateway never commits: the program manager signs
   ``createProgram`` with their own key, through the relayer or directly.
2. Once the index holds a ``ProgramCreated`` with that root, the job binds to that program.
3. ``push`` sends ``grantBatch`` for contiguous leaf ranges of ``batch_size`` (500) as direct
   transactions of the gateway's distribution key: pushing is permissionless, and 500 fresh
   recipients (~14M gas) are far over a relayed request's gas limit. That key must not be one
   of the relayer's, whose batcher keeps its own nonce sequence.

Nobody is paid twice, whatever crashes: the claimed bitmap on chain is the truth. Each range
is checked with ``isClaimed`` just before sending and only unclaimed leaves are sent; a batch's
transaction hash is stored before it is sent, so a resumed push first settles what it may
already have sent; and the token itself skips a paid index, so even a duplicate send only
costs gas.
"""

from __future__ import annotations

import functools
import io
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from sqlalchemy import Connection, Engine, Row, func, insert, or_, select, update

from chain.calls import encode_grant_batch
from chain.errors import decode_revert, revert_data_from_rpc_error
from chain.merkle import MerkleInputError, MerkleTree
from chain.rpc import JSONObject, RpcClient, RpcError
from gateway import distribution_tables as d
from gateway import index_tables as t
from gateway.problems import Problem
from gateway.settings import Settings

__all__ = [
    "DEFAULT_BATCH",
    "BatchRecord",
    "ChainProgram",
    "JobReport",
    "JobStatus",
    "LeafProof",
    "TokenReader",
    "create_job",
    "job_report",
    "job_status",
    "list_jobs",
    "load_tree",
    "proof_for",
    "proofs_for_address",
    "push",
    "tree_path",
    "trees_dir",
]

DEFAULT_BATCH = 500
LEASE_S = 120.0
GRANTED_TOPIC = "0x" + keccak(text="Granted(uint256,address,uint256,uint256)").hex()
_INT64_MAX = (1 << 63) - 1
_NOT_FAILURES = frozenset({"DistributionBusy", "DistributionNotCommitted", "NotFound"})


# ------------------------------------------------------------------------------ chain reads


def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


_TOTAL_SUPPLY, _BALANCE_OF = _selector("totalSupply()"), _selector("balanceOf(address)")
_PROGRAM_OF, _PROGRAM_COUNT = _selector("programOf(uint256)"), _selector("programCount()")
_POCKET_OF, _IS_CLAIMED = (
    _selector("pocketOf(uint256,address)"),
    _selector("isClaimed(uint256,uint256)"),
)
_PROGRAM = "(bytes32,uint64,uint64,uint64,uint40,uint40,bool,bool,bool)"
_RPC_BATCH = 500  # calls per JSON-RPC batch: nodes cap batch sizes (Besu: 1,024)


@dataclass(frozen=True, slots=True)
class ChainProgram:
    """``programOf``: a program's state on chain."""

    root: str
    budget: int
    granted: int
    spent: int
    start: int
    expiry: int
    revenue_cap_waived: bool
    any_category: bool
    closed: bool


class TokenReader:
    """``eth_call`` reads of one voucher token, batched, at one block (``None``: latest).

    Audits pin the block the index has reached, so both sides describe the same state.
    """

    def __init__(self, rpc: RpcClient, token: str, block: int | None = None) -> None:
        self.rpc, self.token, self.block = rpc, token, block

    def _calls(self, payloads: Sequence[bytes]) -> list[bytes]:
        tag = "latest" if self.block is None else hex(self.block)
        out: list[bytes] = []
        for start in range(0, len(payloads), _RPC_BATCH):
            chunk = payloads[start : start + _RPC_BATCH]
            calls = [("eth_call", [{"to": self.token, "data": "0x" + p.hex()}, tag]) for p in chunk]
            out.extend(bytes.fromhex(str(r)[2:]) for r in self.rpc.batch(calls))
        return out

    def _uints(self, payloads: Sequence[bytes]) -> list[int]:
        return [int.from_bytes(raw[:32], "big") for raw in self._calls(payloads)]

    def total_supply(self) -> int:
        return self._uints([_TOTAL_SUPPLY])[0]

    def program_count(self) -> int:
        return self._uints([_PROGRAM_COUNT])[0]

    def balances(self, holders: Sequence[str]) -> list[int]:
        return self._uints([_BALANCE_OF + abi_encode(["address"], [h]) for h in holders])

    def pockets(self, pairs: Sequence[tuple[int, str]]) -> list[int]:
        encode = functools.partial(abi_encode, ["uint256", "address"])
        return self._uints([_POCKET_OF + encode([pid, holder]) for pid, holder in pairs])

    def claimed(self, program_id: int, indices: Sequence[int]) -> list[bool]:
        encode = functools.partial(abi_encode, ["uint256", "uint256"])
        return [
            v != 0 for v in self._uints([_IS_CLAIMED + encode([program_id, i]) for i in indices])
        ]

    def programs(self, ids: Sequence[int]) -> list[ChainProgram]:
        raws = self._calls([_PROGRAM_OF + abi_encode(["uint256"], [i]) for i in ids])
        out = []
        for raw in raws:
            (v,) = abi_decode([_PROGRAM], raw)
            root, budget, granted, spent, start, expiry, waived, any_category, closed = v
            out.append(
                ChainProgram("0x" + bytes(root).hex(), budget, granted, spent, start, expiry,
                             waived, any_category, closed)
            )  # fmt: skip
        return out


# ------------------------------------------------------------------------------ trees


def trees_dir(settings: Settings) -> Path:
    """Where trees are saved: ``trees/`` beside the manifest (``.dongne/trees``), as the CLI's
    ``program create`` does."""
    return settings.manifest_path.parent / "trees"


def tree_path(trees_dir: Path, root: str) -> Path:
    return trees_dir / f"{root.removeprefix('0x')}.bin"


@functools.lru_cache(maxsize=8)
def _cached_tree(path: str, _mtime_ns: int) -> MerkleTree:
    # Keyed by modification time too, so a rewritten file is never served stale.
    return MerkleTree.load(path)


def load_tree(trees_dir: Path, root: str) -> MerkleTree | None:
    """The saved tree of ``root``, or None when this gateway never built it."""
    path = tree_path(trees_dir, root)
    try:
        return _cached_tree(str(path), path.stat().st_mtime_ns)
    except FileNotFoundError:
        return None


def _ensure_leaves(conn: Connection, root: str, tree: MerkleTree) -> None:
    """Stores the tree's leaves once per root (for lookups by recipient and SQL audits)."""
    c = d.distribution_leaves.c
    if conn.execute(select(c.leaf_index).where(c.root == root).limit(1)).first():
        return
    chunk: list[dict[str, object]] = []
    for leaf in tree:
        recipient = leaf.recipient.lower()
        chunk.append({"root": root, "leaf_index": leaf.index, "recipient": recipient,
                      "amount": leaf.amount})  # fmt: skip
        if len(chunk) == 5_000:
            conn.execute(insert(d.distribution_leaves), chunk)
            chunk = []
    if chunk:
        conn.execute(insert(d.distribution_leaves), chunk)


# ------------------------------------------------------------------------------ jobs


@dataclass(frozen=True, slots=True)
class JobStatus:
    id: str
    token: str
    root: str
    count: int  # leaves (recipients, a recipient listed twice counting twice)
    total: int  # won over every leaf: the budget the program needs
    batch_size: int
    program_id: int | None  # once the commit is indexed
    status: str  # built | committed | pushing | interrupted | done | failed
    pushed: int  # grants paid by this job's transactions
    pushed_amount: int
    skipped_claimed: int  # leaves found already claimed (pulled, or pushed by a lost attempt)
    claimed_elsewhere: int  # sent, but paid by someone else before the transaction mined
    remaining: int
    progress_pct: float
    error_code: str | None
    error_detail: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class BatchRecord:
    first_index: int
    last_index: int
    status: str
    sent: int
    skipped: int
    paid: int
    paid_amount: int
    tx_hash: str | None
    gas_used: int | None
    block_number: int | None
    attempts: int


@dataclass(frozen=True, slots=True)
class JobReport:
    job: JobStatus
    batches: list[BatchRecord]
    tx_hashes: list[str]
    gas_used: int


def create_job(
    engine: Engine,
    trees_dir: Path,
    chain_id: int,
    token: str,
    csv_text: str,
    *,
    batch_size: int = DEFAULT_BATCH,
) -> JobStatus:
    """Builds and saves the tree of a recipients CSV (``address,amount`` rows) for ``token``."""
    try:
        tree = MerkleTree.from_csv(io.StringIO(csv_text, newline=""))
    except MerkleInputError as exc:
        raise Problem("InvalidRequest", f"recipients CSV {exc}", {"line": exc.line}) from None
    root = "0x" + tree.root.hex()
    total = sum(leaf.amount for leaf in tree)
    if total > _INT64_MAX:
        raise Problem("InvalidRequest", "the list's total does not fit a program budget")
    trees_dir.mkdir(parents=True, exist_ok=True)
    path = tree_path(trees_dir, root)
    if not path.exists():
        tree.save(path)
    now = time.time()
    job_id = uuid.uuid4().hex
    row = {"id": job_id, "chain_id": chain_id, "token": token.lower(), "root": root,
           "leaf_count": len(tree), "total": total, "batch_size": max(1, min(batch_size, 2_000)),
           "status": d.BUILT, "created_at": now, "updated_at": now}  # fmt: skip
    with engine.begin() as conn:
        _ensure_leaves(conn, root, tree)
        conn.execute(insert(d.distribution_jobs).values(row))
    return job_status(engine, job_id)


def _job_row(conn: Connection, job_id: str) -> Row[tuple[object, ...]]:
    row = conn.execute(select(d.distribution_jobs).where(d.distribution_jobs.c.id == job_id))
    found = row.first()
    if found is None:
        raise Problem("NotFound", f"no distribution job {job_id}", {"job": job_id})
    return found


def _bind(conn: Connection, job: Row[tuple[object, ...]]) -> int | None:
    """The program committing the job's root: the oldest one no other job has taken (a city
    may run the same list twice, as two programs with one root)."""
    if job.program_id is not None:
        return int(job.program_id)
    j, p = d.distribution_jobs.c, t.programs.c
    taken = select(j.program_id).where(
        j.chain_id == job.chain_id, j.token == job.token, j.program_id.is_not(None)
    )
    program_id = conn.execute(
        select(p.program_id)
        .where(p.chain_id == job.chain_id, p.token == job.token, p.root == job.root)
        .where(p.program_id.not_in(taken))
        .order_by(p.program_id)
        .limit(1)
    ).scalar()
    if program_id is None:
        return None
    status = d.COMMITTED if job.status == d.BUILT else job.status
    conn.execute(
        update(d.distribution_jobs)
        .where(j.id == job.id)
        .values(program_id=program_id, status=status, updated_at=time.time())
    )
    return int(program_id)


def job_status(engine: Engine, job_id: str) -> JobStatus:
    with engine.begin() as conn:
        job = _job_row(conn, job_id)
        _bind(conn, job)
        return _status(conn, _job_row(conn, job_id))


def list_jobs(engine: Engine, chain_id: int, token: str | None = None) -> list[JobStatus]:
    j = d.distribution_jobs.c
    query = select(j.id).where(j.chain_id == chain_id).order_by(j.created_at)
    if token is not None:
        query = query.where(j.token == token.lower())
    with engine.connect() as conn:
        ids = list(conn.execute(query).scalars())
    return [job_status(engine, job_id) for job_id in ids]


def _lapsed(job: Row[tuple[object, ...]]) -> bool:
    return job.status == d.PUSHING and (job.lease_until or 0) < time.time()


def _status(conn: Connection, job: Row[tuple[object, ...]]) -> JobStatus:
    b = d.distribution_batches.c
    sums = conn.execute(
        select(
            func.coalesce(func.sum(b.paid), 0),
            func.coalesce(func.sum(b.paid_amount), 0),
            func.coalesce(func.sum(b.skipped), 0),
            func.coalesce(func.sum(b.sent - b.paid).filter(b.status == d.MINED), 0),
        ).where(b.job_id == job.id, b.status.in_((d.MINED, d.SKIPPED)))
    ).one()
    pushed, amount, skipped, elsewhere = (int(v) for v in sums)
    count = int(job.leaf_count)
    remaining = max(0, count - pushed - skipped - elsewhere)
    return JobStatus(
        id=str(job.id),
        token=to_checksum_address(str(job.token)),
        root=str(job.root),
        count=count,
        total=int(job.total),
        batch_size=int(job.batch_size),
        program_id=None if job.program_id is None else int(job.program_id),
        # A pusher that died keeps its status until its lease runs out; say so, not "pushing".
        status=d.INTERRUPTED if _lapsed(job) else str(job.status),
        pushed=pushed,
        pushed_amount=amount,
        skipped_claimed=skipped,
        claimed_elsewhere=elsewhere,
        remaining=remaining,
        progress_pct=round(100.0 * (count - remaining) / count, 2) if count else 100.0,
        error_code=job.error_code,
        error_detail=job.error_detail,
        created_at=float(job.created_at),
        updated_at=float(job.updated_at),
    )


def job_report(engine: Engine, job_id: str) -> JobReport:
    """The job's figures with every batch, its transaction hashes and the gas they used."""
    status = job_status(engine, job_id)
    b = d.distribution_batches.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(d.distribution_batches).where(b.job_id == job_id).order_by(b.first_index)
        ).all()
    fields = BatchRecord.__dataclass_fields__
    batches = [BatchRecord(**{name: r._mapping[name] for name in fields}) for r in rows]
    hashes = [x.tx_hash for x in batches if x.tx_hash is not None and x.status == d.MINED]
    gas = sum(x.gas_used or 0 for x in batches if x.status == d.MINED)
    return JobReport(status, batches, hashes, gas)


# ------------------------------------------------------------------------------ push

ProgressCallback = Callable[[JobStatus], None]


def push(
    engine: Engine,
    rpc: RpcClient,
    sender: LocalAccount,
    trees_dir: Path,
    job_id: str,
    *,
    owner: str | None = None,
    on_batch: ProgressCallback | None = None,
    receipt_timeout: float = 120.0,
) -> JobReport:
    """Pushes every unclaimed leaf of the job; safe to call again after any failure.

    ``on_batch`` sees the job's figures after each recorded batch (a progress bar; tests
    raise from it to crash the push midway). Errors are recorded on the job and re-raised.
    """
    owner = owner or uuid.uuid4().hex
    pusher = _Pusher(engine, rpc, sender, job_id, owner, receipt_timeout)
    try:
        pusher.run(trees_dir, on_batch)
    except Exception as exc:
        pusher.fail(exc)
        raise
    finally:
        pusher.release()
    return job_report(engine, job_id)


class _Pusher:
    def __init__(
        self,
        engine: Engine,
        rpc: RpcClient,
        sender: LocalAccount,
        job_id: str,
        owner: str,
        receipt_timeout: float,
    ) -> None:
        self.engine, self.rpc, self.sender = engine, rpc, sender
        self.job_id, self.owner, self.receipt_timeout = job_id, owner, receipt_timeout

    def run(self, trees_dir: Path, on_batch: ProgressCallback | None) -> None:
        with self.engine.begin() as conn:
            job = _job_row(conn, self.job_id)
            program_id = _bind(conn, job)
        if program_id is None:
            detail, args = "no indexed program commits this root yet", {"root": job.root}
            raise Problem("DistributionNotCommitted", detail, args, status=409)
        self._lease(acquire=True)
        token, root, size = str(job.token), str(job.root), int(job.batch_size)
        reader = TokenReader(self.rpc, to_checksum_address(token))
        program = reader.programs([program_id])[0]
        if program.root != root:  # the index must never be trusted over the chain
            args = {"program_id": program_id, "chain_root": program.root}
            raise Problem("DistributionRootMismatch", "the root on chain differs", args, status=409)
        tree = load_tree(trees_dir, root)
        if tree is None:
            raise Problem("NotFound", f"the tree file of {root} is missing", {"root": root})
        n = len(tree)
        done = self._done_ranges()
        for first in range(0, n, size):
            if first in done:
                continue
            last = min(n, first + size) - 1
            self._batch(reader, tree, program_id, first, last)
            self._lease(acquire=False)
            if on_batch is not None:
                on_batch(job_status(self.engine, self.job_id))
        self._set(status=d.DONE, error_code=None, error_detail=None)

    def _done_ranges(self) -> set[int]:
        b = d.distribution_batches.c
        with self.engine.connect() as conn:
            query = select(b.first_index).where(
                b.job_id == self.job_id, b.status.in_((d.MINED, d.SKIPPED))
            )
            return {int(v) for v in conn.execute(query).scalars()}

    def _batch(
        self, reader: TokenReader, tree: MerkleTree, program_id: int, first: int, last: int
    ) -> None:
        b = d.distribution_batches.c
        key = (b.job_id == self.job_id, b.first_index == first)
        with self.engine.connect() as conn:
            previous = conn.execute(select(d.distribution_batches).where(*key)).first()
        if previous is not None and previous.status == d.SENT:
            receipt = self._settle(str(previous.tx_hash))
            if receipt is not None:
                self._record(first, receipt, program_id)
                return
        indices = range(first, last + 1)
        claimed = reader.claimed(program_id, indices)
        todo = [i for i, paid in zip(indices, claimed, strict=True) if not paid]
        values: dict[str, object] = {
            "last_index": last, "status": d.SENT if todo else d.SKIPPED, "sent": len(todo),
            "skipped": len(indices) - len(todo), "paid": 0, "paid_amount": 0, "tx_hash": None,
            "nonce": None, "gas_used": None, "block_number": None, "updated_at": time.time(),
            "attempts": 1 if previous is None else int(previous.attempts) + 1,
        }  # fmt: skip
        raw = b""
        if todo:
            proof = tree.multiproof(todo)
            data = encode_grant_batch(program_id, proof.leaves, proof.proof, proof.proof_flags)
            values["tx_hash"], values["nonce"], raw = self._sign(reader.token, data)
        with self.engine.begin() as conn:  # the hash is on disk before the transaction leaves
            if previous is None:
                values.update(job_id=self.job_id, first_index=first)
                conn.execute(insert(d.distribution_batches).values(values))
            else:
                conn.execute(update(d.distribution_batches).where(*key).values(values))
        if todo:
            tx_hash = str(values["tx_hash"])
            try:
                self.rpc.send_raw_transaction(raw)
            except RpcError as exc:
                if "known" not in exc.message.lower():  # "already known": it is in the pool
                    raise
            self._record(first, self._wait(tx_hash), program_id)

    def _sign(self, token: str, data: bytes) -> tuple[str, int, bytes]:
        address = self.sender.address
        call = {"from": address, "to": token, "data": "0x" + data.hex()}
        try:
            gas = int(str(self.rpc.call("eth_estimateGas", [call])), 16)
        except RpcError as exc:
            error = {"code": exc.code, "message": exc.message, "data": exc.data}
            raw = revert_data_from_rpc_error(error)
            if raw is None:
                raise
            revert = decode_revert(raw)
            raise Problem(revert.name, f"grantBatch would revert: {revert}", revert.args) from exc
        nonce = self.rpc.get_transaction_count(address, "pending")
        price = int(str(self.rpc.call("eth_gasPrice")), 16) * 2
        chain_id = self.rpc.chain_id()
        to = to_checksum_address(token)
        tx = {"to": to, "data": data, "gas": gas + gas // 5, "gasPrice": price, "nonce": nonce,
              "chainId": chain_id, "value": 0}  # fmt: skip
        signed = self.sender.sign_transaction(tx)  # type: ignore[arg-type]
        return "0x" + bytes(signed.hash).hex(), nonce, bytes(signed.raw_transaction)

    def _settle(self, tx_hash: str) -> JSONObject | None:
        """The receipt of a transaction a crashed attempt may have sent; None if the node never
        saw it (then the range is checked and sent again)."""
        receipt = self.rpc.get_receipt(tx_hash)
        if receipt is not None:
            return receipt
        if self.rpc.call("eth_getTransactionByHash", [tx_hash]) is None:
            return None
        return self._wait(tx_hash)

    def _wait(self, tx_hash: str) -> JSONObject:
        deadline = time.monotonic() + self.receipt_timeout
        pause = 0.02
        while (receipt := self.rpc.get_receipt(tx_hash)) is None:
            if time.monotonic() > deadline:
                args = {"tx_hash": tx_hash}
                raise Problem("NodeUnavailable", f"no receipt for {tx_hash} yet", args)
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        return receipt

    def _record(self, first: int, receipt: JSONObject, program_id: int) -> None:
        b = d.distribution_batches.c
        paid, amount = 0, 0
        logs = receipt.get("logs")
        topic = "0x" + program_id.to_bytes(32, "big").hex()
        for entry in logs if isinstance(logs, list) else []:
            if not isinstance(entry, dict):
                continue
            topics = entry.get("topics")
            if isinstance(topics, list) and topics[:2] == [GRANTED_TOPIC, topic]:
                # data: index, amount (program id and recipient are topics)
                paid, amount = paid + 1, amount + int(str(entry["data"])[66:130], 16)
        ok = int(str(receipt["status"]), 16) == 1
        gas, block = int(str(receipt["gasUsed"]), 16), int(str(receipt["blockNumber"]), 16)
        values = {"status": d.MINED if ok else d.FAILED, "paid": paid, "paid_amount": amount,
                  "gas_used": gas, "block_number": block, "updated_at": time.time()}  # fmt: skip
        with self.engine.begin() as conn:
            where = (b.job_id == self.job_id, b.first_index == first)
            conn.execute(update(d.distribution_batches).where(*where).values(values))
        if not ok:  # state changed between estimate and mining; a resume checks again
            args = {"tx_hash": receipt.get("transactionHash")}
            raise Problem("GrantBatchReverted", "a grantBatch reverted", args, status=409)

    def _lease(self, *, acquire: bool) -> None:
        j = d.distribution_jobs.c
        now = time.time()
        query = update(d.distribution_jobs).where(j.id == self.job_id)
        free = or_(j.lease_owner.is_(None), j.lease_until < now, j.lease_owner == self.owner)
        values: dict[str, object] = {"lease_owner": self.owner, "lease_until": now + LEASE_S}
        if acquire:
            values.update(status=d.PUSHING, error_code=None, error_detail=None, updated_at=now)
        with self.engine.begin() as conn:
            if conn.execute(query.where(free).values(**values)).rowcount != 1:
                args = {"job": self.job_id}
                raise Problem("DistributionBusy", "another pusher holds the job", args, status=409)

    def _set(self, **values: object) -> None:
        j = d.distribution_jobs.c
        with self.engine.begin() as conn:
            conn.execute(
                update(d.distribution_jobs)
                .where(
                    j.id == self.job_id, or_(j.lease_owner.is_(None), j.lease_owner == self.owner)
                )
                .values(updated_at=time.time(), **values)
            )

    def fail(self, exc: Exception) -> None:
        if isinstance(exc, Problem) and exc.code in _NOT_FAILURES:
            return  # the job itself is fine (or someone else's to mark)
        code = exc.code if isinstance(exc, Problem) else type(exc).__name__
        self._set(status=d.FAILED, error_code=code, error_detail=str(exc)[:2_000])

    def release(self) -> None:
        j = d.distribution_jobs.c
        with self.engine.begin() as conn:
            conn.execute(
                update(d.distribution_jobs)
                .where(j.id == self.job_id, j.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )


# ------------------------------------------------------------------------------ proofs


@dataclass(frozen=True, slots=True)
class LeafProof:
    """What a wallet needs to pull its grant with ``claim`` or ``claimAndPay``."""

    token: str
    program_id: int
    root: str
    index: int
    recipient: str
    amount: int
    proof: list[str]
    claimed: bool  # a Granted event for this index is indexed


@dataclass(frozen=True, slots=True)
class _Committed:
    chain_id: int
    token: str
    program_id: int
    root: str
    tree: MerkleTree


def _committed(
    conn: Connection, trees_dir: Path, chain_id: int, token: str, program_id: int
) -> _Committed | None:
    """A committed program with its saved tree, or None when either is unknown here."""
    p = t.programs.c
    query = select(p.root).where(
        p.chain_id == chain_id, p.token == token.lower(), p.program_id == program_id
    )
    root = conn.execute(query).scalar()
    tree = None if root is None else load_tree(trees_dir, str(root))
    if tree is None:
        return None
    return _Committed(chain_id, token.lower(), program_id, str(root), tree)


def _proofs(conn: Connection, program: _Committed, indices: Sequence[int]) -> list[LeafProof]:
    g = t.grants.c
    query = select(g.grant_index).where(
        g.chain_id == program.chain_id,
        g.token == program.token,
        g.program_id == program.program_id,
        g.grant_index.in_(list(indices)),
    )
    claimed = set(conn.execute(query).scalars())
    token, tree = to_checksum_address(program.token), program.tree
    out = []
    for index in indices:
        leaf = tree.leaf(index)
        proof = ["0x" + node.hex() for node in tree.proof(index)]
        out.append(
            LeafProof(token, program.program_id, program.root, index, leaf.recipient,
                      leaf.amount, proof, index in claimed)
        )  # fmt: skip
    return out


def proof_for(
    engine: Engine, trees_dir: Path, chain_id: int, token: str, program_id: int, index: int
) -> LeafProof | None:
    """The proof of leaf ``index`` of a committed program, if this gateway keeps its tree."""
    with engine.connect() as conn:
        program = _committed(conn, trees_dir, chain_id, token, program_id)
        if program is None or not 0 <= index < len(program.tree):
            return None
        return _proofs(conn, program, [index])[0]


def proofs_for_address(
    engine: Engine, trees_dir: Path, chain_id: int, token: str, program_id: int, address: str
) -> list[LeafProof] | None:
    """Every leaf of ``address`` in a program (a list may name someone twice); None when the
    program or its tree is unknown."""
    with engine.begin() as conn:
        program = _committed(conn, trees_dir, chain_id, token, program_id)
        if program is None:
            return None
        _ensure_leaves(conn, program.root, program.tree)  # trees the CLI saved have no rows yet
        c = d.distribution_leaves.c
        query = select(c.leaf_index).where(c.root == program.root, c.recipient == address.lower())
        indices = [int(i) for i in conn.execute(query.order_by(c.leaf_index)).scalars()]
        return _proofs(conn, program, indices)
