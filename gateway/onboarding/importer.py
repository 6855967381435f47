"""Loading a residents' or merchants' CSV onto the chain, window by window, resumably.

A window is ``batch_size * in_flight`` rows. For each: the rows are checked on their own
(:mod:`~gateway.onboarding.rows`), then against the chain (who is registered already), the
missing registrations are sent as several transactions at once and their receipts awaited,
the chain is read again to see what took, and the window's profiles, errors, counters and
cursor are committed together. Killed at any point, the same command resumes after the
cursor; a window whose transactions were mined but not committed is found registered on
chain and only its bookkeeping is redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from chain.rpc import JSONObject, RpcClient
from gateway.db.tables import onboarding as o
from gateway.errors import GatewayError
from gateway.onboarding.jobs import (
    ImportJob,
    WindowOutcome,
    commit_window,
    find_or_create_job,
    import_job,
)
from gateway.onboarding.onchain import CITIZEN, KIND_NAMES, MERCHANT, NONE, ChainView
from gateway.onboarding.profiles import save_merchants, save_residents
from gateway.onboarding.rows import MerchantRow, ResidentRow, RowError, read_rows
from gateway.onboarding.transactions import Registrar, Sent

__all__ = ["ImportTarget", "WindowCallback", "import_file"]

ATTEMPTS = 3  # rounds of send-and-check per window before the import stops (resumable)
DEFAULT_BATCH = {o.RESIDENTS: 500, o.MERCHANTS: 200}
DEFAULT_IN_FLIGHT = 8

WindowCallback = Callable[[ImportJob], None]
Item = ResidentRow | MerchantRow | RowError


@dataclass(frozen=True, slots=True)
class ImportTarget:
    """Where a file goes: the network's registry and forwarder, and for merchants the
    municipality's token and region."""

    chain_id: int
    registry: str
    forwarder: str
    token: str | None = None
    region: int = 0


def import_file(
    engine: Engine,
    rpc: RpcClient,
    account: LocalAccount,
    target: ImportTarget,
    path: Path,
    kind: str,
    *,
    job_id: str | None = None,
    batch_size: int | None = None,
    in_flight: int = DEFAULT_IN_FLIGHT,
    on_window: WindowCallback | None = None,
) -> ImportJob:
    """Imports (or resumes, or for a finished file does nothing) ``path``; the job after.

    ``on_window`` sees the job after each committed window (a progress bar; tests raise from
    it to crash an import between windows)."""
    if kind not in (o.RESIDENTS, o.MERCHANTS):
        raise GatewayError("InvalidRequest", f"kind must be residents or merchants, not {kind}")
    if kind == o.MERCHANTS and target.token is None:
        raise GatewayError("InvalidRequest", "a merchants' import needs the city's token")
    token = target.registry if kind == o.RESIDENTS else str(target.token)
    region = target.region if kind == o.MERCHANTS else None
    job = find_or_create_job(
        engine, chain_id=target.chain_id, kind=kind, token=token, region=region, path=path,
        job_id=job_id,
    )  # fmt: skip
    if job.status == o.DONE:
        return job
    runner = _Runner(engine, rpc, account, target, kind, job.id)
    size = max(1, batch_size or DEFAULT_BATCH[kind]) * max(1, in_flight)
    runner.view.settle(runner.registrar.address)  # a killed run's transactions mine first
    items = (i for i in read_rows(path, kind, region=target.region) if i.line > job.cursor)
    started = time.perf_counter()  # a window's time includes reading its rows
    for window in _windows(items, size):
        runner.window(window, batch_size or DEFAULT_BATCH[kind], started)
        if on_window is not None:
            on_window(import_job(engine, job.id))
        started = time.perf_counter()
    last = import_job(engine, job.id).cursor
    with engine.begin() as conn:
        commit_window(conn, job.id, WindowOutcome(last, 0, 0, 0, (), 0, 0, 0.0), done=True)
    return import_job(engine, job.id)


def _windows(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while window := list(islice(items, size)):
        yield window


class _Runner:
    def __init__(
        self, engine: Engine, rpc: RpcClient, account: LocalAccount, target: ImportTarget,
        kind: str, job_id: str,
    ) -> None:  # fmt: skip
        self.engine, self.target, self.kind, self.job_id = engine, target, kind, job_id
        self.view = ChainView(rpc, target.registry, target.forwarder)
        self.registrar = Registrar(rpc, account, target.chain_id, target.registry, target.forwarder)

    def window(self, items: list[Item], batch: int, started: float) -> None:
        errors = [i for i in items if isinstance(i, RowError)]
        sent = Sent()
        residents = [i for i in items if isinstance(i, ResidentRow)]
        merchants = [i for i in items if isinstance(i, MerchantRow)]
        if self.kind == o.RESIDENTS:
            residents, existing = self._residents(residents, batch, errors, sent)
        else:
            merchants, existing = self._merchants(merchants, batch, errors, sent)
        errors.sort(key=lambda e: e.line)
        outcome = WindowOutcome(
            items[-1].line, len(items), len(residents) + len(merchants), existing, errors,
            sent.transactions, sent.gas_used, time.perf_counter() - started,
        )  # fmt: skip
        now, chain_id = time.time(), self.target.chain_id
        with self.engine.begin() as conn:  # profiles, errors and cursor: all or nothing
            save_residents(conn, chain_id, residents, now)
            save_merchants(
                conn, chain_id, str(self.target.token), merchants,
                reviewer=self.registrar.address, note=f"bulk import {self.job_id}", now=now,
            )  # fmt: skip
            commit_window(conn, self.job_id, outcome, done=False)

    # -------------------------------------------------------------------------- residents

    def _residents(
        self, rows: list[ResidentRow], batch: int, errors: list[RowError], sent: Sent
    ) -> tuple[list[ResidentRow], int]:
        todo, ok = [], []
        for row, (kind, _frozen) in zip(
            rows, self.view.identities([r.wallet for r in rows]), strict=True
        ):
            if kind == NONE:
                todo.append(row)
            elif kind == CITIZEN:
                ok.append(row)  # registered before (an earlier attempt, or another source)
            else:
                errors.append(_already(row, kind))
        existing = len(ok)
        self._register_identities([r.wallet for r in todo], CITIZEN, batch, sent)
        return ok + todo, existing

    def _register_identities(self, wallets: list[str], kind: int, batch: int, sent: Sent) -> None:
        pending = wallets
        for _ in range(ATTEMPTS):
            if not pending:
                return
            calls = self.registrar.identity_calls(pending, kind, batch)
            receipts = self.registrar.send(calls)
            sent.add(receipts)
            if len(receipts) == len(calls) and all(_succeeded(r) for r in receipts):
                return  # registerBatch is all or nothing: every chunk mined, every wallet in
            found = self.view.identities(pending)
            pending = [w for w, (k, _f) in zip(pending, found, strict=True) if k == NONE]
        if pending:
            detail = f"{len(pending)} identities did not register after {ATTEMPTS} attempts"
            raise GatewayError("NodeUnavailable", detail + "; run the import again to resume")

    # -------------------------------------------------------------------------- merchants

    def _merchants(
        self, rows: list[MerchantRow], batch: int, errors: list[RowError], sent: Sent
    ) -> tuple[list[MerchantRow], int]:
        token, region = str(self.target.token), self.target.region
        wallets = [r.wallet for r in rows]
        now = self.view.block_timestamp()
        ok, todo, need_identity = [], [], []
        identities, records = self.view.identities(wallets), self.view.merchants(token, wallets)
        for row, (kind, _frozen), record in zip(rows, identities, records, strict=True):
            if record.registered:
                ok.append(row)
            elif record.banned_until > now:
                detail = f"re-registration is barred until {record.banned_until} (block time)"
                errors.append(RowError(row.line, row.wallet, "VoucherMerchantBanned", detail))
            elif kind not in (NONE, MERCHANT):
                errors.append(_already(row, kind))
            else:
                todo.append(row)
                if kind == NONE:
                    need_identity.append(row.wallet)
        existing = len(ok)
        for _ in range(ATTEMPTS):
            if not todo:
                break
            calls = self.registrar.identity_calls(need_identity, MERCHANT, 500)
            calls += self.registrar.merchant_calls(
                token, todo, region, first_nonce=self.view.forwarder_nonce(self.registrar.address),
                deadline=self.view.block_timestamp() + 3_600, batch=batch,
            )  # fmt: skip
            sent.add(self.registrar.send(calls))
            records = self.view.merchants(token, [r.wallet for r in todo])
            kinds = self.view.identities(need_identity)
            need_identity = [w for w, (k, _) in zip(need_identity, kinds, strict=True) if k == NONE]
            still = []
            for row, record in zip(todo, records, strict=True):
                if record.registered:
                    ok.append(row)
                elif (refusal := self.registrar.refusal(token, row, region)) is not None:
                    errors.append(RowError(row.line, row.wallet, refusal.name, str(refusal)))
                else:
                    still.append(row)  # skipped by the forwarder (a nonce raced): send again
            todo = still
        if todo:
            detail = f"{len(todo)} merchants did not register after {ATTEMPTS} attempts"
            raise GatewayError("NodeUnavailable", detail + "; run the import again to resume")
        return ok, existing


def _succeeded(receipt: JSONObject) -> bool:
    return int(str(receipt["status"]), 16) == 1


def _already(row: ResidentRow | MerchantRow, kind: int) -> RowError:
    detail = f"the wallet is registered as a {KIND_NAMES.get(kind, str(kind))}"
    return RowError(row.line, row.wallet, "IdentityAlreadyRegistered", detail)
