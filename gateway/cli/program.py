"""`dongne program ...`: commit a recipient list, push its grants (resumable), close.

`create` drives the same distribution pipeline as the HTTP routes (``gateway.distribution``):
a job in the gateway's database, the tree saved where the gateway finds it, and the resumable
pusher that re-reads the claimed bitmap before every batch. A push cut by a crash or Ctrl-C
resumes with `dongne program push --job ID`; nobody is paid twice.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateway.cli.common import (
    EXIT_FAILED,
    DatabaseUrl,
    JsonOut,
    ManifestPath,
    Region,
    RpcUrl,
    address_option,
    console,
    database_url_for,
    emit,
    err,
    fail,
    fail_with,
    operator_for,
    run_action,
)
from gateway.cli.gateway_api import GatewayUrl, gateway_get, token_of
from gateway.errors import GatewayError

program = typer.Typer(
    help="Policy programs: commit a recipient list, push grants, close.", no_args_is_help=True
)


def _push_with_progress(
    database_url: str | None,
    rpc: str,
    manifest_path: Path,
    job_id: str,
    total: int,
) -> dict[str, object]:
    """Pushes (or resumes) ``job_id`` with a progress bar on stderr; the job's report."""
    from gateway import distribution
    from gateway.db import create_engine_for

    _manifest, operator = operator_for(rpc, manifest_path)
    engine = run_action(lambda: create_engine_for(database_url_for(database_url, manifest_path)))
    trees = distribution.trees_beside(manifest_path)
    columns = (TextColumn("pushing grants"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("push", total=total)

        def on_batch(status: distribution.JobStatus) -> None:
            bar.update(task, completed=status.count - status.remaining)

        try:
            report = run_action(
                lambda: distribution.push(
                    engine, operator.rpc, operator.account, trees, job_id, on_batch=on_batch
                )
            )
        except GatewayError as exc:
            fail_with(exc, f" (resume with `dongne program push --job {job_id}`)")
    job = report.job
    return {
        "job": job.id,
        "status": job.status,
        "pushed": job.pushed,
        "skipped_claimed": job.skipped_claimed,
        "remaining": job.remaining,
        "transactions": len(report.tx_hashes),
        "gas_used": report.gas_used,
    }


@program.command("create")
def program_create(
    region: Region,
    csv: Annotated[Path, typer.Option(help="Recipients CSV: address,amount.", exists=True)],
    budget: Annotated[int | None, typer.Option(help="Budget (default: the list's total).")] = None,
    days: Annotated[int, typer.Option(help="Days until expiry.")] = 90,
    categories: Annotated[str, typer.Option(help="Allowed KSIC codes, comma-separated.")] = "",
    waive_revenue_cap: Annotated[bool, typer.Option(help="Allow merchants over the cap.")] = False,
    push: Annotated[bool, typer.Option(help="Push every grant after committing.")] = True,
    batch: Annotated[int, typer.Option(help="Grants per push transaction.")] = 500,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    database_url: DatabaseUrl = None,
    as_json: JsonOut = False,
) -> None:
    """Build the tree from a CSV, commit the root, and push grants with progress (resumable).

    Example: dongne program create --region 41390 --csv youth.csv --days 60 --categories 56111,47121
    """
    from chain.protocol.calls import ProgramParams
    from gateway import distribution
    from gateway.db import create_engine_for

    try:
        allowed = tuple(int(c) for c in categories.split(",") if c.strip())
    except ValueError:
        fail("--categories must be comma-separated KSIC codes")
    manifest, operator = operator_for(rpc, manifest_path)
    token = str(run_action(lambda: manifest.token(region)))
    engine = run_action(lambda: create_engine_for(database_url_for(database_url, manifest_path)))
    trees = distribution.trees_beside(manifest_path)
    try:
        job = distribution.create_job(
            engine, trees, manifest.chain_id, token, csv, batch_size=batch
        )  # read line by line from the file, not loaded whole
    except OSError as exc:
        fail(f"{csv}: {exc}")
    except GatewayError as exc:
        fail(f"{csv}: {exc.detail}")
    now = int(time.time())
    params = ProgramParams(
        root=bytes.fromhex(job.root.removeprefix("0x")),
        budget=budget if budget is not None else job.total,
        start=now - 60,
        expiry=now + days * 86_400,
        revenue_cap_waived=waive_revenue_cap,
        categories=allowed,
    )
    program_id = int(str(run_action(lambda: operator.create_program(token, params))))
    try:
        distribution.attach_program(engine, job.id, program_id)
    except GatewayError as exc:
        fail_with(exc)
    pushed: dict[str, object] = {"pushed": 0}
    if push:
        pushed = _push_with_progress(database_url, rpc, manifest_path, job.id, job.count)
    result = {
        "token": token,
        "program_id": program_id,
        "job": job.id,
        "root": job.root,
        "recipients": job.count,
        "total": job.total,
        "budget": params.budget,
        "expiry": params.expiry,
        "pushed": pushed["pushed"],
        "tree_file": str(distribution.tree_path(trees, job.root)),
    }
    emit(
        result,
        as_json,
        lambda: console.print(
            f"program {program_id}: {job.count} recipients, ₩{job.total:,},"
            f" pushed {pushed['pushed']} (job {job.id})"
        ),
    )


@program.command("push")
def program_push(
    job_id: Annotated[str, typer.Option("--job", help="Distribution job id.")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    database_url: DatabaseUrl = None,
    as_json: JsonOut = False,
) -> None:
    """Push (or resume pushing) a job's grants; leaves already claimed are skipped.

    Example: dongne program push --job 3f2a...
    """
    from gateway import distribution
    from gateway.db import create_engine_for

    engine = run_action(lambda: create_engine_for(database_url_for(database_url, manifest_path)))
    try:
        status = distribution.job_status(engine, job_id)
    except GatewayError as exc:
        fail_with(exc)
    result = _push_with_progress(database_url, rpc, manifest_path, job_id, status.count)
    emit(
        result,
        as_json,
        functools.partial(
            console.print, f"job {job_id}: {result['status']}, pushed {result['pushed']}"
        ),
    )


@program.command("close")
def program_close(
    region: Region,
    program_id: Annotated[int, typer.Option("--id", help="Program id.")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Close an expired program and report the returned budget (= budget - spent).

    Example: dongne program close --region 41390 --id 1
    """
    from eth_abi.abi import decode as abi_decode

    from chain.protocol.contracts import event_data_types, event_topic

    manifest, operator = operator_for(rpc, manifest_path)
    token = str(run_action(lambda: manifest.token(region)))
    receipt = run_action(lambda: operator.call_function(token, "closeProgram", [program_id]))
    closed = event_topic("ProgramClosed")
    logs = receipt.get("logs")
    for log in logs if isinstance(logs, list) else []:
        if not isinstance(log, dict):
            continue
        topics = log.get("topics")
        if isinstance(topics, list) and topics and topics[0] == closed:
            data = bytes.fromhex(str(log["data"])[2:])
            granted, spent, returned = abi_decode(list(event_data_types("ProgramClosed")), data)
            result = {"program_id": program_id, "granted": granted, "spent": spent}
            result["returned"] = returned
            text = f"closed program {program_id}: returned ₩{returned:,}"
            emit(result, as_json, functools.partial(console.print, text))
            return
    fail("closeProgram emitted no ProgramClosed event")


@program.command("list")
def program_list(
    region: Region, gateway: GatewayUrl = "http://127.0.0.1:8000", as_json: JsonOut = False
) -> None:
    """A city's programs with budget, granted, spent and returned (from the gateway's index).

    Example: dongne program list --region 41390
    """
    token = token_of(gateway, region)
    found = gateway_get(gateway, f"/v1/tokens/{token}/programs")
    assert isinstance(found, list)

    def render() -> None:
        for p in found:
            state = "closed" if p["closed"] else "open"
            console.print(f"#{p['program_id']} {p['kind']} {state} budget ₩{p['budget']:,} "
                          f"granted ₩{p['granted']:,} ({p['progress_pct']}%)")  # fmt: skip

    emit(found, as_json, render)


@program.command("show")
def program_show(
    region: Region,
    program_id: Annotated[int, typer.Option("--id", help="Program id.")],
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """One program: budget, granted, claimed, spent, returned, validity and categories.

    Example: dongne program show --region 41390 --id 1
    """
    token = token_of(gateway, region)
    found = gateway_get(gateway, f"/v1/tokens/{token}/programs/{program_id}")
    emit(found, as_json, lambda: console.print_json(data=found))


@program.command("tree")
def program_tree(
    csv: Annotated[Path, typer.Option(help="Recipients CSV: address,amount.", exists=True)],
    index: Annotated[int | None, typer.Option(help="Print this leaf's proof.")] = None,
    address: Annotated[str | None, typer.Option(help="Print this recipient's proofs.")] = None,
    as_json: JsonOut = False,
) -> None:
    """Rebuild a recipients list's tree offline: its root, and a leaf's proof.

    Leaves are in list order (index = row number from 0), which is
    `StandardMerkleTree.of(leaves, ["uint256", "address", "uint256"], {sortLeaves: false})` in
    OpenZeppelin's JS library.

    Example: dongne program tree --csv youth.csv --index 0
    """
    from chain.protocol.merkle import MerkleInputError, MerkleTree

    try:
        tree = MerkleTree.from_csv(csv)
    except (MerkleInputError, OSError, UnicodeDecodeError) as exc:
        fail(f"{csv}: {exc}")
    wanted: list[int] = []
    if index is not None:
        if not 0 <= index < len(tree):
            fail(f"--index must be between 0 and {len(tree) - 1}")
        wanted.append(index)
    if address is not None:
        recipient = address_option(address, "--address")
        wanted.extend(leaf.index for leaf in tree if leaf.recipient == recipient)
        if not wanted:
            fail(f"{recipient} is not in {csv}", EXIT_FAILED, "NotFound")
    root, total = "0x" + tree.root.hex(), sum(leaf.amount for leaf in tree)
    proofs = {i: ["0x" + node.hex() for node in tree.proof(i)] for i in wanted}
    leaves = [tree.leaf(i) for i in wanted]
    data = {
        "root": root,
        "count": len(tree),
        "total": total,
        "leaves": [{"index": leaf.index, "recipient": leaf.recipient, "amount": str(leaf.amount),
                    "proof": proofs[leaf.index]} for leaf in leaves],
    }  # fmt: skip

    def render() -> None:
        console.print(f"root {root}: {len(tree)} leaves, ₩{total:,}", soft_wrap=True)
        for leaf in leaves:
            console.print(f"leaf {leaf.index} {leaf.recipient} ₩{leaf.amount:,}", soft_wrap=True)
            for node in proofs[leaf.index]:
                console.print(f"  {node}")

    emit(data, as_json, render)
