"""Reading an onboarding CSV one row at a time and checking each row on its own.

A city's file may hold a million residents: it is never loaded whole. :func:`read_rows`
yields each data line's number (the header is line 1) with either the parsed row or a
:class:`RowError` saying what a person should fix; a bad row never stops the rows after it.
The checks are the ones the chain would make too late or not at all: an address's EIP-55
checksum, a wallet listed twice, the business number's check digit, a shop's 법정동 inside
the city, a KSIC code's shape, the revenue tier.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chain.protocol.hashing import parse_address, to_checksum
from gateway.errors import GatewayError
from gateway.registry.business_number import parse_business_number

__all__ = [
    "MERCHANT_COLUMNS",
    "RESIDENT_COLUMNS",
    "BankAccount",
    "MerchantRow",
    "ResidentRow",
    "RowError",
    "read_rows",
]

RESIDENT_COLUMNS = ("wallet", "kyc_ref", "bank_code", "bank_account", "account_holder")
RESIDENT_REQUIRED = 2  # wallet, kyc_ref; the bank account is optional
MERCHANT_COLUMNS = (
    "wallet", "business_name", "business_number", "address", "legal_dong", "category", "tier",
    "market", "latitude", "longitude", "phone", "email", "bank_code", "bank_account",
    "account_holder",
)  # fmt: skip
MAX_TIER = 255  # uint8 on chain; a city's rules name which tiers pass the revenue cap


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    wallet: str  # as written in the file
    code: str  # an error code of gateway.errors (or a contract's custom error)
    detail: str


@dataclass(frozen=True, slots=True)
class BankAccount:
    bank_code: str | None
    bank_account: str | None
    account_holder: str | None


@dataclass(frozen=True, slots=True)
class ResidentRow:
    line: int
    wallet: str  # checksummed
    kyc_ref: str
    bank: BankAccount


@dataclass(frozen=True, slots=True)
class MerchantRow:
    line: int
    wallet: str  # checksummed
    business_name: str
    business_number: str  # ten digits
    address: str
    legal_dong: str  # ten digits
    category: int  # KSIC, five digits
    tier: int
    market: bool
    latitude: float | None
    longitude: float | None
    phone: str | None
    email: str | None
    bank: BankAccount


class _InvalidRowError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def _field(name: str, detail: str) -> _InvalidRowError:
    return _InvalidRowError("InvalidField", f"{name}: {detail}")


def _text(value: str, name: str, limit: int, *, required: bool = True) -> str | None:
    value = value.strip()
    if not value:
        if required:
            raise _field(name, "is required")
        return None
    if len(value) > limit:
        raise _field(name, f"is longer than {limit} characters")
    return value


def _wallet(value: str) -> str:
    try:  # mixed case must be EIP-55's checksum; all-lower or all-upper carries none
        raw = parse_address(value.strip())
    except ValueError as exc:
        raise _InvalidRowError("InvalidAddress", f"wallet: {exc}") from None
    if raw == bytes(20):
        raise _InvalidRowError("InvalidAddress", "wallet: the zero address")
    return to_checksum(raw)


def _digits(value: str, name: str, sizes: tuple[int, ...], example: str) -> str:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) in sizes):
        raise _field(name, f"must be {' or '.join(map(str, sizes))} digits, e.g. {example}")
    return text


def _bank(values: list[str]) -> BankAccount:
    """All three bank columns or none: a bank cannot pay half an account."""
    code, account, holder = (v.strip() for v in values)
    if not (code or account or holder):
        return BankAccount(None, None, None)
    if not (code and account and holder):
        raise _field("bank_code", "bank_code, bank_account and account_holder go together")
    _digits(code, "bank_code", (3,), "004")
    number = account.replace("-", "")
    if not (number.isascii() and number.isdigit() and 6 <= len(number) <= 20):
        raise _field("bank_account", "must be 6-20 digits (dashes allowed)")
    return BankAccount(code, number, _text(holder, "account_holder", 100))


def _coordinate(value: str, name: str, low: float, high: float) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise _field(name, "must be a decimal number") from None
    if not low <= number <= high:
        raise _field(name, f"must be between {low} and {high}")
    return number


def _resident(line: int, cells: list[str]) -> ResidentRow:
    cells = cells + [""] * (len(RESIDENT_COLUMNS) - len(cells))
    wallet = _wallet(cells[0])
    kyc_ref = _text(cells[1], "kyc_ref", 64)
    assert kyc_ref is not None  # required
    return ResidentRow(line, wallet, kyc_ref, _bank(cells[2:5]))


def _merchant(line: int, cells: list[str], region: int) -> MerchantRow:
    wallet = _wallet(cells[0])
    name = _text(cells[1], "business_name", 200)
    try:
        number = parse_business_number(cells[2].strip())
    except GatewayError as exc:
        raise _InvalidRowError(exc.code, exc.detail) from None
    address = _text(cells[3], "address", 1_000)
    dong = _digits(cells[4], "legal_dong", (10,), "4139010100")
    if region != 0 and int(dong[:5]) != region:
        raise _InvalidRowError(
            "VoucherRegionMismatch", f"legal_dong {dong} is not in the city's region {region:05d}"
        )
    category = int(_digits(cells[5], "category", (5,), "56111 (KSIC)"))
    tier_text = cells[6].strip() or "0"
    if not (tier_text.isascii() and tier_text.isdigit() and int(tier_text) <= MAX_TIER):
        raise _field("tier", f"must be a whole number from 0 to {MAX_TIER}")
    market_text = cells[7].strip().lower()
    if market_text not in ("", "0", "1", "true", "false", "yes", "no"):
        raise _field("market", "must be 0 or 1")
    market = market_text in ("1", "true", "yes")
    if region == 0 and not market:
        raise _InvalidRowError(
            "VoucherMarketRequired", "the national voucher takes market stores only"
        )
    email = _text(cells[11], "email", 200, required=False)
    if email is not None and ("@" not in email or " " in email):
        raise _field("email", "is not an e-mail address")
    assert name is not None
    assert address is not None
    return MerchantRow(
        line, wallet, name, number, address, dong, category, int(tier_text), market,
        _coordinate(cells[8], "latitude", -90.0, 90.0),
        _coordinate(cells[9], "longitude", -180.0, 180.0),
        _text(cells[10], "phone", 32, required=False), email, _bank(cells[12:15]),
    )  # fmt: skip


def _header(first: list[str], columns: tuple[str, ...], required: int) -> None:
    names = tuple(c.strip().lower() for c in first)
    if names != columns[: len(names)] or len(names) < required:
        raise GatewayError(
            "InvalidRequest",
            f"the CSV's header must be {','.join(columns[:required])}"
            + (f"[,{','.join(columns[required:])}]" if required < len(columns) else ""),
            {"line": 1},
        )


def read_rows(
    path: Path, kind: str, *, region: int = 0, seen: set[int] | None = None
) -> Iterator[ResidentRow | MerchantRow | RowError]:
    """Each data row of ``path``, parsed, or the reason it cannot be loaded.

    ``seen`` collects wallets (as integers: ~70 bytes each, not the row) across the file, so a
    wallet listed again is a ``DuplicateRow`` on its later line; pass one set to share it with
    a resumed run that skips what an earlier one committed.
    """
    seen = set() if seen is None else seen
    residents = kind == "residents"
    columns = RESIDENT_COLUMNS if residents else MERCHANT_COLUMNS
    required = RESIDENT_REQUIRED if residents else len(MERCHANT_COLUMNS)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        first = next(reader, None)
        if first is None:
            raise GatewayError("InvalidRequest", "the CSV is empty", {"line": 1})
        _header(first, columns, required)
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line is not a row
            wallet_text = cells[0].strip()
            try:
                if not required <= len(cells) <= len(columns):
                    raise _InvalidRowError(
                        "InvalidField", f"row has {len(cells)} columns, expected {len(columns)}"
                    )
                row = _resident(line, cells) if residents else _merchant(line, cells, region)
            except _InvalidRowError as exc:
                yield RowError(line, wallet_text, exc.code, exc.detail)
                continue
            key = int(row.wallet, 16)
            if key in seen:
                yield RowError(
                    line, wallet_text, "DuplicateRow", "the wallet is on an earlier line"
                )
                continue
            seen.add(key)
            yield row
