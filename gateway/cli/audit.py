"""`dongne audit ...`: auditors' reports, read from the gateway's API (and the chain's code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chain.manifest import Manifest
from gateway.cli.common import (
    EXIT_FAILED,
    DatabaseUrl,
    JsonOut,
    ManifestPath,
    Region,
    RpcUrl,
    console,
    database_url_for,
    emit,
    fail,
    operator_for,
    run_action,
)
from gateway.cli.gateway_api import (
    GatewayUrl,
    gateway_bytes,
    gateway_get,
    gateway_post,
    token_of,
)

WHEN = "Unix seconds or an ISO 8601 date/time (KST unless an offset is given)"

audit = typer.Typer(
    help="Auditors' reports: code, reconciliation, distributions, fraud.", no_args_is_help=True
)


@audit.command("verify-code")
def audit_verify_code(
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Recompile the pinned sources and compare with the deployed code of every contract.

    Example: dongne audit verify-code --manifest .dongne/manifest.json
    """
    import dataclasses

    from chain.verify import verify_deployment

    if not manifest_path.exists():
        fail(f"no manifest at {manifest_path}")
    report = run_action(lambda: verify_deployment(rpc, Manifest.load(manifest_path)))
    data = {**dataclasses.asdict(report), "ok": report.ok, "failures": report.failures()}
    emit(data, as_json, lambda: console.print(str(report)))
    if not report.ok:
        raise typer.Exit(1)


@audit.command("reconcile")
def audit_reconcile(
    region: Region,
    sample: Annotated[int | None, typer.Option(help="Check a random sample of holders.")] = None,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Reconcile the index against the chain: supply, every holder, programs.

    Example: dongne audit reconcile --region 41390
    """
    token = token_of(gateway, region)
    report = gateway_get(gateway, f"/v1/audit/{token}/reconcile", sample=sample)
    assert isinstance(report, dict)
    emit(report, as_json, lambda: console.print_json(data=report))
    if not report.get("ok", False):
        raise typer.Exit(1)


@audit.command("ledger")
def audit_ledger(
    region: Region,
    out: Annotated[Path, typer.Option(help="File to write.")],
    since: Annotated[str | None, typer.Option(help=WHEN + ", inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help=WHEN + ", exclusive.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Export a municipality's ledger for a time range.

    Example: dongne audit ledger --region 41390 --out ledger.csv --since 1793500000
    """
    if fmt not in ("csv", "jsonl"):
        fail("--format must be csv or jsonl")
    token = token_of(gateway, region)
    from gateway.audit.ledger import check_trailer

    text = gateway_get(gateway, f"/v1/audit/{token}/ledger", since=since, until=until, format=fmt)
    body = text if isinstance(text, str) else json.dumps(text)
    try:
        rows = check_trailer(body)  # a cut download never passes as a short ledger
    except ValueError as exc:
        fail(f"the ledger download is incomplete: {exc}")
    out.write_text(body)
    emit(
        {"file": str(out), "rows": rows, "verified": True},
        as_json,
        lambda: console.print(f"{rows} rows (trailer verified) -> {out}"),
    )


@audit.command("distribution")
def audit_distribution(
    region: Region,
    program_id: Annotated[int, typer.Option("--id", help="Program id.")],
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Verify a distribution: every grant a leaf of the root, no index twice, within budget.

    Example: dongne audit distribution --region 41390 --id 1
    """
    token = token_of(gateway, region)
    report = gateway_get(gateway, f"/v1/audit/{token}/programs/{program_id}/verify")
    assert isinstance(report, dict)
    emit(report, as_json, lambda: console.print_json(data=report))
    if not report.get("ok", False):
        raise typer.Exit(1)


@audit.command("fraud")
def audit_fraud(
    region: Region,
    since: Annotated[str, typer.Option(help=WHEN + ", inclusive.")],
    until: Annotated[str, typer.Option(help=WHEN + ", exclusive.")],
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Fraud flags with their rule, thresholds and evidence.

    Example: dongne audit fraud --region 41390 --since 2026-11-01 --until 2026-12-01
    """
    token = token_of(gateway, region)
    report = gateway_get(gateway, f"/v1/audit/{token}/fraud", since=since, until=until)

    def render() -> None:
        # The API answers the list of flags itself.
        flags = report if isinstance(report, list) else []
        table = Table(title=f"fraud flags ({len(flags)})")
        for column in ("rule", "subject", "summary"):
            table.add_column(column)
        for flag in flags:
            table.add_row(
                str(flag.get("rule")),
                str(flag.get("subject", flag.get("merchant"))),
                str(flag.get("summary")),
            )
        console.print(table)

    emit(report, as_json, render)


@audit.command("settlement")
def audit_settlement(
    region: Region,
    since: Annotated[str, typer.Option(help=WHEN + ", inclusive.")],
    until: Annotated[str, typer.Option(help=WHEN + ", exclusive.")],
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            help="Also download the bank file: 'bank' (fixed-width, EUC-KR) or 'json' (its twin).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write it (default <reference>.txt or .json); without --file, the "
            "legacy CSV."
        ),
    ] = None,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Issue the settlement batch of a closed window and write the bank's file.

    Example: dongne audit settlement --region 41390 --since 1793500000 --until 1793586400
    --file bank --out siheung.txt
    """
    if file not in (None, "bank", "json"):
        fail("--file must be 'bank' or 'json'")
    token = token_of(gateway, region)
    batch = gateway_post(
        gateway, f"/v1/audit/{token}/settlements", {"since": since, "until": until}
    )
    assert isinstance(batch, dict)
    reference = batch.get("reference")
    path = f"/v1/audit/{token}/settlements/{reference}"
    if file is not None:
        content = gateway_bytes(gateway, f"{path}/file", format=file)
        target = out or Path(f"{reference}.{'txt' if file == 'bank' else 'json'}")
        target.write_bytes(content)
        batch = {**batch, "file": str(target)}
    elif out is not None:
        out.write_text(str(gateway_get(gateway, path, format="csv")))
    emit(batch, as_json, lambda: console.print_json(data=batch))


@audit.command("funders")
def audit_funders(
    region: Region,
    since: Annotated[str | None, typer.Option(help=WHEN + ", inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help=WHEN + ", exclusive.")] = None,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """What each funder owes for a period (discount subsidies, cashback) and the merchants'
    own extras; without a period, all time, checked against the chain's funderTotals.

    Example: dongne audit funders --region 41390 --since 2026-11-01 --until 2026-12-01 --json
    """
    token = token_of(gateway, region)
    report = gateway_get(gateway, f"/v1/audit/{token}/funders", since=since, until=until)
    assert isinstance(report, dict)

    def render() -> None:
        table = Table(title=f"funders of {region} ({report.get('since')} - {report.get('until')})")
        for column in ("funder", "subsidy", "cashback", "total"):
            table.add_column(column)
        for f in report.get("funders", []):
            table.add_row(str(f["name"]), f"{f['subsidy']:,}", f"{f['cashback']:,}",
                          f"{f['total']:,}")  # fmt: skip
        for m in report.get("merchant_extras", []):
            table.add_row(f"merchant {m['merchant']}", "", "", f"{m['extras']:,}")
        console.print(table)
        if report.get("reconciled") is not None:
            console.print(f"reconciled with the chain: {report['reconciled']}")

    emit(report, as_json, render)


@audit.command("verify-log")
def audit_verify_log(
    region: Region,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Recompute the staff action log's hash chain: any edited, deleted or reordered entry.

    Example: dongne audit verify-log --region 41390   (after `dongne login` as an auditor)
    """
    token = token_of(gateway, region)
    check = gateway_get(gateway, f"/v1/audit/{token}/staff-log/verify")
    assert isinstance(check, dict)
    emit(check, as_json, lambda: console.print_json(data=check))
    if not check.get("ok", False):
        raise typer.Exit(1)


@audit.command("upgrades")
def audit_upgrades(
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Every operation pending in the timelock that owns the beacon, upgrade or not: exit 1
    when any is not a well-formed upgrade batch (a WARNING line says why).

    Example: dongne audit upgrades --manifest .dongne/manifest.json
    """
    import dataclasses
    from datetime import datetime, timedelta, timezone

    from chain.rpc import RpcClient
    from chain.upgrades import pending_operations

    if not manifest_path.exists():
        fail(f"no manifest at {manifest_path}")
    manifest = Manifest.load(manifest_path)
    with RpcClient(rpc) as client:
        pending = run_action(lambda: pending_operations(client, manifest))
    # The timelock runs whatever a proposer scheduled: besides upgrades, changes to itself
    # (updateDelay(0), grantRole) or calls hidden in an upgrade batch. Every one is shown here,
    # where auditors already look, and anything but a well-formed upgrade fails the audit.
    suspect = [p for p in pending if not p.is_upgrade]
    data = {
        "pending": [{**dataclasses.asdict(p), "is_upgrade": p.is_upgrade} for p in pending],
        "ok": not suspect,
    }

    def render() -> None:
        if not pending:
            console.print("nothing is pending in the timelock")
        kst = timezone(timedelta(hours=9))
        for p in pending:
            when = datetime.fromtimestamp(p.ready_at, kst).strftime("%Y-%m-%d %H:%M KST")
            if p.implementation:
                mirrors = f" +{p.re_mirrors} city re-mirrors" if p.re_mirrors else ""
                what = f"beacon -> {p.implementation}{mirrors}"
            else:
                what = f"not an upgrade ({len(p.calls)} call(s))"
            console.print(f"{p.state}: {what}, may run from {when} ({p.operation_id})",
                          markup=False, soft_wrap=True)  # fmt: skip
            for problem in p.problems:
                console.print(f"  WARNING: {problem}", style="bold red", markup=False,
                              soft_wrap=True)  # fmt: skip

    emit(data, as_json, render)
    if suspect:
        raise typer.Exit(1)


@audit.command("anchor-log")
def audit_anchor_log(
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    database_url: DatabaseUrl = None,
    as_json: JsonOut = False,
) -> None:
    """Anchor the staff action log's head on chain (the network operator's key, on the
    gateway's host): later edits of the log up to here cannot be hidden by recomputing it.

    Example: dongne audit anchor-log --manifest .dongne/manifest.json
    """
    from chain.anchors import anchor_log
    from gateway.access import staff_log
    from gateway.db import create_engine_for

    manifest, operator = operator_for(rpc, manifest_path, network=True)
    engine = run_action(lambda: create_engine_for(database_url_for(database_url, manifest_path)))
    check = staff_log.verify(engine)
    if not check.ok:
        fail(f"the staff log is broken at entry {check.first_bad_seq} ({check.problem}): "
             "not anchoring it", EXIT_FAILED, "StaffLogBroken")  # fmt: skip
    if check.entries == 0:
        fail("the staff log is empty: nothing to anchor", EXIT_FAILED, "NothingToAnchor")
    run_action(lambda: anchor_log(operator, manifest, check.head, check.entries))
    data = {"head": check.head, "entries": check.entries}
    emit(data, as_json, lambda: console.print(f"anchored {check.entries} entries: {check.head}"))
