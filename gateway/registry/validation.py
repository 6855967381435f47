"""The checks a merchant's profile passes before it is stored: each refusal is
``InvalidMerchantProfile`` naming the field, so an app can point at the box to fix.

The 법정동 code is ten digits whose first five are the 시군구 (the on-chain region). A city
token's shops must lie in the city: the first five digits equal its region, or, for a
metropolitan city or province whose region ends in ``000`` (Busan 26000, Incheon 28000), the
first two (its districts are 26110, 26140, ...). The national market voucher (region 0) takes
market stalls of any region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import GatewayError
from gateway.registry.business_number import parse_business_number

__all__ = ["KOREA_BOUNDS", "ProfileInput", "ValidProfile", "invalid", "validate_profile"]

# Mainland, Jeju, Ulleung and Dokdo, with a margin: a point outside is a typo (or lat/lng
# swapped), never a Korean shop.
KOREA_BOUNDS = (32.8, 38.8, 124.0, 132.0)  # south, north, west, east

_PHONE = re.compile(r"^0\d{1,2}-?\d{3,4}-?\d{4}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_BANK_CODE = re.compile(r"^\d{3}$")
_ACCOUNT = re.compile(r"^\d{6,16}$")


@dataclass(frozen=True, slots=True)
class ProfileInput:
    """What an applicant (or a bulk import) gives, as typed; checked by validate_profile."""

    business_name: str
    business_number: str
    address: str
    legal_dong: str
    category: int
    latitude: float | None = None
    longitude: float | None = None
    market: bool = False
    phone: str | None = None
    email: str | None = None
    bank_code: str | None = None
    bank_account: str | None = None
    account_holder: str | None = None


@dataclass(frozen=True, slots=True)
class ValidProfile:
    """A checked profile, normalised: digits only for numbers, trimmed text."""

    business_name: str
    business_number: str
    address: str
    legal_dong: str
    category: int
    latitude: float | None
    longitude: float | None
    market: bool
    phone: str | None
    email: str | None
    bank_code: str | None
    bank_account: str | None
    account_holder: str | None

    @property
    def shop_region(self) -> int:
        """The 5-digit 시군구 of the shop: what registerMerchant records."""
        return int(self.legal_dong[:5])


def invalid(field: str, detail: str) -> GatewayError:
    return GatewayError("InvalidMerchantProfile", detail, {"field": field})


def _text(value: str, field: str, max_length: int) -> str:
    text = value.strip()
    if not text or len(text) > max_length:
        raise invalid(field, f"{field} is 1 to {max_length} characters")
    return text


def _optional(value: str | None) -> str | None:
    text = value.strip() if value is not None else None
    return text or None


def in_region(legal_dong: str, region: int) -> bool:
    if region == 0:
        return True
    if region % 1000 == 0:  # a metropolitan city or province: its districts share 2 digits
        return legal_dong[:2] == f"{region:05d}"[:2]
    return legal_dong[:5] == f"{region:05d}"


def validate_profile(raw: ProfileInput, region: int) -> ValidProfile:
    """``raw`` checked for a shop of the municipality whose region is ``region``."""
    name = _text(raw.business_name, "business_name", 200)
    address = _text(raw.address, "address", 500)
    number = parse_business_number(raw.business_number)
    dong = raw.legal_dong.strip()
    if len(dong) != 10 or not dong.isascii() or not dong.isdigit() or dong.startswith("0"):
        raise invalid("legal_dong", "a 법정동 code is ten digits, e.g. 4139010100")
    if not in_region(dong, region):
        raise invalid("legal_dong", f"the shop's 법정동 {dong} is not in region {region:05d}")
    if region == 0 and not raw.market:
        raise invalid("market", "the national market voucher takes market stalls only")
    if not 10_000 <= raw.category <= 99_999:
        raise invalid("category", "a KSIC category is five digits, e.g. 56111")
    _check_location(raw.latitude, raw.longitude)
    phone = _optional(raw.phone)
    if phone is not None and not _PHONE.fullmatch(phone):
        raise invalid("phone", "a Korean phone number, e.g. 031-123-4567")
    email = _optional(raw.email)
    if email is not None and (len(email) > 200 or not _EMAIL.fullmatch(email)):
        raise invalid("email", "an e-mail address, e.g. shop@example.kr")
    bank_code, account, holder = _bank(raw)
    return ValidProfile(
        business_name=name,
        business_number=number,
        address=address,
        legal_dong=dong,
        category=raw.category,
        latitude=raw.latitude,
        longitude=raw.longitude,
        market=raw.market,
        phone=phone,
        email=email,
        bank_code=bank_code,
        bank_account=account,
        account_holder=holder,
    )


def _check_location(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise invalid("latitude", "give both latitude and longitude, or neither")
    if latitude is None or longitude is None:
        return
    south, north, west, east = KOREA_BOUNDS
    if not south <= latitude <= north:
        raise invalid("latitude", f"latitude {latitude} is outside Korea ({south}..{north})")
    if not west <= longitude <= east:
        raise invalid("longitude", f"longitude {longitude} is outside Korea ({west}..{east})")


def _bank(raw: ProfileInput) -> tuple[str | None, str | None, str | None]:
    """The settlement account: all three parts, or none (a shop may add it later)."""
    code = _optional(raw.bank_code)
    account = _optional(raw.bank_account)
    holder = _optional(raw.account_holder)
    if code is None and account is None and holder is None:
        return None, None, None
    if code is None or not _BANK_CODE.fullmatch(code):
        raise invalid("bank_code", "a bank code is three digits (KFTC), e.g. 004")
    digits = (account or "").replace("-", "").replace(" ", "")
    if not _ACCOUNT.fullmatch(digits):
        raise invalid("bank_account", "an account number is 6 to 16 digits (dashes allowed)")
    if holder is None or len(holder) > 100:
        raise invalid("account_holder", "the account holder's name, up to 100 characters")
    return code, digits, holder
