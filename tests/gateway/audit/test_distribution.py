"""Distribution jobs end to end: CSV -> tree -> commit by the manager -> pushed grants, a push
crashed midway and resumed with nobody paid twice, and proofs served for pull claims."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, delete, func, select, update

from chain.protocol.calls import ProgramParams, encode_claim
from chain.reader import TokenReader
from gateway import audit, distribution
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t
from gateway.errors import GatewayError
from tests.fixtures.databases import PostgresBackend, SQLiteBackend

from .conftest import DAY, City


class GatewayDiedError(Exception):
    """Stands for the gateway dying between two batches."""


def _commit(city: City, job: distribution.JobStatus, budget: int | None = None) -> int:
    """The program manager commits the job's root with their own key (the operator here)."""
    now = city.now()
    root = bytes.fromhex(job.root[2:])
    params = ProgramParams(root, budget or job.total, now - 10, now + 30 * DAY)
    return city.op.create_program(city.token, params)


def _grants(engine: Engine, city: City, program_id: int) -> list[tuple[int, int]]:
    """(leaf index, Granted events for it) for every granted index."""
    g = t.grants.c
    query = (
        select(g.grant_index, func.count())
        .where(g.token == city.token.lower(), g.program_id == program_id)
        .group_by(g.grant_index)
    )
    with engine.connect() as conn:
        return [(int(i), int(n)) for i, n in conn.execute(query)]


class DistributionTests:
    def test_push_resumes_after_a_crash_and_pays_nobody_twice(
        self, city: City, engine: Engine, tmp_path: Path
    ) -> None:
        recipients = [to_checksum_address("0x" + secrets.token_hex(20)) for _ in range(2_000)]
        amounts = [10_000 + 1_000 * (i % 7) for i in range(2_000)]
        rows = "".join(f"{a},{v}\n" for a, v in zip(recipients, amounts, strict=True))
        job = distribution.create_job(engine, tmp_path, city.chain_id, city.token, rows)
        assert (job.count, job.total, job.status) == (2_000, sum(amounts), "built")
        assert (tmp_path / f"{job.root[2:]}.bin").exists()
        with pytest.raises(GatewayError) as refused:
            distribution.push(engine, city.rpc, city.pusher, tmp_path, job.id)
        assert refused.value.code == "DistributionNotCommitted"

        program_id = _commit(city, job)
        city.index(engine)
        assert distribution.job_status(engine, job.id).program_id == program_id

        def crash_after_three(status: distribution.JobStatus) -> None:
            if status.pushed >= 1_500:
                raise GatewayDiedError

        with pytest.raises(GatewayDiedError):
            distribution.push(
                engine, city.rpc, city.pusher, tmp_path, job.id, on_batch=crash_after_three
            )
        crashed = distribution.job_status(engine, job.id)
        assert (crashed.status, crashed.error_code, crashed.pushed) == (
            "failed",
            "GatewayDiedError",
            1_500,
        )
        # Worse than a clean crash: the second batch's record is lost (an older backup) and the
        # third's receipt was never recorded (the process died while waiting for it).
        b = d.distribution_batches.c
        with engine.begin() as conn:
            conn.execute(delete(d.distribution_batches).where(b.first_index == 500))
            conn.execute(
                update(d.distribution_batches)
                .where(b.first_index == 1_000)
                .values(status=d.SENT, paid=0, paid_amount=0)
            )

        report = distribution.push(engine, city.rpc, city.pusher, tmp_path, job.id)
        done = report.job
        assert (done.status, done.remaining, done.progress_pct) == ("done", 0, 100.0)
        assert (done.pushed, done.skipped_claimed, done.claimed_elsewhere) == (1_500, 500, 0)
        assert [(x.first_index, x.status, x.sent, x.skipped) for x in report.batches] == [
            (0, "mined", 500, 0),
            (500, "skipped", 0, 500),
            (1_000, "mined", 500, 0),
            (1_500, "mined", 500, 0),
        ]
        assert len(report.tx_hashes) == 3
        assert report.gas_used > 0

        city.index(engine)
        granted = _grants(engine, city, program_id)
        assert len(granted) == 2_000
        assert all(n == 1 for _, n in granted)
        g = t.grants.c
        with engine.connect() as conn:
            txs = conn.execute(
                select(func.count(g.tx_hash.distinct())).where(g.token == city.token.lower())
            ).scalar()
        assert txs == 4  # one transaction per range: the unrecorded one was not sent again
        reader = TokenReader(city.rpc, city.token)
        sample = [0, 499, 500, 1_234, 1_999]
        pockets = reader.pockets([(program_id, recipients[i]) for i in sample])
        assert pockets == [amounts[i] for i in sample]
        verified = audit.verify_distribution(
            engine, city.chain_id, city.token, program_id, trees_dir=tmp_path
        )
        assert verified.ok, verified.problems
        assert (verified.grants, verified.granted) == (2_000, sum(amounts))

    def test_proofs_served_for_pull_claims(
        self, city: City, engine: Engine, tmp_path: Path
    ) -> None:
        a, b, c = city.citizens(3)
        listed = [(a, 30_000), (b, 20_000), (c, 10_000), (a, 5_000)]
        rows = "address,amount\n" + "".join(f"{w.address},{v}\n" for w, v in listed)
        job = distribution.create_job(engine, tmp_path, city.chain_id, city.token, rows)
        program_id = _commit(city, job)
        city.index(engine)

        proof = distribution.proof_for(engine, tmp_path, city.chain_id, city.token, program_id, 1)
        assert proof is not None
        assert (proof.recipient, proof.amount, proof.claimed) == (b.address, 20_000, False)
        city.act(b, encode_claim(program_id, 1, proof.amount, proof.proof))
        mine = distribution.proofs_for_address(
            engine, tmp_path, city.chain_id, city.token, program_id, a.address.lower()
        )
        assert mine is not None
        assert [(p.index, p.amount) for p in mine] == [(0, 30_000), (3, 5_000)]
        city.act(a, encode_claim(program_id, 3, mine[1].amount, mine[1].proof))
        city.index(engine)
        again = distribution.proof_for(engine, tmp_path, city.chain_id, city.token, program_id, 1)
        assert again is not None
        assert again.claimed

        report = distribution.push(engine, city.rpc, city.pusher, tmp_path, job.id)
        assert (report.job.pushed, report.job.skipped_claimed) == (2, 2)
        reader = TokenReader(city.rpc, city.token)
        holders = [(program_id, w.address) for w in (a, b, c)]
        assert reader.pockets(holders) == [35_000, 20_000, 10_000]
        assert distribution.proof_for(engine, tmp_path, city.chain_id, city.token, 9, 0) is None

    def test_bad_lists_are_refused_with_their_line(
        self, city: City, engine: Engine, tmp_path: Path
    ) -> None:
        with pytest.raises(GatewayError) as bad:
            distribution.create_job(
                engine, tmp_path, city.chain_id, city.token, "address,amount\n0x12,5\n"
            )
        assert (bad.value.code, bad.value.arguments) == ("InvalidRequest", {"line": 2})
        with pytest.raises(GatewayError) as unknown:
            distribution.job_status(engine, "0" * 32)
        assert unknown.value.code == "NotFound"


class TestDistributionSQLite(SQLiteBackend, DistributionTests):
    pass


class TestDistributionPostgres(PostgresBackend, DistributionTests):
    pass
