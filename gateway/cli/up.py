"""`dongne up` (the whole local network) and `dongne reindex`."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import typer
from rich.table import Table

from chain.manifest import Manifest
from chain.protocol.errors import DongneChainError
from gateway.banksim.server import BankSimulator
from gateway.cli.common import (
    DataDir,
    JsonOut,
    ManifestPath,
    RpcUrl,
    console,
    emit,
    err,
    fail,
    run_action,
)


def up(
    data_dir: DataDir = Path(".dongne"),
    node: Annotated[str, typer.Option(help="Local node: anvil or ganache.")] = "anvil",
    rpc: Annotated[str | None, typer.Option(help="Use an existing network instead.")] = None,
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8000,
    rpc_port: Annotated[int, typer.Option(help="Local node's JSON-RPC port.")] = 8545,
    demo: Annotated[
        bool, typer.Option(help="Seed five cities (own rules), shops, citizens.")
    ] = False,
    block_time: Annotated[float, typer.Option(help="Seconds between blocks.")] = 1.0,
    upgrade_delay: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Seconds a token upgrade waits in the timelock (60 locally, 2 days with"
            " --rpc); applies when the timelock is first deployed.",
        ),
    ] = None,
    bank_port: Annotated[
        int, typer.Option(help="The local BANK SIMULATOR's port (0: any free port).")
    ] = 0,
    as_json: JsonOut = False,
    detach_after: Annotated[
        float | None, typer.Option(hidden=True, help="Stop after N seconds (tests).")
    ] = None,
) -> None:
    """Start a node, deploy the network if needed, run the gateway and indexer.

    Example: dongne up --demo   (Ctrl-C stops everything; state persists in --data-dir)
    """
    from chain.deploy import (
        LOCAL_RECOVERY_DELAY,
        LOCAL_UPGRADE_DELAY,
        NETWORK_RECOVERY_DELAY,
        Governance,
    )
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
    bank: BankSimulator | None = None
    try:
        specs = DEMO_MUNICIPALITIES if demo else (SIHEUNG,)
        if upgrade_delay is None:
            upgrade_delay = LOCAL_UPGRADE_DELAY if rpc is None else 2 * 86_400
        manifest, operator = deploy_local(
            rpc_url, operator_key, data_dir / "manifest.json", specs, progress=say,
            governance=Governance(
                upgrade_delay,
                recovery_delay_s=LOCAL_RECOVERY_DELAY if rpc is None else NETWORK_RECOVERY_DELAY,
            ),
        )  # fmt: skip
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
        demo_secret: str | None = None
        if wallets and rpc is None:
            # The portal's sign-in page offers these on loopback only, to whoever opens the
            # printed URL with this run's secret (gateway.http.portal). Never on a shared
            # network (--rpc): its keys are not the public's.
            demo_secret = secrets.token_urlsafe(32)
            demo_keys = _portal_demo_keys(data_dir, wallets, operator_key)
            env["DONGNE_PORTAL_DEMO_KEYS"] = str(demo_keys.resolve())
            env["DONGNE_PORTAL_DEMO_SECRET"] = demo_secret
        if rpc is None:
            # In-app sales on the local network only: a BANK SIMULATOR in this process, and
            # the operator's key (it holds ISSUER_ROLE here) as every city's sales agent.
            bank = _start_bank_simulator(env, bank_port, port, operator_key)
            # The simulator's API needs its secret: a developer (or a test) playing the
            # resident's bank transfer reads it here, owner-only (docs/bank-sim.md).
            _write_private(data_dir / "bank-sim.json", {"url": bank.url, "secret": bank.secret})
        gateway = GatewayProcess(env, port=port, log_path=data_dir / "gateway.log").start()
        portal_url = gateway.url + "/portal"
        if demo_secret is not None:
            portal_url += "?" + urlencode({"demo": demo_secret})
        summary = {
            "rpc_url": rpc_url,
            "gateway": gateway.url,
            "docs": gateway.url + "/docs",
            "portal": portal_url,
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
            "bank_simulator": bank.url if bank is not None else None,
            "bank_simulator_credentials": (
                str(data_dir / "bank-sim.json") if bank is not None else None
            ),
        }

        def render() -> None:
            table = Table(title="Dongne is up", show_header=False)
            table.add_row("JSON-RPC", rpc_url)
            table.add_row("gateway", gateway.url if gateway else "")
            table.add_row("portal", summary["portal"])  # type: ignore[arg-type]
            table.add_row("API docs", summary["docs"])  # type: ignore[arg-type]
            table.add_row("chain id", str(manifest.chain_id))
            table.add_row("forwarder", manifest.forwarder)
            for m in sorted(manifest.municipalities.values(), key=lambda m: m.region):
                table.add_row(f"{m.region:05d} {m.name}", m.token)
            if wallets:
                table.add_row("demo wallets", f"{len(wallets)} in {summary['demo_keys']}")
            if bank is not None:
                table.add_row("bank SIMULATOR (not a bank)", bank.url)
            console.print(table)
            console.print("Ctrl-C stops everything; run again to resume with the same state.")

        emit(summary, as_json, render)
        sys.stdout.flush()
        _wait_for_interrupt(detach_after)
    finally:
        if gateway is not None:
            gateway.stop()
        if bank is not None:
            bank.stop()
        if local is not None:
            local.stop()
        say("stopped")


def _portal_demo_keys(data_dir: Path, wallets: Sequence[object], staff_key: str | None) -> Path:
    """The demo wallets the portal's sign-in page offers, with the local operator (who holds
    every municipal role on the demo network) as the city's staff."""
    from dataclasses import asdict, is_dataclass

    from eth_account import Account

    entries = [asdict(w) for w in wallets if is_dataclass(w) and not isinstance(w, type)]
    if staff_key is not None:
        address = Account.from_key(staff_key).address
        entries.insert(0, {"role": "staff", "name": "City staff (every role)", "region": None,
                           "address": address, "private_key": staff_key})  # fmt: skip
    return _write_private(data_dir / "portal-demo-keys.json", entries)


def _write_private(path: Path, content: object) -> Path:
    """Writes ``content`` as JSON, owner-only from the first byte (no window where others may
    read the secrets in it)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(content, indent=2) + "\n")
    return path


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
    engine = run_action(lambda: create_engine_for(database_url))
    with RpcClient(rpc) as client:
        indexer = Indexer(engine, client, manifest)
        if as_json:
            report = run_action(indexer.reindex)
        else:
            with rich_progress() as show:
                report = run_action(lambda: indexer.reindex(show))
    data = {"to_block": report.to_block, "events": report.events, "seconds": report.seconds}
    text = f"reindexed {report.events} events up to block {report.to_block}"
    emit(data, as_json, lambda: console.print(text))


def _start_bank_simulator(
    env: dict[str, str], bank_port: int, gateway_port: int, sales_agent_key: str
) -> BankSimulator:
    """Starts the BANK SIMULATOR on a thread and points the gateway's settings at it."""
    secret = secrets.token_urlsafe(32)
    webhook = f"http://127.0.0.1:{gateway_port}/v1/purchase/webhooks/banksim"
    bank = BankSimulator("127.0.0.1", bank_port, secret, webhook)
    bank.start_thread()
    env["DONGNE_PAYMENT_PROVIDER_URL"] = bank.url
    env["DONGNE_PAYMENT_PROVIDER_SECRET"] = secret
    env["DONGNE_SALES_AGENT_KEY"] = sales_agent_key
    env.setdefault("DONGNE_SALE_DEFAULT_DISCOUNT_BPS", "1000")  # the demo cities' 10% off
    return bank
