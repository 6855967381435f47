"""Importing residents and merchants onto a real anvil, on SQLite and PostgreSQL: the error
report line by line, the chain's state, the profile rows, a crash between windows and the
resume, and a finished file run again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from chain.protocol.calls import encode_register_merchant
from gateway.db.tables import onboarding as o
from gateway.db.tables.registry import merchant_profiles, resident_accounts
from gateway.devnet.localnet import LocalNetwork
from gateway.devnet.onboarding_samples import (
    merchant_cells,
    resident_cells,
    sample_wallets,
    write_csv,
)
from gateway.errors import GatewayError
from gateway.onboarding import ImportJob, ImportTarget, import_file, write_error_report
from gateway.onboarding.jobs import find_or_create_job
from gateway.onboarding.onchain import ChainView
from tests.fixtures.databases import PostgresBackend, SQLiteBackend
from tests.gateway.onboarding.conftest import lines_of
from tests.gateway.onboarding.test_rows import bad_checksum


def view(network: LocalNetwork) -> ChainView:
    m = network.manifest
    return ChainView(network.operator.rpc, m.registry, m.forwarder)


class CrashError(Exception):
    pass


class ImportSuite:
    def test_residents_with_bad_rows(
        self, engine: Engine, network: LocalNetwork, target: ImportTarget, seed: int,
        tmp_path: Path,
    ) -> None:  # fmt: skip
        op, registry = network.operator, network.manifest.registry
        w = sample_wallets(300, seed)
        op.register(registry, [w[5]], "citizen")  # registered before: counted, not sent
        op.register(registry, [w[6]], "merchant")  # another kind: refused
        rows = [resident_cells(x, i) for i, x in enumerate(w)]
        rows[10][0] = bad_checksum(w[10])
        rows[20][0] = "0x1234"
        rows[30] = resident_cells(w[3], 30)
        rows[40][1] = ""
        rows[51][2:5] = ["004", "", ""]
        path = write_csv(tmp_path / "residents.csv", "residents", rows)
        job = import_file(engine, op.rpc, op.account, target, path, "residents",
                          batch_size=50, in_flight=2)  # fmt: skip
        assert (job.status, job.rows_read, job.rows_ok, job.rows_failed) == ("done", 300, 294, 6)
        assert job.rows_existing == 1
        assert job.cursor == 301
        assert job.transactions == 6  # windows of 100 rows, two registerBatch chunks each
        report = tmp_path / "errors.csv"
        assert write_error_report(engine, job.id, report) == 6
        assert lines_of(report) == [
            "line,wallet,code,detail",
            f"8,{w[6]},IdentityAlreadyRegistered,the wallet is registered as a merchant",
            f"12,{rows[10][0]},InvalidAddress,wallet: bad EIP-55 checksum in address "
            f"'{rows[10][0]}'",
            "22,0x1234,InvalidAddress,wallet: not a 0x-prefixed 20-byte hex address: '0x1234'",
            f"32,{w[3]},DuplicateRow,the wallet is on an earlier line",
            f"42,{w[40]},InvalidField,kyc_ref: is required",
            f'53,{w[51]},InvalidField,"'
            'bank_code: bank_code, bank_account and account_holder go together"',
        ]
        refused = {10, 20, 30, 40, 51}
        kinds = [k for k, _frozen in view(network).identities(w)]
        assert [i for i, k in enumerate(kinds) if k == 0] == sorted(refused)
        assert kinds[6] == 2
        assert kinds.count(1) == 294
        ok = {x.lower() for i, x in enumerate(w) if i not in refused | {6}}
        with engine.connect() as conn:
            stored = conn.execute(select(resident_accounts)).all()
        mine = {r.wallet: r for r in stored if r.wallet in ok}
        assert len(mine) == 294
        assert (mine[w[7].lower()].kyc_ref, mine[w[7].lower()].bank_account) == (
            "KYC-00000007", "110000000007",
        )  # fmt: skip
        assert mine[w[8].lower()].bank_account is None
        # The same file again: the finished job, nothing sent.
        again = import_file(engine, op.rpc, op.account, target, path, "residents")
        assert again == job

    def test_merchants_with_bad_rows(
        self, engine: Engine, network: LocalNetwork, target: ImportTarget, seed: int,
        tmp_path: Path,
    ) -> None:  # fmt: skip
        op, registry, token = network.operator, network.manifest.registry, str(target.token)
        w = sample_wallets(50, seed)
        op.register(registry, [w[2]], "citizen")
        op.register(registry, [w[3], w[4]], "merchant")
        op.send(token, encode_register_merchant(w[3], 41390, 56111, 0, False), "registerMerchant")
        rows = [merchant_cells(x, i, 41390) for i, x in enumerate(w)]
        rows[10][2] = "123-45-67890"
        rows[11][4] = "4113010100"
        rows[12][5] = "5611"
        rows[13][6] = "x"
        rows[14] = merchant_cells(w[0], 14, 41390)
        path = write_csv(tmp_path / "merchants.csv", "merchants", rows)
        job = import_file(engine, op.rpc, op.account, target, path, "merchants",
                          batch_size=10, in_flight=2)  # fmt: skip
        assert (job.rows_read, job.rows_ok, job.rows_failed, job.rows_existing) == (50, 44, 6, 1)
        report = tmp_path / "errors.csv"
        write_error_report(engine, job.id, report)
        assert [line.split(",")[:3] for line in lines_of(report)[1:]] == [
            ["4", w[2], "IdentityAlreadyRegistered"],
            ["12", w[10], "InvalidBusinessNumber"],
            ["13", w[11], "VoucherRegionMismatch"],
            ["14", w[12], "InvalidField"],
            ["15", w[13], "InvalidField"],
            ["16", w[0], "DuplicateRow"],
        ]
        refused = {2, 10, 11, 12, 13, 14}
        records = view(network).merchants(token, w)
        assert [i for i, r in enumerate(records) if not r.registered] == sorted(refused)
        kinds = [k for k, _f in view(network).identities(w)]
        assert [i for i, k in enumerate(kinds) if k != 2] == [2, 10, 11, 12, 13, 14]
        with engine.connect() as conn:
            profiles = {
                r.merchant: r
                for r in conn.execute(
                    select(merchant_profiles).where(merchant_profiles.c.token == token.lower())
                )
            }
        ok = [x.lower() for i, x in enumerate(w) if i not in refused]
        assert set(ok) <= profiles.keys()
        assert len(ok) == 44
        shop = profiles[w[5].lower()]
        assert (shop.status, shop.business_name, shop.legal_dong[:5], shop.market) == (
            "registered", "가게 5", "41390", 1,
        )  # fmt: skip
        assert len(shop.business_number) == 10
        assert shop.bank_account == "220000000005"

    def test_a_crash_between_windows_resumes_with_exact_totals(
        self, engine: Engine, network: LocalNetwork, target: ImportTarget, seed: int,
        tmp_path: Path,
    ) -> None:  # fmt: skip
        op, registry = network.operator, network.manifest.registry
        w = sample_wallets(200, seed)
        path = write_csv(
            tmp_path / "r.csv", "residents", [resident_cells(x, i) for i, x in enumerate(w)]
        )

        def crash(job: ImportJob) -> None:
            raise CrashError(job.cursor)

        with pytest.raises(CrashError) as crashed:
            import_file(engine, op.rpc, op.account, target, path, "residents", batch_size=50,
                        in_flight=1, on_window=crash)  # fmt: skip
        assert crashed.value.args == (51,)
        # What a run killed after sending its next window's transaction leaves: some of that
        # window registered on chain, nothing of it in the database.
        op.register(registry, w[50:70], "citizen")
        job = import_file(engine, op.rpc, op.account, target, path, "residents", batch_size=50,
                          in_flight=1)  # fmt: skip
        assert (job.rows_read, job.rows_ok, job.rows_failed, job.rows_existing) == (200, 200, 0, 20)
        assert job.transactions == 4  # 50, then 30 (20 found registered), 50, 50
        assert all(k == 1 for k, _f in view(network).identities(w))
        with engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(resident_accounts.c.wallet.in_([x.lower() for x in w]))
            ).scalar()
            jobs = conn.execute(select(func.count()).select_from(o.import_jobs)).scalar()
        assert count == 200
        assert jobs == 1


class TestSQLite(SQLiteBackend, ImportSuite):
    pass


class TestPostgres(PostgresBackend, ImportSuite):
    pass


def test_resuming_a_job_with_another_file_is_refused(sqlite_engine: Engine, tmp_path: Path) -> None:
    w = sample_wallets(3, seed=7)
    first = write_csv(
        tmp_path / "a.csv", "residents", [resident_cells(x, i) for i, x in enumerate(w)]
    )
    other = write_csv(tmp_path / "b.csv", "residents", [resident_cells(w[0], 0)])
    args = {"chain_id": 31337, "kind": "residents", "token": "0x" + "11" * 20, "region": None}
    job = find_or_create_job(sqlite_engine, path=first, **args)  # type: ignore[arg-type]
    assert find_or_create_job(sqlite_engine, path=first, **args) == job  # type: ignore[arg-type]
    with pytest.raises(GatewayError) as refused:
        find_or_create_job(sqlite_engine, path=other, job_id=job.id, **args)  # type: ignore[arg-type]
    assert refused.value.code == "ImportFileChanged"
    assert refused.value.status == 409
