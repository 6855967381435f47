"""The bank's bulk-transfer file of a settlement batch, and its JSON twin.

The layout follows the KFTC (금융결제원) CMS bulk-transfer files banks load: fixed-width
records of 200 bytes in EUC-KR (CP949; a Hangul syllable takes two bytes), each ended by CRLF;
a header, one data record per payee, a trailer with control totals. Numbers are right-aligned
and zero-padded, text left-aligned and space-padded (never cut inside a Hangul character).

Header ``H`` ::

    1  record type "H"           2-41  batch reference (40)     42-46  region (5)
    47-60  window start, KST YYYYMMDDHHMMSS (14)               61-74  window end (14)
    75-82  value date YYYYMMDD (8)   83-90  data records (8)   91-105  total won (15)
    106-200  filler

Data ``D`` (one per payee; a line held for want of an account is not in the file) ::

    1  "D"   2-49  line reference (48)   50-52  bank code (3)   53-72  account number (20)
    73-92  account holder (20 bytes)     93-107  amount won (15)
    108  kind: "M" a merchant's redemptions, "R" a resident's refunds' cash
    109-150  payee wallet (42)   151-200  filler

Trailer ``T`` ::

    1  "T"   2-9  data records (8)   10-24  total won (15)
    25-88  SHA-256 (hex) of the data records' bytes, CRLFs included   89-200  filler

The JSON twin (:func:`bank_json`) carries the same fields with the same values;
:func:`parse_bank_file` reads a file back into it, so a bank (and the tests) can check one
against the other.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from gateway.audit.payouts import Payout
from gateway.audit.settlement import KST, SettlementBatch
from gateway.db.tables.settlement import REDEMPTION
from gateway.errors import GatewayError

__all__ = [
    "ENCODING",
    "RECORD_BYTES",
    "BankFile",
    "BankHeader",
    "BankLine",
    "BankTrailer",
    "bank_file",
    "bank_json",
    "parse_bank_file",
]

ENCODING = "cp949"
RECORD_BYTES = 200
_EOL = b"\r\n"
_KINDS = {"M": "redemption", "R": "refund"}


class BankHeader(BaseModel):
    reference: str
    region: int
    since: str  # KST YYYYMMDDHHMMSS
    until: str
    value_date: str  # YYYYMMDD
    count: int
    total: int


class BankLine(BaseModel):
    line_reference: str
    bank_code: str
    account: str
    holder: str
    amount: int
    kind: str  # redemption | refund
    payee: str


class BankTrailer(BaseModel):
    count: int
    total: int
    lines_sha256: str


class BankFile(BaseModel):
    """The bank file's content as JSON: the same records, field for field."""

    header: BankHeader
    lines: list[BankLine]
    trailer: BankTrailer


def _stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, KST).strftime("%Y%m%d%H%M%S")


def _line(payout: Payout) -> BankLine:
    return BankLine(
        line_reference=payout.line_reference,
        bank_code=payout.bank_code or "",
        account=payout.bank_account or "",
        holder=payout.account_holder or "",
        amount=payout.amount,
        kind=payout.kind,
        payee=payout.payee,
    )


def _text(value: str, width: int) -> bytes:
    """``value`` in CP949, cut at a character boundary and space-padded to ``width`` bytes."""
    out = b""
    for ch in value:
        encoded = ch.encode(ENCODING, errors="replace")
        if len(out) + len(encoded) > width:
            break
        out += encoded
    return out.ljust(width, b" ")


def _number(value: int, width: int) -> bytes:
    text = str(value).rjust(width, "0").encode("ascii")
    if len(text) > width or value < 0:
        raise GatewayError("InvalidRequest", f"{value} does not fit the bank file's {width} digits")
    return text


def _record(*fields: bytes) -> bytes:
    return b"".join(fields).ljust(RECORD_BYTES, b" ")


def bank_json(batch: SettlementBatch, payouts: list[Payout]) -> BankFile:
    """The file's content: ``payouts`` are the lines released in the batch's file."""
    lines = [_line(p) for p in payouts]
    total = sum(line.amount for line in lines)
    header = BankHeader(
        reference=batch.reference,
        region=batch.region,
        since=_stamp(batch.since),
        until=_stamp(batch.until),
        value_date=batch.value_date or "",
        count=len(lines),
        total=total,
    )
    digest = hashlib.sha256(b"".join(_data(line) + _EOL for line in lines)).hexdigest()
    return BankFile(header=header, lines=lines, trailer=BankTrailer(count=len(lines),
                    total=total, lines_sha256=digest))  # fmt: skip


def _data(line: BankLine) -> bytes:
    kind = "M" if line.kind == REDEMPTION else "R"
    return _record(
        b"D",
        _text(line.line_reference, 48),
        _text(line.bank_code, 3),
        _text(line.account, 20),
        _text(line.holder, 20),
        _number(line.amount, 15),
        kind.encode(),
        _text(line.payee, 42),
    )


def bank_file(content: BankFile) -> bytes:
    """The fixed-width file of a :class:`BankFile` (see the module docstring)."""
    h, tr = content.header, content.trailer
    header = _record(
        b"H",
        _text(h.reference, 40),
        _number(h.region, 5),
        h.since.encode(),
        h.until.encode(),
        _text(h.value_date, 8),
        _number(h.count, 8),
        _number(h.total, 15),
    )
    trailer = _record(b"T", _number(tr.count, 8), _number(tr.total, 15), tr.lines_sha256.encode())
    records = [header, *(_data(line) for line in content.lines), trailer]
    return b"".join(record + _EOL for record in records)


def _field(record: bytes, start: int, end: int) -> str:
    """Columns ``start``-``end`` (1-based, inclusive) as text, padding removed."""
    return record[start - 1 : end].decode(ENCODING).strip()


def parse_bank_file(data: bytes) -> BankFile:
    """Reads a file :func:`bank_file` wrote, checking its record layout and control totals."""
    records = data.split(_EOL)
    if records[-1] != b"" or any(len(r) != RECORD_BYTES for r in records[:-1]):
        raise ValueError(f"every record must be {RECORD_BYTES} bytes ended by CRLF")
    head, *body, tail = records[:-1]
    if head[:1] != b"H" or tail[:1] != b"T" or any(r[:1] != b"D" for r in body):
        raise ValueError("a bank file is one H record, D records and one T record")
    lines = [
        BankLine(
            line_reference=_field(r, 2, 49),
            bank_code=_field(r, 50, 52),
            account=_field(r, 53, 72),
            holder=_field(r, 73, 92),
            amount=int(_field(r, 93, 107)),
            kind=_KINDS[_field(r, 108, 108)],
            payee=_field(r, 109, 150),
        )
        for r in body
    ]
    fields: dict[str, Any] = {
        "reference": _field(head, 2, 41), "region": int(_field(head, 42, 46)),
        "since": _field(head, 47, 60), "until": _field(head, 61, 74),
        "value_date": _field(head, 75, 82), "count": int(_field(head, 83, 90)),
        "total": int(_field(head, 91, 105)),
    }  # fmt: skip
    trailer = BankTrailer(
        count=int(_field(tail, 2, 9)), total=int(_field(tail, 10, 24)),
        lines_sha256=_field(tail, 25, 88),
    )  # fmt: skip
    digest = hashlib.sha256(b"".join(r + _EOL for r in body)).hexdigest()
    total = sum(line.amount for line in lines)
    if (trailer.count, trailer.total, trailer.lines_sha256) != (len(lines), total, digest):
        raise ValueError("the trailer's control totals do not match the data records")
    return BankFile(header=BankHeader(**fields), lines=lines, trailer=trailer)
