"""Staff tools over HTTP on a real network: the call-builder of every staff operation answers
the exact call for the staff wallet to sign (the wallet sends it itself), only for the role the
contract checks; the sent transaction is recorded in the staff log from the chain, once; and
the read routes (rules history, reward programs, institution limits) show the effects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from eth_account import Account

from chain.operator import Operator
from chain.protocol.calls import encode_issue
from chain.protocol.staff import OPERATIONS, operation
from chain.rpc import RpcClient
from chain.sender import TransactionFailed
from chain.staff import read_state
from gateway.http.access import staff_path
from tests.fixtures.signin import sign_in

from .conftest import World, until

ADMIN_ROLES = ("MERCHANT_REGISTRAR_ROLE", "PAUSER_ROLE", "PROGRAM_MANAGER_ROLE")


@dataclass
class Staff:
    world: World
    http: httpx.Client
    wallet: Operator  # the admin's own key, sending what the gateway built
    shop: str
    institution: str

    @property
    def token(self) -> str:
        return self.world.siheung

    def build(self, name: str, **values: object) -> dict[str, object]:
        path = staff_path(operation(name)).replace("{token}", self.token)
        answer = self.http.post(path, json={"values": values})
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body

    def run(self, name: str, **values: object) -> dict[str, object]:
        """Builds, signs with the admin's own key, sends, and records the transaction."""
        call = self.build(name, **values)
        data = bytes.fromhex(str(call["data"])[2:])
        receipt = self.wallet.send(str(call["to"]), data, str(call["function"]))
        recorded = self.http.post(f"/v1/tokens/{self.token}/staff-actions",
                                  json={"tx_hash": receipt["transactionHash"]})  # fmt: skip
        assert recorded.status_code == 200, recorded.text
        body: dict[str, object] = recorded.json()
        return body

    def state(self, name: str, **values: object) -> object:
        with RpcClient(self.world.net.rpc_url) as rpc:
            return read_state(rpc, self.token, operation(name), values)


@pytest.fixture(scope="module")
def staff(world: World) -> Iterator[Staff]:
    op, admin = world.net.operator, world.accounts["admin"]
    shop, institution = Account.create().address, Account.create().address
    op.register(world.net.manifest.registry, [shop], "merchant")
    op.register(world.net.manifest.registry, [institution], "institution")
    op.register_merchant(world.siheung, shop, 41390, 56111, 0, False)
    op.grant_roles(world.siheung, admin.address, ADMIN_ROLES)
    # Its own session: the package's other suites sign the fixture's admin out.
    http = world.client("anonymous")
    http.headers.update(sign_in(http, bytes(admin.key)))

    def indexed() -> bool:
        held = http.get("/v1/me").json()["roles"].get(world.siheung, [])
        return all(r in held for r in ADMIN_ROLES)

    until(indexed, "the admin's new roles")
    wallet = Operator(RpcClient(world.net.rpc_url), admin, world.net.manifest.chain_id)
    yield Staff(world, http, wallet, shop, institution)
    # Leave the package's world as found: its other suites pay in Siheung, and the access
    # matrix expects the admin to hold only its own roles.
    wallet.set_paused(world.siheung, False)
    for role in ADMIN_ROLES:
        wallet.staff(world.siheung, "role-revoke", role=role, account=admin.address)
    until(lambda: not any(r in http.get("/v1/me").json()["roles"].get(world.siheung, [])
                          for r in ADMIN_ROLES), "the admin's extra roles revoked")  # fmt: skip


def test_every_operation_has_a_route_and_the_table_is_public(world: World) -> None:
    listed = world.client("anonymous").get("/v1/staff/operations")
    assert listed.status_code == 200
    names = {row["name"]: row for row in listed.json()}
    assert set(names) == {op.name for op in OPERATIONS}
    assert names["merchant-ban"]["role"] == "MERCHANT_REGISTRAR_ROLE"
    assert names["freeze"]["path"] == "/v1/registry/staff/freeze"


def test_merchant_lifecycle_built_signed_and_logged(staff: Staff) -> None:
    suspended = staff.run("merchant-suspend", merchant=staff.shop)
    assert staff.state("merchant-suspend", merchant=staff.shop)["status"] == 2  # type: ignore[index]
    assert suspended["actor"] == staff.wallet.address.lower()
    assert suspended["role"] == "MERCHANT_REGISTRAR_ROLE"
    assert (suspended["before"]["status"], suspended["after"]["status"]) == (1, 2)  # type: ignore[index]

    staff.run("merchant-reactivate", merchant=staff.shop)
    tiered = staff.run("merchant-tier", merchant=staff.shop, tier=2)  # category kept
    merchant = staff.state("merchant-tier", merchant=staff.shop)
    assert (merchant["status"], merchant["tier"], merchant["category"]) == (1, 2, 56111)  # type: ignore[index]
    assert tiered["args"] == [staff.shop.lower(), 56111, 2]


def test_ban_bars_re_registration_for_a_year(staff: Staff) -> None:
    banned = Account.create().address
    op = staff.world.net.operator
    op.register(staff.world.net.manifest.registry, [banned], "merchant")
    op.register_merchant(staff.token, banned, 41390, 56111, 0, False)
    call = staff.build("merchant-ban", merchant=banned)
    assert "barred 365 days" in str(call["summary"])
    staff.run("merchant-ban", merchant=banned)
    state = staff.state("merchant-ban", merchant=banned)
    assert state["status"] == 3  # type: ignore[index]
    year = state["bannedUntil"] - op.chain_time()  # type: ignore[index]
    assert 364 * 86_400 < year <= 365 * 86_400
    with pytest.raises(TransactionFailed) as refused:
        op.register_merchant(staff.token, banned, 41390, 56111, 0, False)
    assert refused.value.revert is not None
    assert refused.value.revert.name == "VoucherMerchantBanned"


def test_city_wide_switches_and_limits(staff: Staff) -> None:
    staff.run("pause")
    assert staff.state("pause") is True
    staff.run("unpause")
    assert staff.state("unpause") is False
    staff.run("institution-limits", institution=staff.institution, per_payment=300_000,
              per_month=2_000_000)  # fmt: skip
    limits = staff.http.get(f"/v1/tokens/{staff.token}/institutions/{staff.institution}/limits")
    assert limits.status_code == 200, limits.text
    assert (limits.json()["per_payment"], limits.json()["per_month"]) == (300_000, 2_000_000)
    staff.run("exclusion", category=47111, excluded=True)
    assert staff.state("exclusion", category=47111) is True


def test_rules_proposed_then_cancelled_show_in_the_history(staff: Staff) -> None:
    current = staff.http.get(f"/v1/tokens/{staff.token}/rules").json()["current"]["rules"]
    staff.run("rules-propose", rules={**current, "monthly_purchase_cap": 500_000})
    pending = staff.state("rules-cancel")
    assert pending["rules"]["monthlyPurchaseCap"] == 500_000  # type: ignore[index]
    staff.run("rules-cancel")
    assert staff.state("rules-cancel")["effectiveAt"] == 0  # type: ignore[index]

    def history() -> list[str]:
        changes = staff.world.client("anonymous").get(f"/v1/tokens/{staff.token}/rules/history")
        return [c["action"] for c in changes.json()]

    until(lambda: history()[:2] == ["cancelled", "proposed"], "the rule changes indexed")


def test_reward_programs_are_listed_apart(staff: Staff) -> None:
    staff.run("reward-create", budget=1_000_000, daily_cap=1_000)

    def rewards() -> list[dict[str, object]]:
        found = staff.http.get(f"/v1/tokens/{staff.token}/programs", params={"kind": "reward"})
        assert found.status_code == 200, found.text
        listed: list[dict[str, object]] = found.json()
        return listed

    until(lambda: any(p["daily_cap"] == 1_000 for p in rewards()), "the reward program indexed")
    assert all(p["kind"] == "reward" for p in rewards())


def test_only_the_contracts_role_gets_the_call(staff: Staff) -> None:
    world = staff.world
    path = staff_path(operation("merchant-suspend")).replace("{token}", staff.token)
    body = {"values": {"merchant": staff.shop}}
    anonymous = world.client("anonymous").post(path, json=body)
    assert anonymous.status_code == 401
    for who in ("citizen", "auditor", "program_manager"):
        # Fresh sessions: the fixture's may have expired on a slow machine.
        client = world.client("anonymous")
        client.headers.update(sign_in(client, bytes(world.accounts[who].key)))
        refused = client.post(path, json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "RoleRequired"
        assert refused.json()["args"]["role"] == "MERCHANT_REGISTRAR_ROLE"
    # Freezing is the registry's KYC registrars', which a city admin is not.
    freeze = staff.http.post("/v1/registry/staff/freeze", json={"values": {"account": staff.shop}})
    assert (freeze.status_code, freeze.json()["code"]) == (403, "RoleRequired")
    bad = staff.http.post(path, json={"values": {"merchant": "0x12"}})
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidRequest")
    # The role is right but the contract would refuse it now: named before anyone signs.
    early = staff.http.post(staff_path(operation("rules-activate")).replace("{token}", staff.token),
                            json={"values": {}})  # fmt: skip
    assert (early.status_code, early.json()["code"]) == (422, "VoucherNoPendingRules")


def test_staff_actions_are_verified_on_chain_and_recorded_once(staff: Staff) -> None:
    built = staff.build("merchant-suspend", merchant=staff.shop)
    data = bytes.fromhex(str(built["data"])[2:])
    receipt = staff.wallet.send(str(built["to"]), data, "setMerchantStatus")
    tx = {"tx_hash": receipt["transactionHash"]}
    first = staff.http.post(f"/v1/tokens/{staff.token}/staff-actions", json=tx).json()
    again = staff.http.post(f"/v1/tokens/{staff.token}/staff-actions", json=tx).json()
    assert (first["new"], again["new"], again["seq"]) == (True, False, first["seq"])
    staff.run("merchant-reactivate", merchant=staff.shop)

    # A transaction that is not a staff operation (a sale) is refused, named.
    citizen = staff.world.accounts["citizen"].address
    sale = staff.world.net.operator.send(staff.token, encode_issue(citizen, 1_000, 900), "issue")
    refused = staff.http.post(f"/v1/tokens/{staff.token}/staff-actions",
                              json={"tx_hash": sale["transactionHash"]})  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (400, "StaffActionUnverified")

    log = staff.http.get(f"/v1/audit/{staff.token}/staff-log").json()
    actions = [(e["action"], e["actor"]) for e in log]
    admin = staff.wallet.address.lower()
    assert ("prepare merchant-suspend", admin) in actions
    assert ("merchant-suspend", admin) in actions
    assert staff.http.get(f"/v1/audit/{staff.token}/staff-log/verify").json()["ok"]
