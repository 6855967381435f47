"""`dongne`: the local network in one command, city operations and auditors' reports.

Every command takes `--json` for machine-readable output and exits non-zero with a one-line
reason on bad input. City operations are signed with the operator's own key
(`DONGNE_DEPLOYER_KEY`, or `DONGNE_DEPLOYER_KEYSTORE` + `DONGNE_DEPLOYER_PASSWORD`).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chain.manifest import Manifest
from chain.operator import KIND, Operator, TransactionFailed
from chain.protocol.errors import DongneChainError

app = typer.Typer(
    name="dongne",
    help="Dongne: a permissioned voucher network for local currencies and policy allowances.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
city = typer.Typer(
    help="City operations, signed with the operator's own key.", no_args_is_help=True
)
program = typer.Typer(
    help="Policy programs: commit a recipient list, push grants, close.", no_args_is_help=True
)
audit = typer.Typer(
    help="Auditors' reports: code, reconciliation, distributions, fraud.", no_args_is_help=True
)
app.add_typer(city, name="city")
app.add_typer(program, name="program")
app.add_typer(audit, name="audit")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

DataDir = Annotated[Path, typer.Option("--data-dir", help="Node state, database, manifest.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RpcUrl = Annotated[str, typer.Option("--rpc", envvar="DONGNE_RPC_URL", help="JSON-RPC endpoint.")]
ManifestPath = Annotated[
    Path, typer.Option("--manifest", envvar="DONGNE_MANIFEST_PATH", help="Deployment manifest.")
]


def fail(reason: str) -> NoReturn:
    err.print(f"[red]error:[/red] {reason}")
    raise typer.Exit(2)


def emit(data: object, as_json: bool, render: Callable[[], None]) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        render()


# ---------------------------------------------------------------------------------- up


@app.command()
def up(
    data_dir: DataDir = Path(".dongne"),
    node: Annotated[str, typer.Option(help="Local node: anvil or ganache.")] = "anvil",
    rpc: Annotated[str | None, typer.Option(help="Use an existing network instead.")] = None,
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8000,
    rpc_port: Annotated[int, typer.Option(help="Local node's JSON-RPC port.")] = 8545,
    demo: Annotated[bool, typer.Option(help="Seed four municipalities, shops, citizens.")] = False,
    block_time: Annotated[float, typer.Option(help="Seconds between blocks.")] = 1.0,
    as_json: JsonOut = False,
    detach_after: Annotated[
        float | None, typer.Option(hidden=True, help="Stop after N seconds (tests).")
    ] = None,
) -> None:
    """Start a node, deploy the network if needed, run the gateway and indexer.

    Example: dongne up --demo   (Ctrl-C stops everything; state persists in --data-dir)
    """
    from chain.node import LocalNode
    from gateway.devnet.demo import DEMO_MUNICIPALITIES, seed_demo
    from gateway.devnet.localnet import RELAYER_KEY_COUNT, SIHEUNG, LocalNetwork, deploy_local
    from gateway.devnet.process import GatewayProcess

    if node not in ("anvil", "ganache"):
        fail(f"--node must be anvil or ganache, not {node!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    say = err.print
    local: LocalNode | None = None
    if rpc is None:
        state = data_dir / ("anvil-state.json" if node == "anvil" else "ganache-db")
        say(f"starting {node} (state in {state})")
        local = LocalNode(
            node,  # type: ignore[arg-type]
            block_time=block_time,
            block_gas_limit=300_000_000,
            state_path=state,
            state_interval=5 if node == "anvil" else None,
            log_path=data_dir / f"{node}.log",
            port=rpc_port,
        ).start()
        rpc_url = local.rpc_url
        accounts = local.dev_accounts()
        operator_key = accounts[0].private_key
        relayer_keys = [a.private_key for a in accounts[1 : 1 + RELAYER_KEY_COUNT]]
        distribution_key: str | None = accounts[1 + RELAYER_KEY_COUNT].private_key
    else:
        from chain.deploy import deployer_from_env

        rpc_url = rpc
        try:
            operator_key = "0x" + bytes(deployer_from_env().key).hex()
        except DongneChainError as exc:
            fail(str(exc))
        keys = os.environ.get("DONGNE_RELAYER_KEYS")
        if not keys:
            fail("with --rpc, set DONGNE_RELAYER_KEYS (JSON list of hex keys paying gas)")
        relayer_keys = json.loads(keys)
        distribution_key = os.environ.get("DONGNE_DISTRIBUTION_KEY")
    gateway: GatewayProcess | None = None
    try:
        specs = DEMO_MUNICIPALITIES if demo else (SIHEUNG,)
        manifest, operator = deploy_local(
            rpc_url, operator_key, data_dir / "manifest.json", specs, progress=say
        )
        network = LocalNetwork(
            local,
            rpc_url,
            manifest,
            data_dir / "manifest.json",
            operator,
            relayer_keys,
            distribution_key,
        )
        wallets = seed_demo(data_dir, manifest, operator, say=say) if demo else []
        env = network.gateway_env(f"sqlite:///{(data_dir / 'gateway.db').resolve()}")
        gateway = GatewayProcess(env, port=port, log_path=data_dir / "gateway.log").start()
        summary = {
            "rpc_url": rpc_url,
            "gateway": gateway.url,
            "docs": gateway.url + "/docs",
            "chain_id": manifest.chain_id,
            "forwarder": manifest.forwarder,
            "registry": manifest.registry,
            "factory": manifest.factory,
            "municipalities": {
                str(m.region): {"name": m.name, "token": m.token}
                for m in manifest.municipalities.values()
            },
            "demo_keys": str(data_dir / "demo-keys.json") if wallets else None,
            "demo_wallets": len(wallets),
        }

        def render() -> None:
            table = Table(title="Dongne is up", show_header=False)
            table.add_row("JSON-RPC", rpc_url)
            table.add_row("gateway", gateway.url if gateway else "")
            table.add_row("API docs", summary["docs"])  # type: ignore[arg-type]
            table.add_row("chain id", str(manifest.chain_id))
            table.add_row("forwarder", manifest.forwarder)
            for m in sorted(manifest.municipalities.values(), key=lambda m: m.region):
                table.add_row(f"{m.region:05d} {m.name}", m.token)
            if wallets:
                table.add_row("demo wallets", f"{len(wallets)} in {summary['demo_keys']}")
            console.print(table)
            console.print("Ctrl-C stops everything; run again to resume with the same state.")

        emit(summary, as_json, render)
        sys.stdout.flush()
        _wait_for_interrupt(detach_after)
    finally:
        if gateway is not None:
            gateway.stop()
        if local is not None:
            local.stop()
        say("stopped")


def _wait_for_interrupt(limit: float | None) -> None:
    stop = {"now": False}

    def handler(_signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    started = time.monotonic()
    while not stop["now"]:
        if limit is not None and time.monotonic() - started > limit:
            return
        time.sleep(0.2)


@app.command()
def reindex(
    database_url: Annotated[
        str,
        typer.Option(envvar="DONGNE_DATABASE_URL", help="Index database (SQLite or PostgreSQL)."),
    ] = "sqlite:///.dongne/gateway.db",
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Rebuild the index from the first deployment block, with a progress bar.

    The chain is the source of truth: stop the gateway first, then reindex.
    Example: dongne reindex --database-url sqlite:///.dongne/gateway.db
    """
    from chain.rpc import RpcClient
    from gateway.cli.progress import rich_progress
    from gateway.db import create_engine_for
    from gateway.indexer import Indexer

    if not manifest_path.exists():
        fail(f"no manifest at {manifest_path}")
    manifest = Manifest.load(manifest_path)
    engine = _run(lambda: create_engine_for(database_url))
    with RpcClient(rpc) as client:
        indexer = Indexer(engine, client, manifest)
        if as_json:
            report = _run(indexer.reindex)
        else:
            with rich_progress() as show:
                report = _run(lambda: indexer.reindex(show))
    data = {"to_block": report.to_block, "events": report.events, "seconds": report.seconds}
    text = f"reindexed {report.events} events up to block {report.to_block}"
    emit(data, as_json, lambda: console.print(text))


# ---------------------------------------------------------------------------------- city


def _operator(rpc_url: str, manifest_path: Path) -> tuple[Manifest, Operator]:
    from chain.deploy import deployer_from_env
    from chain.rpc import RpcClient

    if not manifest_path.exists():
        fail(f"no manifest at {manifest_path}: run `dongne up` or pass --manifest")
    manifest = Manifest.load(manifest_path)
    try:
        account = deployer_from_env()
    except DongneChainError as exc:
        fail(str(exc))
    return manifest, Operator(RpcClient(rpc_url), account, manifest.chain_id)


def _address(value: str, what: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(value):
        fail(f"{what} is not an address: {value}")
    return str(to_checksum_address(value))


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except TransactionFailed as exc:
        fail(str(exc))
    except DongneChainError as exc:
        fail(str(exc))


Region = Annotated[int, typer.Option("--region", help="5-digit legal-district code (0: national).")]


@city.command("deploy")
def city_deploy(
    region: Region,
    name: Annotated[str, typer.Option(help="Voucher name.")],
    symbol: Annotated[str, typer.Option(help="Ticker.")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Deploy a municipality's voucher token through the factory (today's default rules).

    Example: dongne city deploy --region 41130 --name "Seongnam Love Voucher" --symbol SNV
    """
    from web3 import Web3

    from chain.deploy import deploy_municipality
    from chain.protocol.calls import default_rules

    if region != 0 and not 10_000 <= region <= 99_999:
        fail("--region must be a 5-digit legal-district code or 0")
    manifest, operator = _operator(rpc, manifest_path)
    municipality = _run(
        lambda: deploy_municipality(
            Web3(Web3.HTTPProvider(rpc)),
            operator.account,
            manifest,
            region=region,
            name=name,
            symbol=symbol,
            admin=operator.address,
            rules=default_rules().as_tuple(),
            manifest_path=manifest_path,
        )
    )
    _run(lambda: operator.grant_roles(municipality.token, operator.address))
    emit(municipality.__dict__, as_json, lambda: console.print(f"{region}: {municipality.token}"))


@city.command("register")
def city_register(
    address: Annotated[str, typer.Argument(help="Wallet address.")],
    kind: Annotated[str, typer.Option(help="citizen, merchant or institution.")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Register a verified wallet in the identity registry (KYC registrar's key).

    Example: dongne city register 0xAbc... --kind citizen
    """

    if kind not in KIND:
        fail(f"--kind must be one of {', '.join(KIND)}")
    account = _address(address, "address")
    manifest, operator = _operator(rpc, manifest_path)
    _run(lambda: operator.register(manifest.registry, [account], kind))
    emit(
        {"address": account, "kind": kind},
        as_json,
        lambda: console.print(f"registered {account} as {kind}"),
    )


@city.command("merchant")
def city_merchant(
    address: Annotated[str, typer.Argument(help="Merchant wallet (registered as merchant).")],
    region: Region,
    category: Annotated[int, typer.Option(help="KSIC industry code.")],
    tier: Annotated[int, typer.Option(help="Revenue tier (0 smallest).")] = 0,
    shop_region: Annotated[
        int | None, typer.Option(help="Shop's region (national voucher).")
    ] = None,
    market: Annotated[bool, typer.Option(help="Traditional-market store.")] = False,
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Register a merchant of a municipality.

    Example: dongne city merchant 0xAbc... --region 41390 --category 56111 --tier 0
    """

    account = _address(address, "address")
    manifest, operator = _operator(rpc, manifest_path)
    token = _run(lambda: manifest.token(region))
    _run(
        lambda: operator.register_merchant(
            str(token),
            account,
            shop_region if shop_region is not None else region,
            category,
            tier,
            market,
        )
    )
    emit(
        {"merchant": account, "token": token, "category": category, "tier": tier},
        as_json,
        lambda: console.print(f"merchant {account} registered in {region}"),
    )


@city.command("sell")
def city_sell(
    buyer: Annotated[str, typer.Argument(help="Buyer's wallet.")],
    region: Region,
    face: Annotated[int, typer.Option(help="Face value in won.")],
    paid: Annotated[int, typer.Option(help="Cash paid in won (face minus discount).")],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Sell vouchers at a discount (sales agent's key).

    Example: dongne city sell 0xAbc... --region 41390 --face 100000 --paid 90000
    """

    if face <= 0 or paid < 0 or paid > face:
        fail("--face must be positive and --paid between 0 and --face")
    account = _address(buyer, "buyer")
    manifest, operator = _operator(rpc, manifest_path)
    token = _run(lambda: manifest.token(region))
    _run(lambda: operator.issue(str(token), account, face, paid))
    emit(
        {"buyer": account, "face": face, "paid": paid, "subsidy": face - paid},
        as_json,
        lambda: console.print(f"sold ₩{face:,} to {account} for ₩{paid:,}"),
    )


@city.command("rules")
def city_rules(
    region: Region,
    set_: Annotated[
        list[str], typer.Option("--set", help="field=value, e.g. holding_cap=2000000.")
    ],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    as_json: JsonOut = False,
) -> None:
    """Propose new rules; they take effect after the municipality's change delay.

    Example: dongne city rules --region 41390 --set monthly_purchase_cap=500000
    """
    import dataclasses

    from eth_abi.abi import decode as abi_decode
    from eth_utils.crypto import keccak

    from chain.protocol.calls import Rules, encode_propose_rules

    manifest, operator = _operator(rpc, manifest_path)
    token = str(_run(lambda: manifest.token(region)))
    raw = operator.rpc.eth_call({"to": token, "data": "0x" + keccak(text="rules()")[:4].hex()})
    types = (
        "("
        + ",".join(
            ["uint8"]
            + ["uint16"] * 4
            + ["uint64"] * 3
            + ["uint16"] * 3
            + ["bool", "uint32"]
            + ["uint64"] * 3
        )
        + ")"
    )
    (current,) = abi_decode([types], raw)
    rules = Rules.from_tuple(list(current))
    names = {f.name for f in dataclasses.fields(Rules)}
    changes: dict[str, int | bool] = {}
    for item in set_:
        key, _, value = item.partition("=")
        if key not in names or not value:
            fail(f"--set {item!r}: field must be one of {', '.join(sorted(names))}")
        changes[key] = (
            value.lower() in ("1", "true", "yes") if key == "gift_enabled" else int(value)
        )
    new = dataclasses.replace(rules, **changes)  # type: ignore[arg-type]
    _run(lambda: operator.send(token, encode_propose_rules(new), "proposeRules"))
    emit(
        {"token": token, "changes": changes, "delay_s": rules.change_delay},
        as_json,
        lambda: console.print(f"proposed {changes}; effective in {rules.change_delay} s"),
    )


# ---------------------------------------------------------------------------------- programs


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
    as_json: JsonOut = False,
) -> None:
    """Build the tree from a CSV, commit the root, and push grants with progress.

    Example: dongne program create --region 41390 --csv youth.csv --days 60 --categories 56111,47121
    """
    from chain.protocol.calls import ProgramParams, encode_grant_batch
    from chain.protocol.merkle import MerkleInputError, MerkleTree

    try:
        allowed = tuple(int(c) for c in categories.split(",") if c.strip())
    except ValueError:
        fail("--categories must be comma-separated KSIC codes")
    try:
        tree = MerkleTree.from_csv(csv)
    except MerkleInputError as exc:
        fail(f"{csv}: {exc}")
    leaves = list(tree)
    total = sum(leaf.amount for leaf in leaves)
    manifest, operator = _operator(rpc, manifest_path)
    token = str(_run(lambda: manifest.token(region)))
    now = int(time.time())
    params = ProgramParams(
        root=tree.root,
        budget=budget if budget is not None else total,
        start=now - 60,
        expiry=now + days * 86_400,
        revenue_cap_waived=waive_revenue_cap,
        categories=allowed,
    )
    program_id = int(str(_run(lambda: operator.create_program(token, params))))
    tree_path = manifest_path.parent / "trees" / f"{tree.root.hex()}.bin"
    tree_path.parent.mkdir(parents=True, exist_ok=True)
    tree.save(tree_path)
    pushed = 0
    if push:
        with Progress(
            TextColumn("pushing grants"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as bar:
            task = bar.add_task("push", total=len(leaves))
            calls = []
            for start in range(0, len(leaves), batch):
                mp = tree.multiproof(range(start, min(start + batch, len(leaves))))
                calls.append(
                    (token, encode_grant_batch(program_id, mp.leaves, mp.proof, mp.proof_flags))
                )
            for i in range(0, len(calls), 8):
                chunk = calls[i : i + 8]
                _run(lambda chunk=chunk: operator.send_calls(chunk, "grantBatch"))  # type: ignore[misc]
                done = min((i + len(chunk)) * batch, len(leaves))
                bar.update(task, completed=done)
                pushed = done
    result = {
        "token": token,
        "program_id": program_id,
        "root": "0x" + tree.root.hex(),
        "recipients": len(leaves),
        "total": total,
        "budget": params.budget,
        "expiry": params.expiry,
        "pushed": pushed,
        "tree_file": str(tree_path),
    }
    emit(
        result,
        as_json,
        lambda: console.print(
            f"program {program_id}: {len(leaves)} recipients, ₩{total:,}, pushed {pushed}"
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
    from eth_utils.crypto import keccak

    manifest, operator = _operator(rpc, manifest_path)
    token = str(_run(lambda: manifest.token(region)))
    receipt = _run(lambda: operator.call_function(token, "closeProgram", [program_id]))
    closed = "0x" + keccak(text="ProgramClosed(uint256,uint256,uint256,uint256)").hex()
    logs = receipt.get("logs")
    for log in logs if isinstance(logs, list) else []:
        if not isinstance(log, dict):
            continue
        topics = log.get("topics")
        if isinstance(topics, list) and topics and topics[0] == closed:
            data = bytes.fromhex(str(log["data"])[2:])
            granted, spent, returned = abi_decode(["uint256"] * 3, data)
            result = {"program_id": program_id, "granted": granted, "spent": spent}
            result["returned"] = returned
            text = f"closed program {program_id}: returned ₩{returned:,}"
            emit(result, as_json, functools.partial(console.print, text))
            return
    fail("closeProgram emitted no ProgramClosed event")


# ---------------------------------------------------------------------------------- audit


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
    report = _run(lambda: verify_deployment(rpc, Manifest.load(manifest_path)))
    data = {**dataclasses.asdict(report), "ok": report.ok, "failures": report.failures()}
    emit(data, as_json, lambda: console.print(str(report)))
    if not report.ok:
        raise typer.Exit(1)


GatewayUrl = Annotated[
    str, typer.Option("--gateway", envvar="DONGNE_GATEWAY_URL", help="Gateway base URL.")
]


def _gateway_get(gateway: str, path: str, **params: str | int | None) -> object:
    """Auditors' reports come from the gateway's index (the chain is read for reconciliation)."""
    import httpx

    query = {k: v for k, v in params.items() if v is not None}
    try:
        response = httpx.get(gateway.rstrip("/") + path, params=query, timeout=600)
    except httpx.HTTPError as exc:
        fail(f"gateway at {gateway} unreachable: {exc}")
    return _answer(response)


def _gateway_post(gateway: str, path: str, body: object) -> object:
    import httpx

    try:
        response = httpx.post(gateway.rstrip("/") + path, json=body, timeout=600)
    except httpx.HTTPError as exc:
        fail(f"gateway at {gateway} unreachable: {exc}")
    return _answer(response)


def _answer(response: object) -> object:
    import httpx

    assert isinstance(response, httpx.Response)
    if response.status_code >= 400:
        try:
            problem = response.json()
            fail(f"{problem.get('code')}: {problem.get('detail')}")
        except ValueError:
            fail(f"HTTP {response.status_code}: {response.text[:200]}")
    if "json" in response.headers.get("content-type", ""):
        return response.json()
    return response.text


def _token_of(gateway: str, region: int) -> str:
    network = _gateway_get(gateway, "/v1/network")
    assert isinstance(network, dict)
    for token in network.get("tokens", []):
        if token["region"] == region:
            return str(token["token"])
    fail(f"no municipality with region {region} on this network")


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
    token = _token_of(gateway, region)
    report = _gateway_get(gateway, f"/v1/audit/{token}/reconcile", sample=sample)
    assert isinstance(report, dict)
    emit(report, as_json, lambda: console.print_json(data=report))
    if not report.get("ok", False):
        raise typer.Exit(1)


@audit.command("ledger")
def audit_ledger(
    region: Region,
    out: Annotated[Path, typer.Option(help="File to write.")],
    since: Annotated[int | None, typer.Option(help="Unix time, inclusive.")] = None,
    until: Annotated[int | None, typer.Option(help="Unix time, exclusive.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Export a municipality's ledger for a time range.

    Example: dongne audit ledger --region 41390 --out ledger.csv --since 1793500000
    """
    if fmt not in ("csv", "jsonl"):
        fail("--format must be csv or jsonl")
    token = _token_of(gateway, region)
    text = _gateway_get(gateway, f"/v1/audit/{token}/ledger", since=since, until=until, format=fmt)
    out.write_text(text if isinstance(text, str) else json.dumps(text))
    lines = len(str(text).splitlines())
    emit(
        {"file": str(out), "lines": lines},
        as_json,
        lambda: console.print(f"{lines} lines -> {out}"),
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
    token = _token_of(gateway, region)
    report = _gateway_get(gateway, f"/v1/audit/{token}/programs/{program_id}/verify")
    assert isinstance(report, dict)
    emit(report, as_json, lambda: console.print_json(data=report))
    if not report.get("ok", False):
        raise typer.Exit(1)


@audit.command("fraud")
def audit_fraud(
    region: Region,
    since: Annotated[int | None, typer.Option(help="Unix time, inclusive.")] = None,
    until: Annotated[int | None, typer.Option(help="Unix time, exclusive.")] = None,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Fraud flags with their rule, thresholds and evidence.

    Example: dongne audit fraud --region 41390 --since 1793500000
    """
    token = _token_of(gateway, region)
    report = _gateway_get(gateway, f"/v1/audit/{token}/fraud", since=since, until=until)

    def render() -> None:
        flags = report.get("flags", []) if isinstance(report, dict) else []
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
    since: Annotated[int, typer.Option(help="Unix time, inclusive.")],
    until: Annotated[int, typer.Option(help="Unix time, exclusive.")],
    out: Annotated[Path | None, typer.Option(help="Write the bank's CSV here.")] = None,
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Issue the settlement batch of a closed window and write the bank's CSV.

    Example: dongne audit settlement --region 41390 --since 1793500000 --until 1793586400
    """
    token = _token_of(gateway, region)
    batch = _gateway_post(
        gateway, f"/v1/audit/{token}/settlements", {"since": since, "until": until}
    )
    assert isinstance(batch, dict)
    if out is not None:
        reference = batch.get("reference")
        csv_text = _gateway_get(gateway, f"/v1/audit/{token}/settlements/{reference}", format="csv")
        out.write_text(str(csv_text))
    emit(batch, as_json, lambda: console.print_json(data=batch))


def main() -> None:  # pragma: no cover - console script entry
    app()
