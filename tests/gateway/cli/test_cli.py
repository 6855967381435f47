"""The `dongne` CLI as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chain.protocol.merkle import Leaf, MerkleTree
from gateway.devnet.process import free_port

DONGNE = [sys.executable, "-m", "gateway.cli"]
COMMANDS = [
    ["up"],
    ["reindex"],
    ["indexer"],
    ["gateway"],
    ["login"],
    ["logout"],
    ["whoami"],
    ["api-key", "create"],
    ["api-key", "list"],
    ["api-key", "revoke"],
    ["city", "roles"],
    ["city", "grant-role"],
    ["city", "revoke-role"],
    ["city", "deploy"],
    ["city", "register"],
    ["city", "merchant"],
    ["city", "sell"],
    ["city", "rules"],
    ["program", "create"],
    ["program", "push"],
    ["program", "close"],
    ["program", "tree"],
    ["audit", "verify-code"],
    ["audit", "reconcile"],
    ["audit", "ledger"],
    ["audit", "distribution"],
    ["audit", "fraud"],
    ["audit", "settlement"],
    ["audit", "funders"],
    ["audit", "verify-log"],
    ["audit", "upgrades"],
    ["audit", "anchor-log"],
    ["merchant", "apply"],
    ["merchant", "applications"],
    ["merchant", "approve"],
    ["merchant", "reject"],
    ["merchant", "profile"],
    ["merchant", "directory"],
    ["import", "residents"],
    ["import", "merchants"],
    ["bank-sim"],
]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DONGNE, *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout
    if command == ["bank-sim"]:  # nobody may mistake it for a bank
        assert "SIMULATOR" in result.stdout


def test_bad_input_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    result = run(
        "city",
        "sell",
        "0x" + "12" * 20,
        "--region",
        "41390",
        "--face",
        "100",
        "--paid",
        "200",
        "--manifest",
        str(tmp_path / "none.json"),
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "--paid" in lines[0]
    result = run("city", "register", "not-an-address", "--kind", "citizen")
    assert result.returncode != 0
    assert "not an address" in result.stderr


def test_version_and_exit_codes_are_documented() -> None:
    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("dongne ")
    assert "4 rejected by a rule" in " ".join(run("--help").stdout.split())


def test_no_command_shows_a_traceback_and_json_errors_carry_the_exit_code(tmp_path: Path) -> None:
    """Every command, given nothing it needs (no manifest, no node, no gateway) or a flag it
    does not know, ends with one JSON line on stderr whose exit code says why."""
    env = {
        "DONGNE_GATEWAY_URL": "http://127.0.0.1:1",
        "DONGNE_RPC_URL": "http://127.0.0.1:1",
        "DONGNE_MANIFEST_PATH": str(tmp_path / "none.json"),
        "DONGNE_CONFIG_DIR": str(tmp_path / "config"),
        "DONGNE_KEY": "0x" + "11" * 32,
    }
    address = "0x" + "12" * 20
    cases = [[*c, "--json"] for c in COMMANDS if c != ["up"]]
    cases += [[*c, "--json", "--no-such-flag"] for c in COMMANDS]
    cases += [
        ["audit", "fraud", "--region", "41390", "--since", "2026-01-01", "--until",
         "2026-02-01", "--json"],
        ["city", "sell", address, "--region", "41390", "--face", "100", "--paid", "90",
         "--json"],
        ["program", "tree", "--csv", str(tmp_path), "--json"],
    ]  # fmt: skip
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda args: (args, run(*args, env=env)), cases))
    for args, result in results:
        assert "Traceback" not in result.stderr, (args, result.stderr)
        if result.returncode == 0:  # e.g. logout with no session: nothing to say
            continue
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, (args, result.stderr)
        error = json.loads(lines[0])["error"]
        assert error["exit_code"] == result.returncode, (args, error)
        assert error["detail"], args
        if "--no-such-flag" in args:
            assert (result.returncode, error["code"]) == (2, "UsageError"), (args, error)
    by_command = {" ".join(a[:2]): r.returncode for a, r in results[-3:]}
    assert by_command == {"audit fraud": 3, "city sell": 2, "program tree": 2}


def test_up_demo_starts_everything_and_resumes_with_its_state(tmp_path: Path) -> None:
    data = tmp_path / "dongne"
    args = ["up", "--demo", "--data-dir", str(data), "--json", "--detach-after", "2"]
    ports = ["--port", str(free_port()), "--rpc-port", str(free_port())]
    first = run(*args, *ports)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert set(summary["municipalities"]) == {"0", "26000", "28000", "41130", "41390"}
    assert summary["demo_wallets"] == 44
    assert summary["bank_simulator"].startswith("http://127.0.0.1:")  # in-app sales' SIMULATOR
    # Its secret, owner-only, so that a developer can play the resident's transfer (the
    # scenarios found that nobody could: it was random and never shown).
    credentials = Path(summary["bank_simulator_credentials"])
    assert credentials.stat().st_mode & 0o777 == 0o600
    bank = json.loads(credentials.read_text())
    assert bank["url"] == summary["bank_simulator"]
    assert len(bank["secret"]) >= 16
    # The portal's URL carries this run's demo secret, which the demo wallets require.
    portal, _, secret = summary["portal"].partition("?demo=")
    assert portal == summary["gateway"] + "/portal"
    assert len(secret) >= 40
    # The portal's demo wallets: the 44, and the local operator as the city's staff.
    assert (data / "portal-demo-keys.json").stat().st_mode & 0o777 == 0o600
    offered = json.loads((data / "portal-demo-keys.json").read_text())
    assert [w["role"] for w in offered].count("staff") == 1
    assert len(offered) == 45
    assert "deployed VoucherFactory" in first.stderr
    second = run(*args, *ports)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["municipalities"] == summary["municipalities"]
    assert json.loads(second.stdout)["portal"] != summary["portal"]  # a new secret every run
    assert "VoucherFactory already at" in second.stderr
    assert "deployed" not in second.stderr


def test_up_demo_on_a_shared_network_writes_and_serves_no_demo_keys(tmp_path: Path) -> None:
    """`--demo --rpc URL`: the network is seeded, but its keys are not offered to browsers."""
    from chain.node import LocalNode

    with LocalNode("anvil", port=free_port()) as node:
        accounts = node.dev_accounts()
        env = {
            "DONGNE_DEPLOYER_KEY": accounts[0].private_key,
            "DONGNE_RELAYER_KEYS": json.dumps([accounts[1].private_key]),
        }
        data = tmp_path / "shared"
        result = run(
            "up", "--demo", "--rpc", node.rpc_url, "--data-dir", str(data), "--json",
            "--port", str(free_port()), "--detach-after", "1", env=env,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["demo_wallets"] == 44
    assert summary["portal"] == summary["gateway"] + "/portal"  # no secret: nothing to open
    assert summary["bank_simulator"] is None  # a shared network gets no simulated bank
    assert summary["bank_simulator_credentials"] is None
    assert not (data / "portal-demo-keys.json").exists()


def test_program_create_then_resume_the_push_by_job(tmp_path: Path) -> None:
    """`program create --no-push` commits and records a job; `program push --job` pushes it
    through the same resumable pipeline as the gateway, and a second push pays nobody twice."""
    from gateway.devnet.localnet import SIHEUNG, start_local_network

    net = start_local_network(tmp_path / "net", (SIHEUNG,))
    try:
        recipients = [("0x" + os.urandom(20).hex(), 1_000 + i) for i in range(25)]
        csv = tmp_path / "list.csv"
        csv.write_text("address,amount\n" + "".join(f"{a},{n}\n" for a, n in recipients))
        common = ["--rpc", net.rpc_url, "--manifest", str(net.manifest_path), "--json"]
        env = {"DONGNE_DEPLOYER_KEY": "0x" + bytes(net.operator.account.key).hex()}
        region = ["--region", str(SIHEUNG.region)]
        created = run("program", "create", *region, "--csv", str(csv), "--no-push",
                      "--batch", "10", *common, env=env)  # fmt: skip
        assert created.returncode == 0, created.stderr
        job = json.loads(created.stdout)
        assert (job["recipients"], job["pushed"]) == (25, 0)
        assert Path(job["tree_file"]).is_file()
        assert (tmp_path / "net" / "gateway.db").is_file()  # beside the manifest by default

        pushed = run("program", "push", "--job", job["job"], *common, env=env)
        assert pushed.returncode == 0, pushed.stderr
        first = json.loads(pushed.stdout)
        assert (first["status"], first["pushed"], first["transactions"]) == ("done", 25, 3)

        again = run("program", "push", "--job", job["job"], *common, env=env)
        assert again.returncode == 0, again.stderr
        second = json.loads(again.stdout)
        assert (second["pushed"], second["transactions"]) == (25, 3)  # nothing sent twice

        unknown = run("program", "push", "--job", "nope", *common, env=env)
        assert unknown.returncode == 1
        assert "NotFound" in unknown.stderr
        assert "Traceback" not in unknown.stderr

        # The tree rebuilt offline is the committed one, and its proofs verify.
        tree = run("program", "tree", "--csv", str(csv), "--address", recipients[3][0], "--json")
        assert tree.returncode == 0, tree.stderr
        rebuilt = json.loads(tree.stdout)
        assert rebuilt["root"] == job["root"]
        [leaf] = rebuilt["leaves"]
        assert (leaf["index"], int(leaf["amount"])) == (3, recipients[3][1])
        proof = [bytes.fromhex(node[2:]) for node in leaf["proof"]]
        entry = Leaf(3, leaf["recipient"], recipients[3][1])
        assert MerkleTree.verify(entry, proof, bytes.fromhex(rebuilt["root"][2:]))

        # A rule's refusal exits 4 with the custom error: selling to an unregistered wallet.
        stranger = "0x" + os.urandom(20).hex()
        sold = run("city", "sell", stranger, *region, "--face", "1000", "--paid", "900",
                   *common, env=env)  # fmt: skip
        assert sold.returncode == 4, sold.stderr
        assert json.loads(sold.stderr)["error"]["code"].startswith(("Identity", "Voucher"))
    finally:
        if net.node is not None:
            net.node.stop()
