"""The merchant registry as a wallet app sees it: a shop's application and profile, and the
public directory of a city's shops. Models and their reading off the wire."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from wallet_sdk.client.fields import Fields

__all__ = [
    "DirectoryEntry",
    "DirectoryPage",
    "MerchantApplication",
    "MerchantProfile",
    "parse_directory",
    "parse_profile",
]


@dataclass(frozen=True, slots=True)
class MerchantApplication:
    """What a shop applies with (the gateway checks each field; a refusal is
    InvalidMerchantProfile naming it, or InvalidBusinessNumber)."""

    business_name: str
    business_number: str  # 사업자등록번호, e.g. "123-45-67891"
    address: str
    legal_dong: str  # the 10-digit 법정동 code
    category: int  # KSIC
    latitude: float | None = None
    longitude: float | None = None
    market: bool = False
    phone: str | None = None
    email: str | None = None
    bank_code: str | None = None
    bank_account: str | None = None
    account_holder: str | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MerchantProfile:
    """A shop's own profile with its application's state."""

    token: str
    merchant: str
    application: MerchantApplication
    status: str  # applied | approved | registered | rejected
    tier: int
    review_note: str | None
    on_chain: str | None  # active | suspended | cancelled, None before registration


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    merchant: str
    business_name: str
    address: str
    legal_dong: str
    category: int
    latitude: float | None
    longitude: float | None
    market: bool
    distance_m: float | None


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    items: tuple[DirectoryEntry, ...]
    next_cursor: str | None


def parse_profile(body: object) -> MerchantProfile:
    f = Fields(body, "merchant profile")
    application = MerchantApplication(
        business_name=f.text("business_name"),
        business_number=f.text("business_number"),
        address=f.text("address"),
        legal_dong=f.text("legal_dong"),
        category=f.integer("category"),
        latitude=f.optional_number("latitude"),
        longitude=f.optional_number("longitude"),
        market=f.flag("market"),
        phone=f.optional_text("phone"),
        email=f.optional_text("email"),
        bank_code=f.optional_text("bank_code"),
        bank_account=f.optional_text("bank_account"),
        account_holder=f.optional_text("account_holder"),
    )
    return MerchantProfile(
        token=f.text("token"),
        merchant=f.text("merchant"),
        application=application,
        status=f.text("status"),
        tier=f.integer("tier"),
        review_note=f.optional_text("review_note"),
        on_chain=f.optional_text("on_chain"),
    )


def parse_directory(body: object) -> DirectoryPage:
    page = Fields(body, "directory")
    items = []
    for item in page.array("items"):
        f = Fields(item, "directory entry")
        items.append(
            DirectoryEntry(
                merchant=f.text("merchant"),
                business_name=f.text("business_name"),
                address=f.text("address"),
                legal_dong=f.text("legal_dong"),
                category=f.integer("category"),
                latitude=f.optional_number("latitude"),
                longitude=f.optional_number("longitude"),
                market=f.flag("market"),
                distance_m=f.optional_number("distance_m"),
            )
        )
    return DirectoryPage(tuple(items), page.optional_text("next_cursor"))
