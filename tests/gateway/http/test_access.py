"""Who may call what, over real HTTP against a gateway process on anvil with on-chain roles.

Eight identities sign in with their own keys (SIWE) and call every route of the app; each
answer is checked against what its policy allows, with the exact problem code of a denial.
Then the bounds: a role revoked on chain stops working within seconds, API keys are scoped
and revocable, and a resident sees who read their data.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from eth_account import Account

from chain.operator import role_id
from chain.protocol.contracts import encode_function
from gateway.access.policies import Policy
from gateway.http.access import POLICIES, RouteAccess, served_routes
from gateway.http.app import create_app
from tests.fixtures.signin import sign_in

from .conftest import IDENTITIES, World, until


def _url(path: str, world: World, job_id: str) -> tuple[str, dict[str, str]]:
    a = world.accounts
    values = {
        "token": world.siheung, "address": a["citizen"].address, "recipient": a["citizen"].address,
        "merchant": a["merchant"].address, "program_id": "1", "index": "0", "job_id": job_id,
        "reference": "none", "request_id": "0x" + "00" * 32, "key_id": "0" * 16,
        "order_id": "po_" + "0" * 24, "provider": "banksim",
        "institution": a["citizen"].address,  # the matrix's person: the subject of SELF routes
    }  # fmt: skip
    if path.startswith("/v1/merchants/{address}/"):
        values["address"] = a["merchant"].address
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path, {"token": world.siheung}


def _expected(entry: RouteAccess, who: str, path: str) -> str | None:
    """The problem code ``who`` must get, or None where the policy lets them through."""
    policy: Policy = entry.policy
    if policy.kind in ("public", "signed"):
        return None
    if who == "anonymous":
        return "AuthRequired"
    holds = {
        "auditor": {"AUDITOR_ROLE"},
        "program_manager": {"PROGRAM_MANAGER_ROLE"},
        "admin": {"DEFAULT_ADMIN_ROLE", "AUDITOR_ROLE"},
    }.get(who, set())
    if policy.kind == "authenticated":
        return None
    if policy.kind == "role":
        return None if holds & set(policy.roles) else "RoleRequired"
    shop = path.startswith("/v1/merchants/") or entry.subject_from == "merchant"
    subject = "merchant" if shop else "citizen"
    if who == subject:
        return None
    if entry.token_from is None:  # no municipality named: no role reaches it, only the person
        return "Forbidden"
    readers = set(policy.roles) or ({"AUDITOR_ROLE"} if policy.kind == "self" else {
        "AUDITOR_ROLE", "DEFAULT_ADMIN_ROLE", "MERCHANT_REGISTRAR_ROLE"})  # fmt: skip
    return None if holds & readers else "Forbidden"


def test_every_route_of_the_app_has_exactly_one_policy() -> None:
    app = create_app()
    document = app.openapi()
    paths = document["paths"]
    # Every route served, documented or not (the docs pages are not in the document).
    routes = {(m, r.path) for r in served_routes(app.routes) for m in r.methods}
    assert {(m.upper(), p) for p, ops in paths.items() for m in ops} <= routes
    assert routes - set(POLICIES) == set(), "routes without a policy"
    assert set(POLICIES) - routes == set(), "policies of routes that do not exist"
    # The document says which credentials each route takes.
    assert set(document["components"]["securitySchemes"]) == {"signIn", "apiKey"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            entry = POLICIES[(method.upper(), path)]
            assert operation["x-dongne-policy"] == str(entry.policy)
            public = entry.policy.kind in ("public", "signed")
            assert (operation["security"] == []) == public, (method, path)


def test_the_authorization_matrix(world: World) -> None:
    manager = world.client("program_manager")
    made = manager.post("/v1/distributions", params={"token": world.siheung},
                        content=f"{world.accounts['citizen'].address},1000\n",
                        headers={"content-type": "text/csv"})  # fmt: skip
    assert made.status_code == 201, made.text
    job_id = made.json()["id"]
    checked, denied = 0, 0
    failures: list[str] = []
    for (method, template), entry in sorted(POLICIES.items()):
        if template in ("/v1/auth/logout",):  # would end the session the matrix uses
            continue
        path, params = _url(template, world, job_id)
        for who in IDENTITIES:
            with world.client(who) as client:
                response = client.request(method, path, params=params, json={})
            expected = _expected(entry, who, template)
            checked += 1
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(f"{who} {method} {template}: {response.status_code}")
            code = response.json().get("code") if response.headers.get(
                "content-type", "").startswith("application/problem+json") else None  # fmt: skip
            if expected is None:
                if response.status_code in (401, 403):
                    failures.append(f"{who} {method} {template}: {response.status_code} {code}")
            else:
                denied += 1
                if code != expected:
                    failures.append(f"{who} {method} {template}: {code}, expected {expected}")
    assert not failures, "\n".join(failures)
    assert checked >= 8 * 40
    print(f"authorization matrix: {checked} calls ({len(POLICIES)} routes x "
          f"{len(IDENTITIES)} identities), {denied} denials")  # fmt: skip


def test_a_revoked_role_stops_working_within_seconds(world: World) -> None:
    auditor = world.client("auditor")
    url = f"/v1/audit/{world.siheung}/access-log"
    assert auditor.get(url).status_code == 200
    revoke = encode_function("revokeRole", [role_id("AUDITOR_ROLE"),
                                            world.accounts["auditor"].address])  # fmt: skip
    world.net.operator.send(world.siheung, revoke, "revokeRole")
    waited = until(lambda: auditor.get(url).status_code == 403, "the revocation", timeout=10)
    assert waited <= 5.0, f"the revoked role still worked for {waited:.1f} s"
    assert auditor.get(url).json()["code"] == "RoleRequired"
    grant = encode_function("grantRole", [role_id("AUDITOR_ROLE"),
                                          world.accounts["auditor"].address])  # fmt: skip
    world.net.operator.send(world.siheung, grant, "grantRole")
    until(lambda: auditor.get(url).status_code == 200, "the grant")


def test_api_keys_are_scoped_and_revocable(world: World) -> None:
    admin = world.client("admin")
    made = admin.post(f"/v1/tokens/{world.siheung}/api-keys",
                      json={"name": "bank settlement", "roles": ["AUDITOR_ROLE"]})  # fmt: skip
    assert made.status_code == 201, made.text
    secret, key_id = made.json()["secret"], made.json()["key"]["id"]
    bank = httpx.Client(base_url=world.gateway.url, headers={"x-api-key": secret}, timeout=30)
    assert bank.get(f"/v1/audit/{world.siheung}/settlements").status_code == 200
    other_city = bank.get(f"/v1/audit/{world.seongnam}/settlements")
    assert (other_city.status_code, other_city.json()["code"]) == (403, "RoleRequired")
    too_much = admin.post(f"/v1/tokens/{world.siheung}/api-keys",
                          json={"name": "x", "roles": ["PAUSER_ROLE"]})  # fmt: skip
    assert too_much.json()["code"] == "Forbidden"
    assert admin.delete(f"/v1/tokens/{world.siheung}/api-keys/{key_id}").status_code == 204
    gone = bank.get(f"/v1/audit/{world.siheung}/settlements")
    assert (gone.status_code, gone.json()["code"]) == (401, "AuthInvalid")
    staff = admin.get(f"/v1/audit/{world.siheung}/staff-log").json()
    assert {"api_key.create", "api_key.revoke"} <= {entry["action"] for entry in staff}
    assert admin.get(f"/v1/audit/{world.siheung}/staff-log/verify").json()["ok"]


def test_the_settlement_bank_key_reads_bank_files_only(world: World) -> None:
    """A key-only scope: the city's admin gives it to its bank, which downloads the city's
    bank files (and confirms payment) and reads nothing else."""
    admin = world.client("admin")
    made = admin.post(f"/v1/tokens/{world.siheung}/api-keys",
                      json={"name": "settlement bank", "roles": ["SETTLEMENT_BANK"]})  # fmt: skip
    assert made.status_code == 201, made.text
    bank = httpx.Client(base_url=world.gateway.url,
                        headers={"x-api-key": made.json()["secret"]}, timeout=30)  # fmt: skip
    base = f"/v1/audit/{world.siheung}"
    missing = bank.get(f"{base}/settlements/STL-none/file")
    assert (missing.status_code, missing.json()["code"]) == (404, "NotFound")  # allowed in
    for denied in (f"{base}/settlements", f"{base}/funders", f"{base}/ledger"):
        response = bank.get(denied)
        assert (response.status_code, response.json()["code"]) == (403, "RoleRequired"), denied
    elsewhere = bank.get(f"/v1/audit/{world.seongnam}/settlements/STL-none/file")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (403, "RoleRequired")


def test_tampered_and_signed_out_tokens_are_refused(world: World) -> None:
    fresh = sign_in(httpx.Client(base_url=world.gateway.url), bytes(world.accounts["citizen"].key))
    me = httpx.Client(base_url=world.gateway.url, headers=fresh, timeout=30)
    assert me.get("/v1/me").json()["address"] == world.accounts["citizen"].address.lower()
    token = fresh["authorization"].removeprefix("Bearer ")
    head, body, tail = token.split(".")
    forged = httpx.get(f"{world.gateway.url}/v1/me",
                       headers={"authorization": f"Bearer {head}.{body}A.{tail}"})  # fmt: skip
    assert (forged.status_code, forged.json()["code"]) == (401, "AuthInvalid")
    assert me.post("/v1/auth/logout").status_code == 204
    after = me.get("/v1/me")
    assert (after.status_code, after.json()["code"]) == (401, "AuthInvalid")


def test_a_resident_sees_who_read_their_data(world: World) -> None:
    citizen = world.accounts["citizen"].address
    auditor = world.client("auditor")
    read = auditor.get(f"/v1/wallets/{citizen}/history", params={"token": world.siheung})
    assert read.status_code == 200, read.text
    log = world.client("citizen").get("/v1/me/access-log").json()
    readers = {(entry["actor"], entry["role"]) for entry in log}
    assert (world.accounts["auditor"].address.lower(), "AUDITOR_ROLE") in readers
    own = world.client("citizen").get(f"/v1/wallets/{citizen}/balances")
    assert own.status_code == 200
    assert len(world.client("citizen").get("/v1/me/access-log").json()) == len(log)  # own: unlogged


def test_siwe_replay_and_wrong_chain_over_http(world: World, tmp_path: Path) -> None:
    del tmp_path
    from wallet_sdk.client.signin import siwe_message
    from wallet_sdk.keys import LocalKey

    http = httpx.Client(base_url=world.gateway.url, timeout=30)
    key = LocalKey.from_private_key("0x" + bytes(world.accounts["merchant"].key).hex())
    offer = http.get("/v1/auth/nonce").json()
    for chain_id, check in ((1, "chain_id"), (offer["chain_id"], None)):
        text = siwe_message(domain=offer["domain"], address=key.address, uri=offer["uri"],
                            chain_id=chain_id, nonce=offer["nonce"],
                            statement=offer["statement"])  # fmt: skip
        body = {"message": text, "signature": "0x" + key.sign_message(text).hex()}
        answer = http.post("/v1/auth/login", json=body)
        if check is not None:
            assert (answer.status_code, answer.json()["args"]["check"]) == (401, check)
        else:
            assert answer.status_code == 200, answer.text
            replay = http.post("/v1/auth/login", json=body)
            assert (replay.status_code, replay.json()["args"]["check"]) == (401, "nonce")


def test_staff_use_the_cli_with_their_own_key_and_session(world: World, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    def dongne(who: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DONGNE_CONFIG_DIR": str(tmp_path / "config"),
               "DONGNE_KEY": "0x" + bytes(world.accounts[who].key).hex()}  # fmt: skip
        env.pop("DONGNE_DEPLOYER_KEY", None)
        common = ["--gateway", world.gateway.url]
        return subprocess.run([sys.executable, "-m", "gateway.cli", *args, *common, "--json"],
                              capture_output=True, text=True, env=env, timeout=120)  # fmt: skip

    refused = dongne("auditor", "audit", "reconcile", "--region", "41390")
    assert refused.returncode != 0
    assert "AuthRequired" in refused.stderr
    assert "dongne login" in refused.stderr
    assert dongne("auditor", "login").returncode == 0
    store = tmp_path / "config" / "sessions.json"
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    me = json.loads(dongne("auditor", "whoami").stdout)
    assert me["roles"][world.siheung] == ["AUDITOR_ROLE"]
    report = dongne("auditor", "audit", "reconcile", "--region", "41390")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["ok"]
    log = dongne("auditor", "audit", "verify-log", "--region", "41390")
    assert log.returncode == 0, log.stderr
    assert json.loads(log.stdout)["ok"]
    assert dongne("auditor", "logout").returncode == 0
    again = dongne("auditor", "audit", "reconcile", "--region", "41390")
    assert again.returncode != 0
    assert "AuthRequired" in again.stderr

    # The city's admin grants a role with their own key; the index shows it.
    newcomer = Account.create().address
    # The grant is recorded in the staff log through the gateway (signed in with the same key).
    env_rpc = ["--rpc", world.net.rpc_url, "--manifest", str(world.net.manifest_path),
               "--gateway", world.gateway.url]  # fmt: skip
    granted = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "city", "grant-role", newcomer, "--region", "41390",
         "--role", "AUDITOR_ROLE", *env_rpc, "--json"],
        capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "DONGNE_DEPLOYER_KEY"},
             "DONGNE_KEY": "0x" + bytes(world.accounts["admin"].key).hex(),
             "DONGNE_CONFIG_DIR": str(tmp_path / "admin")},
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    logged = json.loads(granted.stdout)["staff_log"]
    assert (logged["actor"], logged["role"]) == (world.accounts["admin"].address.lower(),
                                                 "DEFAULT_ADMIN_ROLE")  # fmt: skip

    def listed() -> bool:
        holders = json.loads(dongne("admin", "city", "roles", "--region", "41390").stdout)
        return newcomer.lower() in holders.get("AUDITOR_ROLE", [])

    until(listed, "the new auditor in the role list")
    stranger = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "city", "grant-role", newcomer, "--region", "41390",
         "--role", "AUDITOR_ROLE", *env_rpc, "--json"],
        capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "DONGNE_DEPLOYER_KEY"},
             "DONGNE_KEY": "0x" + bytes(world.accounts["citizen"].key).hex(),
             "DONGNE_CONFIG_DIR": str(tmp_path / "citizen")},
    )  # fmt: skip
    assert stranger.returncode != 0
    assert "AccessControlUnauthorizedAccount" in stranger.stderr


def test_staff_writes_land_in_the_hash_chained_log(world: World) -> None:
    admin = world.client("admin")
    token = world.siheung
    before = admin.get(f"/v1/audit/{token}/thresholds").json()
    changed = admin.put(f"/v1/audit/{token}/thresholds", json={**before})
    assert changed.status_code == 200, changed.text
    merchant = world.accounts["merchant"].address
    family = [{"wallet": world.accounts["citizen"].address, "relation": "family"}]
    linked = admin.put(f"/v1/audit/{token}/merchants/{merchant}/links", json=family)
    assert linked.status_code == 200, linked.text
    log = admin.get(f"/v1/audit/{token}/staff-log").json()
    by_action = {entry["action"]: entry for entry in log}
    entry = by_action["fraud.links"]
    assert entry["actor"] == world.accounts["admin"].address.lower()
    assert "DEFAULT_ADMIN_ROLE" in str(entry["role"])
    assert entry["after"][0]["relation"] == "family"
    assert "fraud.thresholds" in by_action
    check = admin.get(f"/v1/audit/{token}/staff-log/verify").json()
    assert check["ok"]
    assert check["entries"] >= 2
