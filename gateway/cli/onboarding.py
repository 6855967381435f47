"""`dongne import ...`: a city's residents or merchants from a CSV, in batches, resumably.

Signed with the network operator's key (`DONGNE_DEPLOYER_*`): it registers identities as a
KYC registrar and, for merchants, holds the city's merchant registrar role too. The job lives
in the gateway's database; running the same command again after a crash or Ctrl-C resumes
after the last committed line, and a finished file is not imported twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateway.cli.common import (
    DatabaseUrl,
    JsonOut,
    ManifestPath,
    Region,
    RpcUrl,
    console,
    database_url_for,
    emit,
    err,
    fail,
    fail_with,
    operator_for,
    run_action,
)
from gateway.errors import GatewayError

importer = typer.Typer(
    help="Bulk onboarding from CSV: residents' identities, merchants (resumable).",
    no_args_is_help=True,
)

CsvFile = Annotated[Path, typer.Argument(help="The CSV file.", exists=True, dir_okay=False)]
ErrorsFile = Annotated[
    Path | None, typer.Option("--errors", help="Write refused rows here (line,wallet,code,detail).")
]
ResumeJob = Annotated[str | None, typer.Option("--resume", help="The job to resume (its id).")]
Batch = Annotated[int | None, typer.Option(help="Rows per transaction (500 / 200).")]
InFlight = Annotated[int, typer.Option(help="Transactions sent before awaiting receipts.")]


def _data_lines(path: Path) -> int:
    """The file's lines after the header, counted in blocks (for the progress bar only)."""
    count = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return max(count - 1, 0)


def _run(
    kind: str, path: Path, region: int | None, errors_path: Path | None, job_id: str | None,
    batch: int | None, in_flight: int, rpc: str, manifest_path: Path, database_url: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    from gateway import onboarding
    from gateway.db import create_engine_for

    manifest, operator = operator_for(rpc, manifest_path, network=True)
    token = str(run_action(lambda: manifest.token(region))) if region is not None else None
    target = onboarding.ImportTarget(
        manifest.chain_id, manifest.registry, manifest.forwarder, token, region or 0
    )
    engine = run_action(lambda: create_engine_for(database_url_for(database_url, manifest_path)))
    columns = (
        TextColumn(f"importing {kind}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows · {task.fields[failed]:,} refused"),
        TimeElapsedColumn(),
    )
    job: onboarding.ImportJob | None = None
    try:
        with Progress(*columns, console=err, disable=as_json) as bar:
            task = bar.add_task(kind, total=_data_lines(path), failed=0)

            def on_window(status: onboarding.ImportJob) -> None:
                bar.update(task, completed=status.rows_read, failed=status.rows_failed)

            job = run_action(
                lambda: onboarding.import_file(
                    engine,
                    operator.rpc,
                    operator.account,
                    target,
                    path,
                    kind,
                    job_id=job_id,
                    batch_size=batch,
                    in_flight=in_flight,
                    on_window=on_window,
                )
            )
    except GatewayError as exc:
        fail_with(exc, f" (run the same command again to resume{_job_hint(job_id)})")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: {exc}")
    summary = job.summary()
    if errors_path is not None:
        summary["errors_file"] = str(errors_path)
        onboarding.write_error_report(engine, job.id, errors_path)
    emit(
        summary,
        as_json,
        lambda: console.print(
            f"{kind}: {job.rows_read:,} rows, {job.rows_ok:,} registered"
            f" ({job.rows_existing:,} already), {job.rows_failed:,} refused,"
            f" {job.transactions} transactions, {job.seconds:.1f} s (job {job.id})"
        ),
    )


def _job_hint(job_id: str | None) -> str:
    return f", or pass --resume {job_id}" if job_id else ""


@importer.command("residents")
def import_residents(
    path: CsvFile,
    errors_path: ErrorsFile = None,
    job_id: ResumeJob = None,
    batch: Batch = None,
    in_flight: InFlight = 8,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    database_url: DatabaseUrl = None,
    as_json: JsonOut = False,
) -> None:
    """Register residents' wallets (citizens) from `wallet,kyc_ref[,bank_code,bank_account,
    account_holder]` and record their cash accounts.

    Example: dongne import residents residents.csv --errors refused.csv --json
    """
    _run("residents", path, None, errors_path, job_id, batch, in_flight, rpc, manifest_path,
         database_url, as_json)  # fmt: skip


@importer.command("merchants")
def import_merchants(
    path: CsvFile,
    region: Region,
    errors_path: ErrorsFile = None,
    job_id: ResumeJob = None,
    batch: Batch = None,
    in_flight: InFlight = 5,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    database_url: DatabaseUrl = None,
    as_json: JsonOut = False,
) -> None:
    """Register a city's merchants (identity, then the token's record) from `wallet,
    business_name,business_number,address,legal_dong,category,tier,market,latitude,longitude,
    phone,email,bank_code,bank_account,account_holder`, and write their profiles.

    Example: dongne import merchants shops.csv --region 41390 --errors refused.csv --json
    """
    _run("merchants", path, region, errors_path, job_id, batch, in_flight, rpc, manifest_path,
         database_url, as_json)  # fmt: skip
