"""The application flow over real HTTP on anvil: a shop applies with its own wallet, the
registrar approves and sends the registration from their own wallet, the index sees it and
the shop appears in the public directory; rejections; who may read a profile."""

from __future__ import annotations

import dataclasses
import json

from chain.operator import Operator
from chain.rpc import RpcClient
from tests.gateway.http.conftest import until
from tests.gateway.registry.conftest import RegistryWorld
from tests.gateway.registry.profiles import PRIVATE_FIELDS, PRIVATE_VALUES, business_number, shop


def application(**changes: object) -> dict[str, object]:
    return dataclasses.asdict(shop(**changes))


def send_as(world: RegistryWorld, who: str, call: dict[str, str]) -> None:
    """The registrar's wallet sends the call the gateway answered (as MetaMask would)."""
    account = world.accounts[who]
    sender = Operator(RpcClient(world.net.rpc_url), account, world.net.manifest.chain_id)
    sender.send(call["to"], bytes.fromhex(call["data"][2:]), call["function"])


def test_apply_approve_register_and_find_in_the_directory(world: RegistryWorld) -> None:
    token, wallet = world.siheung, world.accounts["shop"].address
    applications = f"/v1/tokens/{token}/merchant-applications"
    me = world.client("shop")

    made = me.post(applications, json=application(business_name="동네 빵집"))
    assert made.status_code == 201, made.text
    assert (made.json()["status"], made.json()["bank_account"]) == ("applied", "123456789012")
    again = me.post(applications, json=application())
    assert (again.status_code, again.json()["code"]) == (409, "MerchantApplicationExists")
    anonymous = world.client("anonymous").post(applications, json=application())
    assert anonymous.status_code == 401

    registrar = world.client("registrar")
    listed = registrar.get(applications).json()
    mine = next(item for item in listed["items"] if item["merchant"] == wallet)
    assert not set(PRIVATE_FIELDS[:-1]) & set(mine)  # the list shows no contact or bank
    assert me.get(applications).json()["code"] == "RoleRequired"

    approved = registrar.post(f"{applications}/{wallet}/approve", json={"tier": 1, "note": "ok"})
    assert approved.status_code == 200, approved.text
    call = approved.json()["call"]
    assert (call["function"], call["to"].lower()) == ("registerMerchant", token)
    assert approved.json()["profile"]["status"] == "approved"
    # Approving again (a lost answer) gives the same call and no second log entry.
    assert (
        registrar.post(f"{applications}/{wallet}/approve", json={"tier": 1, "note": "ok"}).json()[
            "call"
        ]
        == call
    )
    # Not on chain yet: the directory does not list it.
    directory = f"/v1/tokens/{token}/directory"
    assert world.client("anonymous").get(directory, params={"q": "빵집"}).json()["items"] == []

    send_as(world, "registrar", call)
    profile = f"/v1/tokens/{token}/merchants/{wallet}/profile"
    until(lambda: me.get(profile).json()["status"] == "registered", "the registration indexed")
    assert me.get(profile).json()["on_chain"] == "active"
    assert me.get(profile).json()["tier"] == 1

    found = world.client("anonymous").get(directory, params={"q": "빵집"})
    assert found.status_code == 200, found.text
    assert [e["merchant"] for e in found.json()["items"]] == [wallet]
    assert found.json()["items"][0]["status"] == "active"
    near = world.client("anonymous").get(directory, params={"near": "37.345,126.735"}).json()
    assert near["items"][0]["merchant"] == wallet
    assert near["items"][0]["distance_m"] < 100

    # The public answer: no private field, no private value, no review note.
    every = world.client("anonymous").get(directory, params={"limit": 100})
    for item in every.json()["items"]:
        assert not set(PRIVATE_FIELDS) & set(item)
    assert not any(json.dumps(value)[1:-1] in every.text for value in PRIVATE_VALUES)
    assert '"ok"' not in every.text


def test_who_may_read_a_profile_and_the_shop_sees_who_did(world: RegistryWorld) -> None:
    token, wallet = world.siheung, world.accounts["read_shop"].address
    body = application(business_number=business_number("577215664"))
    applied = world.client("read_shop").post(f"/v1/tokens/{token}/merchant-applications", json=body)
    assert applied.status_code == 201, applied.text
    assert (
        world.client("read_shop").get(f"/v1/tokens/{token}/merchants/{wallet}/profile").is_success
    )
    profile = f"/v1/tokens/{token}/merchants/{wallet}/profile"
    other = world.client("other_shop").get(profile)
    assert (other.status_code, other.json()["code"]) == (403, "Forbidden")
    assert world.client("citizen").get(profile).status_code == 403
    assert world.client("anonymous").get(profile).status_code == 401

    read = world.client("registrar").get(profile)
    assert (read.status_code, read.json()["bank_account"]) == (200, "123456789012")
    # The settlement bank: an API key of the city with the SETTLEMENT_BANK scope.
    made = world.client("admin").post(
        f"/v1/tokens/{token}/api-keys", json={"name": "bank", "roles": ["SETTLEMENT_BANK"]}
    )
    assert made.status_code == 201, made.text
    bank = {"x-api-key": made.json()["secret"]}
    by_bank = world.client("anonymous").get(profile, headers=bank)
    assert (by_bank.status_code, by_bank.json()["account_holder"]) == (200, "김동네")
    listing = world.client("anonymous").get(
        f"/v1/tokens/{token}/merchant-applications", headers=bank
    )
    assert listing.status_code == 403  # a bank reads accounts, not the review queue

    log = world.client("read_shop").get("/v1/me/access-log").json()
    readers = {entry["actor"] for entry in log}
    assert world.accounts["registrar"].address.lower() in readers
    assert f"apikey:{made.json()['key']['id']}" in readers
    assert wallet.lower() not in readers  # one's own read is not logged


def test_reject_then_apply_again(world: RegistryWorld) -> None:
    token, wallet = world.siheung, world.accounts["late_shop"].address
    applications = f"/v1/tokens/{token}/merchant-applications"
    me, registrar = world.client("late_shop"), world.client("registrar")
    number = business_number("220812345")
    assert me.post(applications, json=application(business_number=number)).status_code == 201
    refused = registrar.post(f"{applications}/{wallet}/reject", json={"note": "lease expired"})
    assert refused.status_code == 200, refused.text
    assert (refused.json()["status"], refused.json()["review_note"]) == (
        "rejected",
        "lease expired",
    )
    twice = registrar.post(f"{applications}/{wallet}/reject", json={"note": "again"})
    assert (twice.status_code, twice.json()["code"]) == (409, "MerchantApplicationState")
    approve = registrar.post(f"{applications}/{wallet}/approve", json={})
    assert approve.json()["code"] == "MerchantApplicationState"
    assert me.get(f"/v1/tokens/{token}/merchants/{wallet}/profile").json()["status"] == "rejected"
    again = me.post(applications, json=application(business_number=number))
    assert (again.status_code, again.json()["status"]) == (201, "applied")
    assert again.json()["review_note"] is None

    log = world.client("admin").get(f"/v1/audit/{token}/staff-log")
    actions = [entry["action"] for entry in log.json()]
    assert {"merchant.reject", "merchant.approve"} <= set(actions)


def test_bad_profiles_are_named_errors(world: RegistryWorld) -> None:
    applications = f"/v1/tokens/{world.siheung}/merchant-applications"
    me = world.client("citizen")  # anyone signed in may apply; the checks come first
    wrong_city = me.post(applications, json=application(legal_dong="4113010100"))
    assert wrong_city.status_code == 400
    assert (wrong_city.json()["code"], wrong_city.json()["args"]["field"]) == (
        "InvalidMerchantProfile",
        "legal_dong",
    )
    number = me.post(applications, json=application(business_number="123-45-67890"))
    assert (number.status_code, number.json()["code"]) == (400, "InvalidBusinessNumber")
    missing = world.client("citizen").get(
        f"/v1/tokens/{world.siheung}/merchants/{world.accounts['citizen'].address}/profile"
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "MerchantApplicationNotFound")
    bad_cursor = world.client("anonymous").get(
        f"/v1/tokens/{world.siheung}/directory", params={"cursor": "nope"}
    )
    assert (bad_cursor.status_code, bad_cursor.json()["args"]["field"]) == (400, "cursor")
    nul = world.client("anonymous").get(
        f"/v1/tokens/{world.siheung}/directory", params={"q": "a\x00b"}
    )
    assert (nul.status_code, nul.json()["code"]) == (400, "InvalidRequest")


def test_only_a_verified_merchant_wallet_is_approved(world: RegistryWorld) -> None:
    applications = f"/v1/tokens/{world.siheung}/merchant-applications"
    body = application(business_number=business_number("141421356"))
    # A citizen's wallet never becomes a merchant's: refused when it applies.
    citizen = world.client("citizen").post(applications, json=body)
    assert (citizen.status_code, citizen.json()["code"]) == (409, "MerchantNotVerified")
    # A wallet not registered yet may apply; approval waits for the KYC registrar, since
    # registerMerchant would revert with VoucherNotMerchant.
    wallet = world.accounts["unverified"].address
    assert world.client("unverified").post(applications, json=body).status_code == 201
    early = world.client("registrar").post(f"{applications}/{wallet}/approve", json={})
    assert (early.status_code, early.json()["code"]) == (409, "MerchantNotVerified")
    assert early.json()["args"]["merchant"] == wallet
