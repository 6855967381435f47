"""Profiles the registry suites share: a valid Siheung shop to vary field by field."""

from __future__ import annotations

from dataclasses import replace

from gateway.registry.business_number import check_digit
from gateway.registry.validation import ProfileInput

SIHEUNG = 41390


def business_number(first_nine: str) -> str:
    return f"{first_nine}{check_digit(first_nine)}"


def shop(**changes: object) -> ProfileInput:
    base = ProfileInput(
        business_name="Dongne Bakery",
        business_number=business_number("123456789"),
        address="경기도 시흥시 정왕동 1",
        legal_dong="4139013200",
        category=10712,
        latitude=37.3449,
        longitude=126.7352,
        phone="031-123-4567",
        email="bakery@example.kr",
        bank_code="004",
        bank_account="123-456-789012",
        account_holder="김동네",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


PRIVATE_FIELDS = ("phone", "email", "bank_code", "bank_account", "account_holder", "review_note")
PRIVATE_VALUES = ("031-123-4567", "bakery@example.kr", "123456789012", "김동네")
