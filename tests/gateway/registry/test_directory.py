"""The directory query and the account look-ups on SQLite and PostgreSQL (``db_engine``):
profiles stored as the application flow stores them, registrations as the indexer folds them."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from sqlalchemy import Engine, insert

from gateway.db.tables import index as t
from gateway.db.tables.registry import APPLIED, APPROVED, REGISTERED
from gateway.errors import GatewayError
from gateway.registry import accounts
from gateway.registry.directory import directory, haversine_m
from gateway.registry.profiles import upsert_profile
from gateway.registry.validation import validate_profile
from tests.gateway.registry.profiles import PRIVATE_FIELDS, PRIVATE_VALUES, SIHEUNG, shop

CHAIN = 31337
TOKEN = "0x" + "ab" * 20
# Around Siheung city hall (37.3799, 126.8031): distances from there, in metres, roughly.
HALL = (37.3799, 126.8031)
SHOPS = [
    # wallet suffix, name, dong, category, (lat, lng), profile status, on-chain status
    ("01", "Dongne Bakery", "4139010100", 10712, (37.3803, 126.8031), REGISTERED, 1),  # ~45 m
    ("02", "동네 김밥", "4139010100", 56111, (37.3850, 126.8031), REGISTERED, 1),  # ~570 m
    ("03", "BAKERY two", "4139013200", 10712, (37.3450, 126.7350), APPROVED, 1),  # ~7 km
    ("04", "Suspended Bakery", "4139010100", 10712, (37.3800, 126.8032), REGISTERED, 2),
    ("05", "Applied Bakery", "4139010100", 10712, (37.3800, 126.8033), APPLIED, None),
    ("06", "No Location Cafe", "4139010200", 56221, None, REGISTERED, 1),
]


def wallet(suffix: str) -> str:
    return "0x" + "00" * 19 + suffix


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    with db_engine.begin() as conn:
        for suffix, name, dong, category, point, status, on_chain in SHOPS:
            lat, lng = point if point else (None, None)
            profile = validate_profile(
                shop(
                    business_name=name,
                    legal_dong=dong,
                    category=category,
                    latitude=lat,
                    longitude=lng,
                ),
                SIHEUNG,
            )
            upsert_profile(
                conn,
                CHAIN,
                TOKEN,
                wallet(suffix),
                profile,
                status=status,
                review_note="checked the lease in person",
            )
            if on_chain is not None:
                conn.execute(
                    insert(t.merchants).values(
                        chain_id=CHAIN,
                        token=TOKEN,
                        merchant=wallet(suffix),
                        region=SIHEUNG,
                        category=category,
                        tier=0,
                        status=on_chain,
                        market=False,
                        banned_until=0,
                        registered_block=1,
                        updated_block=1,
                    )
                )
    return db_engine


def names(engine: Engine, **search: object) -> list[str]:
    with engine.connect() as conn:
        return [e.business_name for e in directory(conn, CHAIN, TOKEN, **search).items]  # type: ignore[arg-type]


def test_only_registered_active_shops_are_listed_by_name(engine: Engine) -> None:
    assert names(engine) == ["BAKERY two", "Dongne Bakery", "No Location Cafe", "동네 김밥"]


def test_search_by_name_category_and_district(engine: Engine) -> None:
    assert names(engine, q="bakery") == ["BAKERY two", "Dongne Bakery"]  # any case
    assert names(engine, q="김밥") == ["동네 김밥"]
    assert names(engine, q="%") == []  # a wildcard is a character, not a pattern
    assert names(engine, category=56111) == ["동네 김밥"]
    assert names(engine, dong="41390101") == ["Dongne Bakery", "동네 김밥"]


def test_near_a_point_sorted_by_exact_distance(engine: Engine) -> None:
    with engine.connect() as conn:
        page = directory(conn, CHAIN, TOKEN, near=HALL, radius_m=1_000)
    assert [e.business_name for e in page.items] == ["Dongne Bakery", "동네 김밥"]
    distances = [e.distance_m for e in page.items]
    assert distances[0] == pytest.approx(haversine_m(*HALL, 37.3803, 126.8031), abs=0.1)
    assert 40 < distances[0] < 50  # type: ignore[operator]
    assert 500 < distances[1] < 600  # type: ignore[operator]
    assert names(engine, near=HALL, radius_m=10_000)[-1] == "BAKERY two"


def test_pages_follow_the_cursor_to_the_end(engine: Engine) -> None:
    for search in ({}, {"near": HALL, "radius_m": 10_000}):
        seen, cursor = [], None
        with engine.connect() as conn:
            while True:
                page = directory(conn, CHAIN, TOKEN, cursor=cursor, limit=1, **search)  # type: ignore[arg-type]
                seen += [e.business_name for e in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    break
        assert seen == names(engine, **search)
        assert len(seen) == (4 if not search else 3)


def test_a_forged_cursor_is_a_named_400_on_every_backend(engine: Engine) -> None:
    # A cursor is base64 JSON: one naming a NUL would reach PostgreSQL's text as a 500.
    def encoded(parts: list[object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()

    forged = [(encoded(["n", "\u0000", "x"]), None), ("nope", None), (encoded(["d", -1]), HALL)]
    for cursor, near in forged:
        with engine.connect() as conn, pytest.raises(GatewayError) as caught:
            directory(conn, CHAIN, TOKEN, cursor=cursor, near=near)
        assert caught.value.arguments == {"field": "cursor"}


def test_no_private_field_or_value_in_an_entry(engine: Engine) -> None:
    with engine.connect() as conn:
        entries = directory(conn, CHAIN, TOKEN, limit=100).items
    for entry in entries:
        fields = dataclasses.asdict(entry)
        assert not set(PRIVATE_FIELDS) & set(fields)
        assert not any(value in str(fields) for value in PRIVATE_VALUES)
        assert "checked the lease" not in str(fields)


def test_bank_accounts_of_reviewed_shops_and_residents(engine: Engine) -> None:
    with engine.begin() as conn:
        account = accounts.bank_account_of(conn, CHAIN, TOKEN, wallet("01"))
        assert account == accounts.BankAccount("004", "123456789012", "김동네")
        assert accounts.bank_account_of(conn, CHAIN, TOKEN, wallet("05")) is None  # unreviewed
        assert accounts.resident_account_of(conn, CHAIN, wallet("99")) is None
        mine = accounts.BankAccount("088", "110123456789", "이주민")
        accounts.set_resident_account(conn, CHAIN, wallet("99"), mine, kyc_ref="kyc-1")
        assert accounts.resident_account_of(conn, CHAIN, wallet("99")) == mine
