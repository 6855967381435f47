"""The staff commands on a real network with a real gateway: each command once, its effect read
back from the chain, its transaction in the staff log (verified by the gateway from the chain),
a stranger's key refused by the contract, and a rule's refusal printed with its code.

The table runs in-process (Typer's runner: one import of the stack for ~25 commands); the
refusals run as a user runs them, in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.main import get_command
from typer.testing import CliRunner

from chain.protocol.calls import funder_id
from chain.protocol.staff import operation, role_id
from chain.sender import TransactionFailed
from chain.staff import read_state
from gateway.cli import app
from gateway.cli.common import errors
from gateway.devnet.localnet import SIHEUNG, LocalNetwork, start_local_network
from gateway.devnet.process import GatewayProcess
from tests.fixtures.signin import sign_in

REGION = ["--region", str(SIHEUNG.region)]


@dataclass
class City:
    net: LocalNetwork
    gateway: GatewayProcess
    token: str
    shop: LocalAccount
    citizen: LocalAccount
    institution: LocalAccount
    env: dict[str, str]

    def common(self) -> list[str]:
        return ["--rpc", self.net.rpc_url, "--manifest", str(self.net.manifest_path)]

    def state(self, name: str, **values: object) -> object:
        target = self.net.manifest.registry if name in ("freeze", "unfreeze") else self.token
        return read_state(self.net.operator.rpc, target, operation(name), values)

    def call(self, function: str, *args: object) -> object:
        """A view that is no operation's own (``isInstitutionCategoryBlockedFor``...)."""
        from eth_abi.abi import decode

        from chain.protocol.contracts import encode_function, output_type

        raw = self.net.operator.rpc.eth_call(
            {"to": self.token, "data": "0x" + encode_function(function, list(args)).hex()}
        )
        return decode([output_type(function)], raw)[0]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    workdir = tmp_path_factory.mktemp("staff-cli")
    net = start_local_network(workdir / "net", (SIHEUNG,))
    op = net.operator
    token = net.manifest.token(SIHEUNG.region)
    shop, citizen, institution = Account.create(), Account.create(), Account.create()
    op.register(net.manifest.registry, [shop.address], "merchant")
    op.register(net.manifest.registry, [citizen.address], "citizen")
    op.register(net.manifest.registry, [institution.address], "institution")
    op.register_merchant(token, shop.address, SIHEUNG.region, 56111, 0, False)
    # Their own transactions (invoices, employees, a stranger's try) cost gas on anvil.
    op.send_many([(a.address, b"", 10**18) for a in (shop, citizen, institution)], "fund")
    env = net.gateway_env(f"sqlite:///{workdir / 'gateway.db'}", poll_interval_s="0.1")
    with GatewayProcess(env, log_path=workdir / "gateway.log") as gateway:
        cli_env = {
            "DONGNE_DEPLOYER_KEY": "0x" + bytes(op.account.key).hex(),
            "DONGNE_CONFIG_DIR": str(workdir / "config"),
            "DONGNE_GATEWAY_URL": gateway.url,
            "DONGNE_KEY": "",
        }
        try:
            yield City(net, gateway, token, shop, citizen, institution, cli_env)
        finally:
            net.stop()


def dongne(city: City, *args: str, key: LocalAccount | None = None, sends: bool = True) -> Any:
    """Runs a command in-process with ``--json``; its JSON output. Commands that ``sends``
    transactions get the node and the manifest; the reads only the gateway (from the env)."""
    env = {**city.env, "DONGNE_KEY": "0x" + bytes(key.key).hex() if key else ""}
    chain = city.common() if sends else []
    errors.as_json = True
    try:
        result = CliRunner().invoke(app, [*args, *chain, "--json"], env=env)
    finally:
        errors.as_json = False
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def _staff_table(city: City) -> list[tuple[list[str], Callable[[], bool]]]:
    shop, citizen, inst = city.shop.address, city.citizen.address, city.institution.address

    def merchant() -> dict[str, int]:
        found = city.state("merchant-tier", merchant=shop)
        assert isinstance(found, dict)
        return found

    def limits() -> dict[str, int]:
        found = city.state("institution-limits", institution=inst)
        assert isinstance(found, dict)
        return found

    def frozen() -> bool:
        found = city.state("freeze", account=citizen)
        assert isinstance(found, dict)
        return bool(found["frozen"])

    def pending_cap() -> int:
        found = city.state("rules-cancel")
        assert isinstance(found, dict)
        return int(found["rules"]["monthlyPurchaseCap"]) if found["effectiveAt"] else 0

    def pending_plan() -> list[tuple[str, int, int]]:
        found = city.state("funding-propose")
        assert isinstance(found, dict)
        shares = found["shares"] if found["effectiveAt"] else []
        return [(s["funder"], s["subsidyBps"], s["cashbackBps"]) for s in shares]

    return [
        (["merchant", "suspend", shop], lambda: merchant()["status"] == 2),
        (["merchant", "reactivate", shop], lambda: merchant()["status"] == 1),
        (["merchant", "tier", shop, "--tier", "1"],
         lambda: (merchant()["tier"], merchant()["category"]) == (1, 56111)),
        (["merchant", "platform", shop, "--platform", "--fee-bps", "100"],
         lambda: merchant()["platformFeeBps"] == 100),
        (["city", "pause"], lambda: city.state("pause") is True),
        (["city", "unpause"], lambda: city.state("pause") is False),
        (["city", "freeze", citizen], frozen),
        (["city", "unfreeze", citizen], lambda: not frozen()),
        (["city", "institution-limits", inst, "--per-payment", "300000", "--per-month", "2000000"],
         lambda: (limits()["perPayment"], limits()["perMonth"]) == (300_000, 2_000_000)),
        (["city", "institution-block", inst, "--category", "56211", "--blocked"],
         lambda: city.call("isInstitutionCategoryBlockedFor", inst, 56211) is True),
        (["city", "institution-category", "--category", "91291", "--blocked"],
         lambda: city.call("isInstitutionCategoryBlocked", 91291) is True),
        (["city", "exclusions", "--category", "47111", "--excluded"],
         lambda: city.call("isCategoryExcluded", 47111) is True),
        (["city", "exclusion-sync", "--merchants", shop], lambda: merchant()["status"] == 1),
        # A plan of two funders (the staff log's before/after read its shares, an array of
        # structs, field by field).
        (["city", "funding-propose", "--shares", "siheung:6000:10000", "--shares",
          "gyeonggi:4000:0"], lambda: pending_plan() == [
            ("0x" + funder_id("siheung").hex(), 6_000, 10_000),
            ("0x" + funder_id("gyeonggi").hex(), 4_000, 0)]),
        (["city", "funding-cancel"], lambda: pending_plan() == []),
        (["rules", "propose", "--set", "monthly_purchase_cap=500000"],
         lambda: pending_cap() == 500_000),
        (["rules", "cancel"], lambda: pending_cap() == 0),
        (["city", "grant-role", city.net.operator.address, "--role", "REWARDER_ROLE"],
         lambda: city.call("hasRole", role_id("REWARDER_ROLE"), city.net.operator.address)
         is True),
        (["reward", "create", "--budget", "1000000", "--daily-cap", "1000"],
         lambda: city.call("programCount") == 1),
        (["reward", "pay", "--program", "1", "--reward", f"walk-0301:{citizen}:500"],
         lambda: city.call("pocketOf", 1, citizen) == 500),
    ]  # fmt: skip


def test_every_staff_command_acts_on_chain_and_is_in_the_staff_log(city: City) -> None:
    done: list[str] = []
    for args, effect in _staff_table(city):
        out = dongne(city, *args, *REGION)
        assert effect(), (args, out)
        logged = out["staff_log"]
        assert isinstance(logged, dict)
        assert logged["actor"] == city.net.operator.address.lower(), args
        done.append(str(out["operation"]))

    # The staff log holds every one, attributed from the chain, and its hash chain verifies.
    auditor = httpx.Client(base_url=city.gateway.url, timeout=30)
    auditor.headers.update(sign_in(auditor, bytes(city.net.operator.account.key)))
    entries = auditor.get(f"/v1/audit/{city.token.lower()}/staff-log").json()
    registry = city.net.manifest.registry.lower()
    logged = [e["action"] for e in entries if len(e["request_id"] or "") == 64]  # tx hashes
    assert sorted(logged) == sorted(done)  # freezes too: filed under the city whose staff froze
    froze = next(e for e in entries if e["action"] == "freeze")
    assert (froze["before"]["frozen"], froze["after"]["state"]["frozen"]) == (False, True)
    assert froze["after"]["contract"] == registry
    assert auditor.get(f"/v1/audit/{city.token.lower()}/staff-log/verify").json()["ok"]

    # The reads over the gateway's index show what the table did.
    history = dongne(city, "rules", "history", *REGION, sends=False)
    assert [c["action"] for c in history][:2] == ["cancelled", "proposed"]
    rewards = dongne(city, "reward", "list", *REGION, sends=False)
    assert [(p["kind"], p["granted"]) for p in rewards] == [("reward", 500)]
    assert dongne(city, "program", "show", "--id", "1", *REGION, sends=False)["daily_cap"] == 1_000
    assert [p["program_id"] for p in dongne(city, "program", "list", *REGION, sends=False)] == [1]


def test_a_banned_merchant_cannot_register_again_within_the_year(city: City) -> None:
    banned = Account.create().address
    op = city.net.operator
    op.register(city.net.manifest.registry, [banned], "merchant")
    op.register_merchant(city.token, banned, SIHEUNG.region, 56111, 0, False)
    out = dongne(city, "merchant", "ban", banned, *REGION)
    state = city.state("merchant-ban", merchant=banned)
    assert isinstance(state, dict)
    assert state["status"] == 3
    assert 364 * 86_400 < state["bannedUntil"] - op.chain_time() <= 365 * 86_400
    assert out["function"] == "setMerchantStatus"
    with pytest.raises(TransactionFailed) as refused:
        op.register_merchant(city.token, banned, SIHEUNG.region, 56111, 0, False)
    assert refused.value.revert is not None
    assert refused.value.revert.name == "VoucherMerchantBanned"


def test_reads_invoices_and_employees(city: City) -> None:
    rules = dongne(city, "rules", "show", *REGION, sends=False)
    assert rules["current"]["rules"]["holdingCap"] == 1_500_000
    table = dongne(city, "staff", "operations", sends=False)
    assert {"merchant-ban", "freeze", "rules-propose"} <= {row["name"] for row in table}

    created = dongne(city, "invoice", "create", "--amount", "12000", *REGION, key=city.shop)
    invoice_id = str(created["invoice_id"])
    dongne(city, "invoice", "cancel", "--id", invoice_id, *REGION, key=city.shop)
    status = city.call("invoiceOf", city.shop.address, bytes.fromhex(invoice_id[2:]))
    assert status[2] == 3  # InvoiceStatus.Cancelled

    employee = Account.create().address
    city.net.operator.register(city.net.manifest.registry, [employee], "citizen")
    dongne(city, "city", "employee", employee, "--monthly-limit", "50000", *REGION,
           key=city.institution)  # fmt: skip
    found = city.call("employeeOf", employee)
    assert found[0].lower() == city.institution.address.lower()


def _subprocess(city: City, key: LocalAccount, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **city.env, "DONGNE_KEY": "0x" + bytes(key.key).hex()}
    env.pop("DONGNE_DEPLOYER_KEY")
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args, *city.common(), "--json"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip


def test_a_strangers_key_is_refused_by_the_contract_with_its_code(city: City) -> None:
    refused = _subprocess(city, city.citizen, "merchant", "suspend", city.shop.address, *REGION)
    assert refused.returncode == 4, refused.stderr
    error = json.loads(refused.stderr)["error"]
    assert error["code"] == "AccessControlUnauthorizedAccount"
    # A rule's refusal (nothing pending to activate) by the operator's own key.
    nothing = _subprocess(city, city.net.operator.account, "rules", "activate", *REGION)
    assert (nothing.returncode, json.loads(nothing.stderr)["error"]["code"]) == (
        4, "VoucherNoPendingRules")  # fmt: skip


def test_every_staff_command_has_help_with_an_example() -> None:
    root = get_command(app)
    groups = {"merchant": None, "rules": None, "invoice": None, "reward": None, "staff": None}
    checked = 0
    for name in (*groups, "city", "program"):
        group = root.commands[name]  # type: ignore[attr-defined]  # a click Group
        for command_name in group.commands:
            result = CliRunner().invoke(app, [name, command_name, "--help"])
            assert result.exit_code == 0, (name, command_name, result.stdout)
            assert "Example" in result.stdout, (name, command_name)
            checked += 1
    assert checked >= 40
