"""Pushing a job's grants in ``grantBatch`` ranges: resumable, leased, bitmap re-read per batch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, insert, or_, select, update

from chain.protocol.calls import encode_grant_batch
from chain.protocol.contracts import event_topic
from chain.protocol.merkle import MerkleTree
from chain.reader import TokenReader
from chain.rpc import JSONObject, RpcClient, RpcError
from chain.sender import Sender, TransactionFailed
from gateway.db.tables import distribution as d
from gateway.distribution.jobs import (
    JobReport,
    JobStatus,
    bind_program,
    job_report,
    job_row,
    job_status,
)
from gateway.distribution.trees import load_tree
from gateway.errors import GatewayError

LEASE_S = 120.0
GRANTED_TOPIC = event_topic("Granted")
_NOT_FAILURES = frozenset({"DistributionBusy", "DistributionNotCommitted", "NotFound"})

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
        self.engine, self.rpc = engine, rpc
        self.sender = Sender(rpc, sender, rpc.chain_id(), receipt_timeout=receipt_timeout)
        self.job_id, self.owner = job_id, owner

    def run(self, trees_dir: Path, on_batch: ProgressCallback | None) -> None:
        with self.engine.begin() as conn:
            job = job_row(conn, self.job_id)
            program_id = bind_program(conn, job)
        if program_id is None:
            detail, args = "no indexed program commits this root yet", {"root": job.root}
            raise GatewayError("DistributionNotCommitted", detail, args)
        self._lease(acquire=True)
        token, root, size = str(job.token), str(job.root), int(job.batch_size)
        reader = TokenReader(self.rpc, to_checksum_address(token))
        program = reader.programs([program_id])[0]
        if program.root != root:  # the index must never be trusted over the chain
            args = {"program_id": program_id, "chain_root": program.root}
            raise GatewayError("DistributionRootMismatch", "the root on chain differs", args)
        tree = load_tree(trees_dir, root)
        if tree is None:
            raise GatewayError("NotFound", f"the tree file of {root} is missing", {"root": root})
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
        try:
            signed = self.sender.prepare((to_checksum_address(token), data, 0), "grantBatch")
        except TransactionFailed as exc:
            if exc.revert is None:
                raise GatewayError("NodeUnavailable", f"cannot estimate grantBatch: {exc}") from exc
            revert = exc.revert
            detail = f"grantBatch would revert: {revert}"
            raise GatewayError(revert.name, detail, revert.args) from exc
        return signed.tx_hash, signed.nonce, signed.raw

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
        try:
            return self.sender.wait(tx_hash, "grantBatch")
        except TransactionFailed as exc:
            args = {"tx_hash": tx_hash}
            raise GatewayError("NodeUnavailable", f"no receipt for {tx_hash} yet", args) from exc

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
            raise GatewayError("GrantBatchReverted", "a grantBatch reverted", args)

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
                raise GatewayError("DistributionBusy", "another pusher holds the job", args)

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
        if isinstance(exc, GatewayError) and exc.code in _NOT_FAILURES:
            return  # the job itself is fine (or someone else's to mark)
        code = exc.code if isinstance(exc, GatewayError) else type(exc).__name__
        self._set(status=d.FAILED, error_code=code, error_detail=str(exc)[:2_000])

    def release(self) -> None:
        j = d.distribution_jobs.c
        with self.engine.begin() as conn:
            conn.execute(
                update(d.distribution_jobs)
                .where(j.id == self.job_id, j.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
