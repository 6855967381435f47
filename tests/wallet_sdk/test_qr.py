"""wallet_sdk.qr: EIP-681 payment URIs and their QR rendering."""

from __future__ import annotations

import io
import struct
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
import segno
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet_sdk import (
    MAX_LABEL_LENGTH,
    DongneError,
    InvalidPaymentUriError,
    InvoiceExpiredError,
    PaymentRequest,
    PaymentUriReason,
)

R = PaymentUriReason
TOKEN = to_checksum_address("0x5fbdb2315678afecb367f032d93f642f64180aa3")
MERCHANT = to_checksum_address("0x70997970c51812dc3a010c7d01b50e0d17dc79c8")
CHAIN = 31337
INVOICE = "0x" + "ab" * 32
EXPIRY = 1_900_000_000
HEAD = f"ethereum:{TOKEN}@{CHAIN}/pay"
INVOICE_QUERY = f"address={MERCHANT}&uint256=5000&bytes32={INVOICE}&expiry={EXPIRY}"


def flip_case(address: str) -> str:
    """The address with the case of its first letter swapped: a checksum error."""
    i = next(i for i, ch in enumerate(address) if i > 1 and ch.isalpha())
    return address[:i] + address[i].swapcase() + address[i + 1 :]


def invoice_uri(**overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "address": MERCHANT,
        "uint256": "5000",
        "bytes32": INVOICE,
        "expiry": str(EXPIRY),
    }
    params.update(overrides)
    return HEAD + "?" + "&".join(f"{k}={v}" for k, v in params.items() if v is not None)


# -- round trips ---------------------------------------------------------------------------

addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
hangul = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
printable = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))
labels = st.text(alphabet=hangul | printable, min_size=1, max_size=MAX_LABEL_LENGTH)


@st.composite
def requests(draw: st.DrawFn) -> PaymentRequest:
    invoice = draw(st.booleans())
    return PaymentRequest(
        token=draw(addresses),
        chain_id=draw(st.integers(1, 2**64 - 1)),
        merchant=draw(addresses),
        amount=draw(st.integers(1, 2**256 - 1)) if invoice else None,
        invoice_id=draw(st.binary(min_size=32, max_size=32)) if invoice else None,
        expiry=draw(st.integers(0, 2**64 - 1)) if invoice else None,
        label=draw(st.none() | labels),
    )


@settings(max_examples=300)
@given(request=requests())
def test_round_trip(request: PaymentRequest) -> None:
    uri = request.to_uri()
    assert uri.isascii()
    assert PaymentRequest.parse(uri, now=0) == request
    assert PaymentRequest.parse(uri, now=0).to_uri() == uri


@given(label=st.text(alphabet=hangul, min_size=1, max_size=MAX_LABEL_LENGTH))
def test_korean_label_round_trip(label: str) -> None:
    request = PaymentRequest(TOKEN, CHAIN, MERCHANT, label=label)
    assert PaymentRequest.parse(request.to_uri()).label == label


def test_static_code_exact_form() -> None:
    request = PaymentRequest(TOKEN, CHAIN, MERCHANT, label="동네 빵집")
    assert request.to_uri() == (
        f"{HEAD}?address={MERCHANT}&label=%EB%8F%99%EB%84%A4%20%EB%B9%B5%EC%A7%91"
    )
    assert not request.is_invoice


def test_invoice_exact_form_and_key_order() -> None:
    request = PaymentRequest(
        token=TOKEN,
        chain_id=CHAIN,
        merchant=MERCHANT,
        amount=5000,
        invoice_id=bytes.fromhex(INVOICE[2:]),
        expiry=EXPIRY,
        label="A&B=C?#+/%",
    )
    assert request.to_uri() == f"{HEAD}?{INVOICE_QUERY}&label=A%26B%3DC%3F%23%2B%2F%25"
    assert request.is_invoice
    assert PaymentRequest.parse(request.to_uri(), now=0) == request


def test_lowercase_addresses_normalised_to_checksum() -> None:
    request = PaymentRequest(TOKEN.lower(), CHAIN, MERCHANT.lower())
    assert (request.token, request.merchant) == (TOKEN, MERCHANT)
    parsed = PaymentRequest.parse(
        f"ethereum:{TOKEN.lower()}@{CHAIN}/pay?address={MERCHANT.lower()}"
    )
    assert parsed == request


def test_bytearray_invoice_id_normalised() -> None:
    # Untyped callers may pass a bytearray; it must still compare equal to parsed requests.
    request = PaymentRequest(TOKEN, CHAIN, MERCHANT, 1, bytearray(32), 0)  # type: ignore[arg-type]
    assert type(request.invoice_id) is bytes


@pytest.mark.parametrize(
    "uri",
    [
        f"ethereum:pay-{TOKEN}@{CHAIN}/pay?{INVOICE_QUERY}",  # EIP-681's optional prefix
        f"ETHEREUM:{TOKEN}@{CHAIN}/pay?{INVOICE_QUERY}",  # schemes are case-insensitive
        f"{HEAD}?expiry={EXPIRY}&bytes32={INVOICE}&uint256=5000&address={MERCHANT}",
        f"{HEAD}?address={MERCHANT}&uint256=5e3&bytes32={INVOICE.upper().replace('0X', '0x')}"
        f"&expiry={EXPIRY}",
    ],
)
def test_accepted_variants(uri: str) -> None:
    expected = PaymentRequest(TOKEN, CHAIN, MERCHANT, 5000, bytes.fromhex(INVOICE[2:]), EXPIRY)
    assert PaymentRequest.parse(uri, now=0) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1000", 1000),
        ("007", 7),
        ("+7", 7),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1.5e3", 1500),
        ("0.5e1", 5),
        (".5e1", 5),
        ("2.014e18", 2_014_000_000_000_000_000),
        ("1.000", 1),
        ("1e0", 1),
        (f"{str(2**256 - 3)[0]}.{str(2**256 - 3)[1:]}e77", 2**256 - 3),
        (str(2**256 - 1), 2**256 - 1),
    ],
)
def test_amount_number_forms(text: str, value: int) -> None:
    assert PaymentRequest.parse(invoice_uri(uint256=text), now=0).amount == value


@given(mantissa=st.integers(1, 10**30), exponent=st.integers(0, 40), data=st.data())
def test_amount_scientific_notation_is_exact(
    mantissa: int, exponent: int, data: st.DataObject
) -> None:
    # The digits of `mantissa` with a decimal point `point` places from the right, times 10**exp.
    point = data.draw(st.integers(0, exponent))
    digits = str(mantissa).rjust(point + 1, "0")
    whole, fraction = digits[: len(digits) - point], digits[len(digits) - point :]
    text = f"{whole}.{fraction}e{exponent}" if fraction else f"{whole}e{exponent}"
    expected = mantissa * 10 ** (exponent - point)
    assert PaymentRequest.parse(invoice_uri(uint256=text), now=0).amount == expected


# -- rejections ----------------------------------------------------------------------------

REJECTED: list[tuple[str, PaymentUriReason]] = [
    ("", R.WRONG_SCHEME),
    ("https://pay.example/merchant", R.WRONG_SCHEME),
    (f"eth:{TOKEN}@{CHAIN}/pay?address={MERCHANT}", R.WRONG_SCHEME),
    (f"bitcoin:{TOKEN}", R.WRONG_SCHEME),
    (f" {HEAD}?address={MERCHANT}", R.WRONG_SCHEME),
    (f"{HEAD}?address={MERCHANT}&label=a b", R.MALFORMED_URI),
    (f"{HEAD}?address={MERCHANT}&label=동네", R.MALFORMED_URI),
    (f"{HEAD}?address={MERCHANT}#top", R.MALFORMED_URI),
    (f"{HEAD}?address={MERCHANT}&label=%zz", R.MALFORMED_URI),
    (f"{HEAD}?address={MERCHANT}&label=%4", R.MALFORMED_URI),
    (f"{HEAD}?address={MERCHANT}\n", R.MALFORMED_URI),
    (f"ethereum:0xabc@{CHAIN}/pay?address={MERCHANT}", R.MALFORMED_ADDRESS),
    (f"ethereum:dongne.eth@{CHAIN}/pay?address={MERCHANT}", R.MALFORMED_ADDRESS),
    (f"ethereum:{TOKEN[2:]}@{CHAIN}/pay?address={MERCHANT}", R.MALFORMED_ADDRESS),
    (f"ethereum:0X{TOKEN[2:]}@{CHAIN}/pay?address={MERCHANT}", R.MALFORMED_ADDRESS),
    (f"ethereum:get-{TOKEN}@{CHAIN}/pay?address={MERCHANT}", R.MALFORMED_ADDRESS),
    (f"{HEAD}?address=0x{'g' * 40}", R.MALFORMED_ADDRESS),
    (f"{HEAD}?address={MERCHANT}00", R.MALFORMED_ADDRESS),
    (f"{HEAD}?address=", R.MALFORMED_ADDRESS),
    (f"ethereum:{flip_case(TOKEN)}@{CHAIN}/pay?address={MERCHANT}", R.BAD_CHECKSUM),
    (f"{HEAD}?address={flip_case(MERCHANT)}", R.BAD_CHECKSUM),
    (f"{HEAD}?address=0x{MERCHANT[2:].upper()}", R.BAD_CHECKSUM),
    (f"ethereum:{TOKEN}/pay?address={MERCHANT}", R.MISSING_CHAIN_ID),
    (f"ethereum:{TOKEN}@/pay?address={MERCHANT}", R.MISSING_CHAIN_ID),
    (f"ethereum:{TOKEN}@abc/pay?address={MERCHANT}", R.BAD_CHAIN_ID),
    (f"ethereum:{TOKEN}@-1/pay?address={MERCHANT}", R.BAD_CHAIN_ID),
    (f"ethereum:{TOKEN}@1.0/pay?address={MERCHANT}", R.BAD_CHAIN_ID),
    (f"ethereum:{TOKEN}@1e3/pay?address={MERCHANT}", R.BAD_CHAIN_ID),
    (f"ethereum:{TOKEN}@0/pay?address={MERCHANT}", R.BAD_CHAIN_ID),
    (f"ethereum:{TOKEN}@{2**64}/pay?address={MERCHANT}", R.BAD_CHAIN_ID),
    (f"ethereum:{TOKEN}@{'9' * 21}/pay?address={MERCHANT}", R.BAD_CHAIN_ID),
    (f"ethereum:{TOKEN}@{CHAIN}?address={MERCHANT}", R.MISSING_FUNCTION),
    (f"ethereum:{TOKEN}@{CHAIN}/?address={MERCHANT}", R.MISSING_FUNCTION),
    (f"ethereum:{TOKEN}@{CHAIN}/transfer?address={MERCHANT}&uint256=1", R.UNKNOWN_FUNCTION),
    (f"ethereum:{TOKEN}@{CHAIN}/Pay?address={MERCHANT}", R.UNKNOWN_FUNCTION),
    (f"ethereum:{TOKEN}@{CHAIN}/pay/x?address={MERCHANT}", R.UNKNOWN_FUNCTION),
    (f"{HEAD}?address={MERCHANT}&label", R.MALFORMED_PARAMETER),
    (f"{HEAD}?address={MERCHANT}&&label=x", R.MALFORMED_PARAMETER),
    (f"{HEAD}?address={MERCHANT}&", R.MALFORMED_PARAMETER),
    (f"{HEAD}?=1&address={MERCHANT}", R.MALFORMED_PARAMETER),
    (f"{HEAD}?", R.MALFORMED_PARAMETER),
    (f"{HEAD}?address={MERCHANT}&value=1", R.UNKNOWN_PARAMETER),
    (f"{HEAD}?address={MERCHANT}&gas=21000", R.UNKNOWN_PARAMETER),
    (f"{HEAD}?address={MERCHANT}&amount=1", R.UNKNOWN_PARAMETER),
    (f"{HEAD}?Address={MERCHANT}", R.UNKNOWN_PARAMETER),
    (f"{HEAD}?address={MERCHANT}&address={MERCHANT}", R.DUPLICATE_PARAMETER),
    (f"{HEAD}?address={MERCHANT}&label=a&label=a", R.DUPLICATE_PARAMETER),
    (f"{HEAD}?{INVOICE_QUERY}&uint256=5000", R.DUPLICATE_PARAMETER),
    (HEAD, R.MISSING_MERCHANT),
    (f"{HEAD}?label=shop", R.MISSING_MERCHANT),
    (invoice_uri(uint256="abc"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256=""), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="1e"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="1."), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="."), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="e5"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="0x10"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="1e-3"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="1e+3"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="1,000"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="--1"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="%31"), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="1" * 101), R.MALFORMED_AMOUNT),
    (invoice_uri(uint256="1.5"), R.NON_INTEGER_AMOUNT),
    (invoice_uri(uint256="1.5e0"), R.NON_INTEGER_AMOUNT),
    (invoice_uri(uint256="1234.5678e3"), R.NON_INTEGER_AMOUNT),
    (invoice_uri(uint256="-1.5"), R.NON_INTEGER_AMOUNT),
    (invoice_uri(uint256="0"), R.NON_POSITIVE_AMOUNT),
    (invoice_uri(uint256="-0"), R.NON_POSITIVE_AMOUNT),
    (invoice_uri(uint256="0.0e5"), R.NON_POSITIVE_AMOUNT),
    (invoice_uri(uint256="-5"), R.NON_POSITIVE_AMOUNT),
    (invoice_uri(uint256="-1e3"), R.NON_POSITIVE_AMOUNT),
    (invoice_uri(uint256=str(2**256)), R.AMOUNT_TOO_LARGE),
    (invoice_uri(uint256="1e78"), R.AMOUNT_TOO_LARGE),
    (invoice_uri(uint256="1e99999999999999999999"), R.AMOUNT_TOO_LARGE),
    (invoice_uri(bytes32="0x" + "ab" * 31), R.BAD_INVOICE_ID),
    (invoice_uri(bytes32="0x" + "ab" * 33), R.BAD_INVOICE_ID),
    (invoice_uri(bytes32="ab" * 32), R.BAD_INVOICE_ID),
    (invoice_uri(bytes32="0x" + "zz" * 32), R.BAD_INVOICE_ID),
    (invoice_uri(bytes32="42"), R.BAD_INVOICE_ID),
    (invoice_uri(expiry="-1"), R.BAD_EXPIRY),
    (invoice_uri(expiry="1.9e9"), R.BAD_EXPIRY),
    (invoice_uri(expiry="soon"), R.BAD_EXPIRY),
    (invoice_uri(expiry=""), R.BAD_EXPIRY),
    (invoice_uri(expiry=str(2**64)), R.BAD_EXPIRY),
    (invoice_uri(bytes32=None, expiry=None), R.INCOMPLETE_INVOICE),
    (invoice_uri(expiry=None), R.INCOMPLETE_INVOICE),
    (invoice_uri(uint256=None), R.INCOMPLETE_INVOICE),
    (invoice_uri(uint256=None, bytes32=None), R.INCOMPLETE_INVOICE),
    (f"{HEAD}?address={MERCHANT}&label=", R.BAD_LABEL),
    (f"{HEAD}?address={MERCHANT}&label=%FF", R.BAD_LABEL),
    (f"{HEAD}?address={MERCHANT}&label=%ED%95", R.BAD_LABEL),
    (f"{HEAD}?address={MERCHANT}&label=a%0Ab", R.BAD_LABEL),
    (f"{HEAD}?address={MERCHANT}&label=%00", R.BAD_LABEL),
    (f"{HEAD}?address={MERCHANT}&label=shop%E2%80%AEgpj.exe", R.BAD_LABEL),  # RLO
    (f"{HEAD}?address={MERCHANT}&label=a%E2%80%8Bb", R.BAD_LABEL),  # zero-width space
    (f"{HEAD}?address={MERCHANT}&label={'a' * (MAX_LABEL_LENGTH + 1)}", R.BAD_LABEL),
]


@pytest.mark.parametrize(("uri", "reason"), REJECTED)
def test_rejected(uri: str, reason: PaymentUriReason) -> None:
    with pytest.raises(InvalidPaymentUriError) as info:
        PaymentRequest.parse(uri, now=0)
    err = info.value
    assert err.reason == reason, err.detail
    assert type(err) is InvalidPaymentUriError
    assert isinstance(err, ValueError)
    assert isinstance(err, DongneError)
    assert err.code == "INVALID_PAYMENT_URI"


def test_every_reason_is_exercised() -> None:
    assert {reason for _, reason in REJECTED} | {R.EXPIRED} == set(PaymentUriReason)


def test_address_errors_name_the_field() -> None:
    with pytest.raises(InvalidPaymentUriError) as info:
        PaymentRequest.parse(f"{HEAD}?address={flip_case(MERCHANT)}")
    assert info.value.args_ == {"field": "merchant", "value": flip_case(MERCHANT)}
    with pytest.raises(InvalidPaymentUriError) as info:
        PaymentRequest.parse(f"ethereum:0x12@{CHAIN}/pay?address={MERCHANT}")
    assert info.value.args_["field"] == "token"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"chain_id": 0}, R.BAD_CHAIN_ID),
        ({"chain_id": True}, R.BAD_CHAIN_ID),
        ({"token": flip_case(TOKEN)}, R.BAD_CHECKSUM),
        ({"merchant": "shop.eth"}, R.MALFORMED_ADDRESS),
        ({"amount": 0, "invoice_id": bytes(32), "expiry": 1}, R.NON_POSITIVE_AMOUNT),
        ({"amount": 1.0, "invoice_id": bytes(32), "expiry": 1}, R.NON_INTEGER_AMOUNT),
        ({"amount": True, "invoice_id": bytes(32), "expiry": 1}, R.NON_INTEGER_AMOUNT),
        ({"amount": 2**256, "invoice_id": bytes(32), "expiry": 1}, R.AMOUNT_TOO_LARGE),
        ({"amount": 1, "invoice_id": bytes(31), "expiry": 1}, R.BAD_INVOICE_ID),
        ({"amount": 1, "invoice_id": "00" * 32, "expiry": 1}, R.BAD_INVOICE_ID),
        ({"amount": 1, "invoice_id": bytes(32), "expiry": -1}, R.BAD_EXPIRY),
        ({"amount": 1}, R.INCOMPLETE_INVOICE),
        ({"label": ""}, R.BAD_LABEL),
        ({"label": "line\nbreak"}, R.BAD_LABEL),
        ({"label": "\ud800"}, R.BAD_LABEL),
    ],
)
def test_constructor_validates(fields: dict[str, object], reason: PaymentUriReason) -> None:
    arguments: dict[str, object] = {"token": TOKEN, "chain_id": CHAIN, "merchant": MERCHANT}
    arguments.update(fields)
    with pytest.raises(InvalidPaymentUriError) as info:
        PaymentRequest(**arguments)  # type: ignore[arg-type]  # deliberately ill-typed values
    assert info.value.reason == reason


# -- expiry --------------------------------------------------------------------------------


def test_expiry_boundary() -> None:
    uri = invoice_uri()
    assert PaymentRequest.parse(uri, now=EXPIRY).expiry == EXPIRY  # still valid at expiry
    with pytest.raises(InvoiceExpiredError) as info:
        PaymentRequest.parse(uri, now=EXPIRY + 1)
    err = info.value
    assert isinstance(err, InvalidPaymentUriError)
    assert isinstance(err, ValueError)
    assert (err.reason, err.expiry, err.now) == (R.EXPIRED, EXPIRY, EXPIRY + 1)


def test_expiry_defaults_to_current_time() -> None:
    now = int(time.time())
    with pytest.raises(InvoiceExpiredError):
        PaymentRequest.parse(invoice_uri(expiry=str(now - 60)))
    assert PaymentRequest.parse(invoice_uri(expiry=str(now + 3600))).expiry == now + 3600


def test_static_code_never_expires() -> None:
    assert PaymentRequest.parse(f"{HEAD}?address={MERCHANT}", now=2**70).expiry is None


def test_validity_checked_before_expiry() -> None:
    with pytest.raises(InvalidPaymentUriError) as info:
        PaymentRequest.parse(invoice_uri(uint256="0", expiry="1"), now=10)
    assert info.value.reason == R.NON_POSITIVE_AMOUNT


# -- rendering -----------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"
REQUEST = PaymentRequest(
    TOKEN, CHAIN, MERCHANT, 5000, bytes.fromhex(INVOICE[2:]), EXPIRY, "동네 빵집 <&> \"'"
)


def decode_png(data: bytes) -> list[list[int]]:
    """Pixels (0 black, 1 white) of a non-interlaced 1-bit greyscale PNG; checks every CRC."""
    assert data[:8] == PNG_SIGNATURE
    chunks: list[tuple[bytes, bytes]] = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1] == (b"IEND", b"")
    width, height, *layout = struct.unpack(">2I5B", chunks[0][1])
    assert layout == [1, 0, 0, 0, 0]  # bit depth 1, greyscale, deflate, adaptive, no interlace
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = (width + 7) // 8
    assert len(raw) == height * (stride + 1)
    pixels: list[list[int]] = []
    previous = bytes(stride)
    for y in range(height):
        filter_type, line = (
            raw[y * (stride + 1)],
            raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)],
        )
        if filter_type == 0:
            row = line
        elif filter_type == 2:  # "Up"
            row = bytes((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        else:
            pytest.fail(f"unexpected PNG filter {filter_type}")
        previous = row
        pixels.append([row[x >> 3] >> (7 - (x & 7)) & 1 for x in range(width)])
    return pixels


def to_modules(pixels: list[list[int]], scale: int) -> list[list[int]]:
    """Module grid (1 = dark) from a rendering at ``scale``, checking each block is uniform."""
    size = len(pixels) // scale
    assert len(pixels) == len(pixels[0]) == size * scale
    grid = []
    for r in range(size):
        block_rows = pixels[r * scale : (r + 1) * scale]
        row = []
        for c in range(size):
            block = {p for line in block_rows for p in line[c * scale : (c + 1) * scale]}
            assert len(block) == 1
            row.append(1 - block.pop())
        grid.append(row)
    return grid


def format_bits(modules: list[list[int]]) -> int:
    """The 15 format-information bits next to the top-left finder, unmasked (ISO 18004 7.9)."""
    coords = [(8, x) for x in range(6)] + [(8, 7), (8, 8), (7, 8)]
    coords += [(y, 8) for y in range(5, -1, -1)]
    bits = 0
    for r, c in coords:
        bits = bits << 1 | modules[r][c]
    return bits ^ 0b101010000010010


def bch_format(data: int) -> int:
    remainder = data << 10
    for bit in range(14, 9, -1):
        if remainder >> bit & 1:
            remainder ^= 0b10100110111 << (bit - 10)
    return data << 10 | remainder


@pytest.mark.parametrize(("scale", "border"), [(1, 4), (3, 4), (8, 2), (5, 0)])
def test_png_decodes_to_expected_symbol(scale: int, border: int) -> None:
    buffer = io.BytesIO()
    REQUEST.render_png(buffer, scale=scale, border=border)
    pixels = decode_png(buffer.getvalue())
    modules = to_modules(pixels, scale)
    size = len(modules) - 2 * border
    assert (size - 17) % 4 == 0  # a full QR symbol of version (size - 17) / 4, not Micro QR
    outside = [row[:border] + row[border + size :] for row in modules]
    outside += modules[:border] + modules[border + size :]
    assert all(m == 0 for line in outside for m in line)  # quiet zone
    symbol = [row[border : border + size] for row in modules[border : border + size]]
    finder = [[1] * 7, [1, 0, 0, 0, 0, 0, 1], *[[1, 0, 1, 1, 1, 0, 1]] * 3]
    finder += [[1, 0, 0, 0, 0, 0, 1], [1] * 7]
    for top, left in [(0, 0), (0, size - 7), (size - 7, 0)]:
        assert [row[left : left + 7] for row in symbol[top : top + 7]] == finder
    info = format_bits(symbol)
    assert bch_format(info >> 10) == info  # a valid code word, so read at the right place
    assert info >> 13 == 0b00  # error correction level M
    expected = segno.make(REQUEST.to_uri(), error="m", boost_error=False, micro=False)
    assert symbol == [list(row) for row in expected.matrix]


def test_png_to_path(tmp_path: Path) -> None:
    for path in (tmp_path / "code.png", str(tmp_path / "code2.png")):
        REQUEST.render_png(path, scale=2)
        data = Path(path).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        width, height = struct.unpack(">2I", data[12 + 4 : 12 + 12])  # IHDR follows the signature
        assert width == height == len(decode_png(data))
        assert width == 2 * len(to_modules(decode_png(data), 2))


def test_svg_string_is_well_formed() -> None:
    text = REQUEST.to_svg_string(scale=3)
    assert not text.startswith("<?xml")
    root = ET.fromstring(text)
    assert root.tag == f"{SVG_NS}svg"
    size = int(root.attrib["width"])
    assert size == int(root.attrib["height"])
    assert size % 3 == 0
    assert root.findtext(f"{SVG_NS}title") == REQUEST.label
    assert root.find(f"{SVG_NS}path") is not None


def test_svg_document_to_stream_and_path(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    REQUEST.render_svg(buffer)
    assert buffer.getvalue().startswith(b"<?xml")
    assert ET.fromstring(buffer.getvalue()).tag == f"{SVG_NS}svg"
    path = tmp_path / "code.svg"
    REQUEST.render_svg(path, scale=2, border=1)
    assert ET.parse(path).getroot().tag == f"{SVG_NS}svg"


def test_svg_without_label_has_no_title() -> None:
    request = PaymentRequest(TOKEN, CHAIN, MERCHANT)
    assert ET.fromstring(request.to_svg_string()).find(f"{SVG_NS}title") is None
