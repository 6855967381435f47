"""Payment QR codes: EIP-681 URIs calling the voucher token's ``pay`` function.

``pay(address merchant, uint256 amount, bytes32 paymentId, uint256[] programIds)``; the URI
carries the merchant and, for a dynamic invoice, the amount, the invoice id (used as
``paymentId``) and an expiry. The payer's wallet chooses ``programIds`` itself. Forms::

    ethereum:<token>@<chainId>/pay?address=<merchant>[&label=<name>]
    ethereum:<token>@<chainId>/pay?address=<merchant>&uint256=<amount>&bytes32=<invoiceId>
        &expiry=<unix seconds>[&label=<name>]

``expiry`` and ``label`` are our extensions; ``label`` is percent-encoded UTF-8.
"""

from __future__ import annotations

import io
import os
import re
import string
import time
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO
from urllib.parse import quote, unquote

import segno
from eth_utils.address import to_checksum_address

from wallet_sdk.exceptions.base import InvalidPaymentUriError, InvoiceExpiredError

__all__ = ["MAX_LABEL_LENGTH", "PaymentRequest", "PaymentUriReason"]

#: Longest merchant label accepted, in characters; keeps codes scannable by cheap cameras.
MAX_LABEL_LENGTH = 64

_SCHEME = "ethereum:"
_FUNCTION = "pay"
_KEYS = ("address", "uint256", "bytes32", "expiry", "label")  # also the order to_uri emits
_UINT256_LIMIT = 1 << 256
_UINT64_LIMIT = 1 << 64
# RFC 3986 unreserved + reserved + "%"; "#" is left out because a fragment has no meaning here.
_URI_CHARS = frozenset(string.ascii_letters + string.digits + "-._~:/?[]@!$&'()*+,;=%")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_DIGITS = re.compile(r"[0-9]{1,20}")  # 20 digits hold any uint64
_INVOICE_ID = re.compile(r"0x[0-9a-fA-F]{64}")
# EIP-681 ``number``; stricter than its ABNF in demanding digits in the mantissa and exponent.
_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]+))?(?:[eE]([0-9]+))?")
_MAX_NUMBER_LENGTH = 100  # far beyond any uint256 spelling; bounds the big-int arithmetic
# Characters that are invisible or reorder text would let a label impersonate another merchant.
_FORBIDDEN_LABEL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class PaymentUriReason(StrEnum):
    """Values of :attr:`InvalidPaymentUriError.reason` raised by this module."""

    WRONG_SCHEME = "wrong_scheme"
    MALFORMED_URI = "malformed_uri"
    MALFORMED_ADDRESS = "malformed_address"
    BAD_CHECKSUM = "bad_checksum"
    MISSING_CHAIN_ID = "missing_chain_id"
    BAD_CHAIN_ID = "bad_chain_id"
    MISSING_FUNCTION = "missing_function"
    UNKNOWN_FUNCTION = "unknown_function"
    MALFORMED_PARAMETER = "malformed_parameter"
    UNKNOWN_PARAMETER = "unknown_parameter"
    DUPLICATE_PARAMETER = "duplicate_parameter"
    MISSING_MERCHANT = "missing_merchant"
    MALFORMED_AMOUNT = "malformed_amount"
    NON_INTEGER_AMOUNT = "non_integer_amount"
    NON_POSITIVE_AMOUNT = "non_positive_amount"
    AMOUNT_TOO_LARGE = "amount_too_large"
    BAD_INVOICE_ID = "bad_invoice_id"
    BAD_EXPIRY = "bad_expiry"
    INCOMPLETE_INVOICE = "incomplete_invoice"
    BAD_LABEL = "bad_label"
    EXPIRED = "expired"  # raised as InvoiceExpiredError


def _fail(reason: PaymentUriReason, detail: str, **args: object) -> InvalidPaymentUriError:
    return InvalidPaymentUriError(detail, reason=reason, args_=args)


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A payment to ``merchant`` in voucher ``token`` on chain ``chain_id``.

    A merchant's static code has only ``label`` besides; a dynamic invoice has ``amount`` (base
    units), ``invoice_id`` (32 bytes) and ``expiry`` (unix seconds) all set. Construction
    validates like :meth:`parse` (raising :class:`InvalidPaymentUriError`) and normalises the
    addresses to their EIP-55 checksum form.
    """

    token: str
    chain_id: int
    merchant: str
    amount: int | None = None
    invoice_id: bytes | None = None
    expiry: int | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "token", _checksum(self.token, "token"))
        object.__setattr__(self, "merchant", _checksum(self.merchant, "merchant"))
        if not _is_int(self.chain_id) or not 0 < self.chain_id < _UINT64_LIMIT:
            raise _fail(PaymentUriReason.BAD_CHAIN_ID, "chain id must be in 1..2**64-1")
        invoice_fields = (self.amount, self.invoice_id, self.expiry)
        if any(f is None for f in invoice_fields) and any(f is not None for f in invoice_fields):
            raise _fail(
                PaymentUriReason.INCOMPLETE_INVOICE,
                "an invoice needs amount, invoice id and expiry together; a static code none",
            )
        if self.amount is not None:
            _check_amount(self.amount)
        if self.invoice_id is not None:
            if not isinstance(self.invoice_id, bytes | bytearray) or len(self.invoice_id) != 32:
                raise _fail(PaymentUriReason.BAD_INVOICE_ID, "invoice id must be 32 bytes")
            object.__setattr__(self, "invoice_id", bytes(self.invoice_id))
        if self.expiry is not None and (
            not _is_int(self.expiry) or not 0 <= self.expiry < _UINT64_LIMIT
        ):
            raise _fail(PaymentUriReason.BAD_EXPIRY, "expiry must be unix seconds in 0..2**64-1")
        if self.label is not None:
            _check_label(self.label)

    @property
    def is_invoice(self) -> bool:
        """Whether this is a dynamic invoice (amount fixed) rather than a static merchant code."""
        return self.amount is not None

    def to_uri(self) -> str:
        """The canonical EIP-681 URI; parameters always come in the same order."""
        values: dict[str, str | None] = {
            "address": self.merchant,
            "uint256": None if self.amount is None else str(self.amount),
            "bytes32": None if self.invoice_id is None else "0x" + self.invoice_id.hex(),
            "expiry": None if self.expiry is None else str(self.expiry),
            "label": None if self.label is None else quote(self.label, safe=""),
        }
        query = "&".join(f"{key}={values[key]}" for key in _KEYS if values[key] is not None)
        return f"{_SCHEME}{self.token}@{self.chain_id}/{_FUNCTION}?{query}"

    @classmethod
    def parse(cls, uri: str, *, now: int | None = None) -> PaymentRequest:
        """Parse and strictly validate a payment URI.

        Raises :class:`InvalidPaymentUriError` (``reason`` is a :class:`PaymentUriReason`) and,
        for an invoice whose expiry is before ``now`` (default: the current time),
        :class:`InvoiceExpiredError`.
        """
        token, chain_id, params = _split(uri)
        if "address" not in params:
            raise _fail(PaymentUriReason.MISSING_MERCHANT, "the address (merchant) is missing")
        request = cls(
            token=token,
            chain_id=chain_id,
            merchant=_address_text(params["address"], "merchant"),
            amount=_parse_amount(params["uint256"]) if "uint256" in params else None,
            invoice_id=_parse_invoice_id(params["bytes32"]) if "bytes32" in params else None,
            expiry=_parse_expiry(params["expiry"]) if "expiry" in params else None,
            label=_parse_label(params["label"]) if "label" in params else None,
        )
        if request.expiry is not None:
            current = int(time.time()) if now is None else now
            if current > request.expiry:
                raise InvoiceExpiredError(
                    f"invoice expired at {request.expiry}, now {current}",
                    expiry=request.expiry,
                    now=current,
                )
        return request

    # -- rendering (error correction level M, 4-module quiet zone by default) ----------------

    def render_png(
        self, out: str | os.PathLike[str] | BinaryIO, *, scale: int = 8, border: int = 4
    ) -> None:
        """Write a 1-bit greyscale PNG, ``scale`` pixels per module, to a path or binary stream."""
        self._symbol().save(_target(out), kind="png", scale=scale, border=border)

    def render_svg(
        self, out: str | os.PathLike[str] | BinaryIO, *, scale: int = 8, border: int = 4
    ) -> None:
        """Write a standalone SVG document (UTF-8) to a path or binary stream."""
        self._symbol().save(_target(out), kind="svg", scale=scale, border=border, title=self.label)

    def to_svg_string(self, *, scale: int = 8, border: int = 4) -> str:
        """The SVG element alone (no XML declaration), ready to inline into HTML."""
        buffer = io.BytesIO()
        self._symbol().save(
            buffer, kind="svg", scale=scale, border=border, title=self.label, xmldecl=False
        )
        return buffer.getvalue().decode("utf-8")

    def _symbol(self) -> segno.QRCode:
        # segno would otherwise raise the level above M whenever that fits in the same size.
        return segno.make(self.to_uri(), error="m", boost_error=False, micro=False)


def _target(out: str | os.PathLike[str] | BinaryIO) -> str | BinaryIO:
    return os.fspath(out) if isinstance(out, str | os.PathLike) else out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _split(uri: str) -> tuple[str, int, dict[str, str]]:
    """Split into token, chain id and the raw (still encoded) parameter values."""
    if uri[: len(_SCHEME)].lower() != _SCHEME:
        raise _fail(PaymentUriReason.WRONG_SCHEME, "not an ethereum: URI")
    if not _URI_CHARS.issuperset(uri) or _BAD_PERCENT.search(uri):
        raise _fail(PaymentUriReason.MALFORMED_URI, "characters not allowed in a URI")
    head, has_query, query = uri[len(_SCHEME) :].partition("?")
    target, has_function, function = head.partition("/")
    token_text, has_chain, chain_text = target.partition("@")
    token = _address_text(token_text.removeprefix("pay-"), "token")
    if not has_chain or not chain_text:
        raise _fail(PaymentUriReason.MISSING_CHAIN_ID, "the @chainId is missing")
    if not _DIGITS.fullmatch(chain_text):
        raise _fail(PaymentUriReason.BAD_CHAIN_ID, "chain id is not a decimal uint64")
    if not has_function or not function:
        raise _fail(PaymentUriReason.MISSING_FUNCTION, "no function; expected /pay")
    if function != _FUNCTION:
        raise _fail(PaymentUriReason.UNKNOWN_FUNCTION, "only /pay is supported", function=function)
    params: dict[str, str] = {}
    for part in query.split("&") if has_query else ():
        key, has_value, value = part.partition("=")
        if not key or not has_value:
            raise _fail(PaymentUriReason.MALFORMED_PARAMETER, "parameter is not key=value")
        if key not in _KEYS:
            raise _fail(PaymentUriReason.UNKNOWN_PARAMETER, "unknown parameter", key=key)
        if key in params:
            raise _fail(PaymentUriReason.DUPLICATE_PARAMETER, "parameter repeated", key=key)
        params[key] = value
    return token, int(chain_text), params


def _address_text(value: str, field: str) -> str:
    # Only the shape is checked here; the checksum is checked when the request is built.
    if not _ADDRESS.fullmatch(value):
        raise _fail(
            PaymentUriReason.MALFORMED_ADDRESS,
            f"{field} is not a 0x-prefixed 20-byte hex address",
            field=field,
            value=value,
        )
    return value


def _checksum(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise _fail(PaymentUriReason.MALFORMED_ADDRESS, f"{field} is not a string", field=field)
    _address_text(value, field)
    checksummed = to_checksum_address(value)
    # All-lowercase carries no checksum (EIP-55); any other casing must be the exact checksum.
    if value != value.lower() and value != checksummed:
        raise _fail(
            PaymentUriReason.BAD_CHECKSUM,
            f"{field} has a wrong EIP-55 checksum",
            field=field,
            value=value,
        )
    return checksummed


def _check_amount(amount: int) -> None:
    if not _is_int(amount):
        raise _fail(PaymentUriReason.NON_INTEGER_AMOUNT, "amount must be an integer")
    if amount <= 0:
        raise _fail(PaymentUriReason.NON_POSITIVE_AMOUNT, "amount must be positive")
    if amount >= _UINT256_LIMIT:
        raise _fail(PaymentUriReason.AMOUNT_TOO_LARGE, "amount does not fit in uint256")


def _parse_amount(text: str) -> int:
    """Exact value of an EIP-681 number such as ``1500``, ``1.5e3`` or ``2E18``."""
    match = _NUMBER.fullmatch(text) if len(text) <= _MAX_NUMBER_LENGTH else None
    if match is None or not (match.group(2) or match.group(3)):
        raise _fail(PaymentUriReason.MALFORMED_AMOUNT, "amount is not a number", value=text)
    sign, whole, fraction, exponent_text = match.groups(default="")
    mantissa = int(whole + fraction or "0")
    # Shift by the exponent less the fraction digits, in integers: floats would round.
    shift = int(exponent_text or "0") - len(fraction)
    if mantissa == 0:
        value = 0
    elif shift > 78:  # 10**78 > 2**256
        raise _fail(PaymentUriReason.AMOUNT_TOO_LARGE, "amount does not fit in uint256")
    elif shift >= 0:
        value = mantissa * 10**shift
    else:
        value, remainder = divmod(mantissa, 10**-shift)
        if remainder:
            raise _fail(PaymentUriReason.NON_INTEGER_AMOUNT, "amount is not a whole number")
    _check_amount(-value if sign == "-" else value)
    return value


def _parse_invoice_id(text: str) -> bytes:
    if not _INVOICE_ID.fullmatch(text):
        raise _fail(PaymentUriReason.BAD_INVOICE_ID, "invoice id is not 0x + 64 hex digits")
    return bytes.fromhex(text[2:])


def _parse_expiry(text: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise _fail(PaymentUriReason.BAD_EXPIRY, "expiry is not unix seconds", value=text)
    return int(text)


def _parse_label(text: str) -> str:
    try:
        return unquote(text, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise _fail(PaymentUriReason.BAD_LABEL, "label is not percent-encoded UTF-8") from None


def _check_label(label: str) -> None:
    if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL_LENGTH:
        raise _fail(PaymentUriReason.BAD_LABEL, f"label must be 1..{MAX_LABEL_LENGTH} characters")
    if any(unicodedata.category(ch) in _FORBIDDEN_LABEL_CATEGORIES for ch in label):
        raise _fail(PaymentUriReason.BAD_LABEL, "label contains control or invisible characters")
