"""API keys, roles folded from the index, the policies, the staff log and the data-access log."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, insert, select, update

from gateway.access import api_keys, data_log, staff_log
from gateway.access.policies import (
    MERCHANT_SELF,
    OPERATOR,
    PUBLIC,
    SELF,
    Principal,
    auditor,
    authorize,
    role,
)
from gateway.access.roles import RoleBook, role_hash
from gateway.db.tables import access as a
from gateway.db.tables import index as t
from gateway.errors import GatewayError

CITY = "0x" + "c1" * 20
OTHER_CITY = "0x" + "c2" * 20
ADMIN = Principal(address="0x" + "ad" * 20, roles={CITY: frozenset({"DEFAULT_ADMIN_ROLE",
                                                                   "AUDITOR_ROLE"})})  # fmt: skip


def refused(action: object) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        action()  # type: ignore[operator]
    return caught.value


def test_api_keys_scope_expiry_revocation_and_uses(engine: Engine) -> None:
    created = api_keys.create(engine, creator=ADMIN, token=CITY, name="bank settlement",
                              roles=["AUDITOR_ROLE"], ttl_s=3600)  # fmt: skip
    assert created.secret.startswith("dk_")
    stored = engine.connect().execute(select(a.api_keys.c.secret_hash)).scalar()
    assert created.secret.split(".", 1)[1] not in str(stored)  # only its digest is kept
    who = api_keys.authenticate(engine, created.secret, what="GET /settlements", request_id="r1")
    assert who.roles == {CITY: frozenset({"AUDITOR_ROLE"})}
    assert authorize(auditor(), who, token=CITY) == "AUDITOR_ROLE"
    assert refused(lambda: authorize(auditor(), who, token=OTHER_CITY)).code == "RoleRequired"
    with engine.connect() as conn:
        assert conn.execute(select(a.api_key_uses.c.what)).scalars().all() == ["GET /settlements"]

    wrong = created.secret[:-2] + "xx"
    assert refused(
        lambda: api_keys.authenticate(engine, wrong, what="x", request_id=None)
    ).code == ("AuthInvalid")
    later = time.time() + 7200
    expired = refused(
        lambda: api_keys.authenticate(engine, created.secret, what="x", request_id=None, now=later)
    )
    assert expired.code == "AuthExpired"
    api_keys.revoke(engine, CITY, created.key.id)
    revoked = refused(lambda: api_keys.authenticate(engine, created.secret, what="x",
                                                    request_id=None))  # fmt: skip
    assert revoked.code == "AuthInvalid"
    assert [k.revoked_at is not None for k in api_keys.list_keys(engine, CITY)] == [True]


def test_api_keys_never_exceed_their_creator(engine: Engine) -> None:
    def make(creator: Principal, roles: list[str], token: str = CITY) -> object:
        return lambda: api_keys.create(engine, creator=creator, token=token, name="k",
                                       roles=roles, ttl_s=60)  # fmt: skip

    assert refused(make(ADMIN, ["PAUSER_ROLE"])).code == "Forbidden"
    assert refused(make(ADMIN, ["AUDITOR_ROLE"], OTHER_CITY)).code == "RoleRequired"
    auditor_only = Principal(address="0x" + "01" * 20, roles={CITY: frozenset({"AUDITOR_ROLE"})})
    assert refused(make(auditor_only, ["AUDITOR_ROLE"])).code == "RoleRequired"
    assert refused(make(ADMIN, ["NO_SUCH_ROLE"])).code == "InvalidRequest"


def test_roles_fold_grants_and_revocations_from_the_index(engine: Engine) -> None:
    account = "0x" + "ab" * 20

    def change(block: int, action: str, name: str, contract: str = CITY) -> None:
        row = {"chain_id": 1, "block_number": block, "block_hash": "0x" + "00" * 32,
               "tx_hash": "0x" + f"{block:064x}", "log_index": 0, "block_time": block,
               "contract": contract, "action": action, "role": role_hash(name),
               "account": account, "sender": None, "admin_role": None}  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(t.role_changes).values(row))

    change(1, "granted", "AUDITOR_ROLE")
    change(2, "granted", "PAUSER_ROLE")
    change(3, "granted", "AUDITOR_ROLE", OTHER_CITY)
    change(4, "revoked", "PAUSER_ROLE")
    book = RoleBook(engine, 1, ttl_s=0.2)
    assert book.roles_of(account) == {CITY: frozenset({"AUDITOR_ROLE"}),
                                      OTHER_CITY: frozenset({"AUDITOR_ROLE"})}  # fmt: skip
    change(5, "revoked", "AUDITOR_ROLE")
    assert book.holds(account, "AUDITOR_ROLE", CITY)  # cached for ttl_s
    time.sleep(0.25)
    assert not book.holds(account, "AUDITOR_ROLE", CITY)  # gone once the cache lapses
    assert book.holds(account.upper().replace("0X", "0x"), "AUDITOR_ROLE", OTHER_CITY)


def test_policies_allow_and_deny_with_precise_codes() -> None:
    me = "0x" + "aa" * 20
    anonymous = Principal()
    citizen = Principal(address=me)
    stranger = Principal(address="0x" + "bb" * 20)
    city_auditor = Principal(address="0x" + "cc" * 20, roles={CITY: frozenset({"AUDITOR_ROLE"})})
    registrar = Principal(address="0x" + "dd" * 20,
                          roles={CITY: frozenset({"MERCHANT_REGISTRAR_ROLE"})})  # fmt: skip
    assert authorize(PUBLIC, anonymous) is None
    assert refused(lambda: authorize(SELF, anonymous, token=CITY, subject=me)).code == (
        "AuthRequired"
    )
    assert authorize(SELF, citizen, token=CITY, subject=me.upper().replace("0X", "0x")) is None
    assert refused(lambda: authorize(SELF, stranger, token=CITY, subject=me)).code == "Forbidden"
    assert authorize(SELF, city_auditor, token=CITY, subject=me) == "AUDITOR_ROLE"
    assert refused(lambda: authorize(SELF, city_auditor, token=OTHER_CITY, subject=me)).code == (
        "Forbidden"
    )
    assert refused(lambda: authorize(SELF, registrar, token=CITY, subject=me)).code == "Forbidden"
    assert authorize(MERCHANT_SELF, registrar, token=CITY, subject=me) == (
        "MERCHANT_REGISTRAR_ROLE"
    )
    denied = refused(lambda: authorize(role("PROGRAM_MANAGER_ROLE"), citizen, token=CITY))
    assert (denied.code, denied.arguments) == (
        "RoleRequired", {"role": "PROGRAM_MANAGER_ROLE", "token": CITY},
    )  # fmt: skip
    assert refused(lambda: authorize(OPERATOR, city_auditor)).code == "RoleRequired"
    assert authorize(OPERATOR, Principal(address=me, operator=True)) == "OPERATOR"


def test_staff_log_detects_edits_deletions_and_reordering(engine: Engine) -> None:
    for i in range(5):
        staff_log.append(engine, actor=ADMIN.actor, role="DEFAULT_ADMIN_ROLE", token=CITY,
                         action="thresholds.set", before={"v": i}, after={"v": i + 1},
                         request_id=f"r{i}")  # fmt: skip
    check = staff_log.verify(engine)
    assert (check.ok, check.entries) == (True, 5)
    rows = staff_log.entries(engine)
    assert [r.seq for r in rows] == sorted((r.seq for r in rows), reverse=True)
    s = a.staff_log.c
    seqs = sorted(r.seq for r in rows)

    with engine.begin() as conn:  # an edit: after-value rewritten
        conn.execute(update(a.staff_log).where(s.seq == seqs[2]).values(after={"v": 99}))
    bad = staff_log.verify(engine)
    assert (bad.ok, bad.first_bad_seq, bad.problem) == (False, seqs[2], "edited")
    with engine.begin() as conn:
        conn.execute(update(a.staff_log).where(s.seq == seqs[2]).values(after={"v": 3}))
    assert staff_log.verify(engine).ok

    def swap(x: int, y: int) -> None:  # reordering: two entries trade places
        with engine.begin() as conn:
            conn.execute(update(a.staff_log).where(s.seq == x).values(seq=-1))
            conn.execute(update(a.staff_log).where(s.seq == y).values(seq=x))
            conn.execute(update(a.staff_log).where(s.seq == -1).values(seq=y))

    swap(seqs[0], seqs[1])
    assert staff_log.verify(engine).problem == "broken_link"
    swap(seqs[0], seqs[1])
    assert staff_log.verify(engine).ok
    with engine.begin() as conn:
        conn.execute(a.staff_log.delete().where(s.seq == seqs[3]))
    deleted = staff_log.verify(engine)
    assert (deleted.ok, deleted.first_bad_seq, deleted.problem) == (False, seqs[4], "broken_link")


def test_data_access_log_for_the_person_and_the_city(engine: Engine) -> None:
    me = "0x" + "aa" * 20
    data_log.record(engine, subject=me, actor="0x" + "cc" * 20, role="AUDITOR_ROLE",
                    what="GET /v1/wallets/{a}/history", token=CITY, request_id="r1")  # fmt: skip
    data_log.record(engine, subject="0x" + "bb" * 20, actor="apikey:abc", role="AUDITOR_ROLE",
                    what="GET /v1/wallets/{a}/balances", token=OTHER_CITY)  # fmt: skip
    mine = data_log.for_subject(engine, me.upper().replace("0X", "0x"))
    assert [(e.actor, e.role, e.what) for e in mine] == [
        ("0x" + "cc" * 20, "AUDITOR_ROLE", "GET /v1/wallets/{a}/history")
    ]
    assert [e.subject for e in data_log.for_token(engine, OTHER_CITY)] == ["0x" + "bb" * 20]
