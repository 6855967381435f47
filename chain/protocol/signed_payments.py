"""Token-native signed payments: ``VoucherToken.payBySig`` / ``payBySigBatch`` (issue 17).

A payer signs an EIP-712 ``SignedPayment`` under its city's token domain ("Dongne Voucher",
"1", chain id, the token proxy); anyone (the relayer) submits it. The nonce is the payer's
payment sequence on that token (``accountOf(payer).nextPaymentSeq``): any payment of the payer
uses it up. The signature is EIP-2098 compact, ``PaymentSignature {r, vs}``.

The struct's type string is derived from the committed ABI's ``SignedPayment`` components, so
a change to the struct reaches the digest with the next ``scripts/export_abis.py``. Signing and
recovery go straight to libsecp256k1 through coincurve, as :mod:`chain.protocol.forwarder`
does; nothing of the server stack is imported, so wallet apps can use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, cast

from coincurve import PrivateKey, PublicKey
from eth_abi.abi import decode as abi_decode

from chain.protocol.abi import AbiEntry, load_abi
from chain.protocol.contracts import encode_function, input_types, selector
from chain.protocol.forwarder import (
    _HALF_N,
    _PAD,
    _SECP256K1_N,
    _UINT256,
    ForwarderDomain,
    InvalidSignatureError,
    RequestFormatError,
    _address,
    _address_of,
    _json_bytes,
    _json_int,
    _uint,
)
from chain.protocol.hashing import keccak_hasher, to_checksum

__all__ = [
    "PAY_BY_SIG_BATCH_SELECTOR",
    "PAY_BY_SIG_SELECTOR",
    "SIGNED_PAYMENT_TYPE",
    "SIGNED_PAYMENT_TYPEHASH",
    "TOKEN_DOMAIN_NAME",
    "TOKEN_DOMAIN_VERSION",
    "PaymentSignature",
    "SignedPayment",
    "decode_pay_by_sig",
    "encode_pay_by_sig",
    "encode_pay_by_sig_batch",
    "payment_digest",
    "payment_from_json",
    "payment_request_id",
    "payment_to_json",
    "recover_payer",
    "sign_payment",
    "token_domain",
    "verify_payment",
]

TOKEN_DOMAIN_NAME: Final = "Dongne Voucher"
TOKEN_DOMAIN_VERSION: Final = "1"


def _struct_type(function: str, index: int) -> str:
    """``Name(type field,...)`` of a struct parameter, from the ABI's ``internalType`` and
    components: the EIP-712 encodeType of a struct without nested structs."""
    entry: AbiEntry = next(
        e for e in load_abi("VoucherToken") if e["type"] == "function" and e["name"] == function
    )
    param = cast(list[AbiEntry], entry["inputs"])[index]
    name = str(param["internalType"]).removeprefix("struct ").split(".")[-1]
    fields = []
    for component in cast(list[AbiEntry], param["components"]):
        kind = str(component["type"])
        if kind.startswith("tuple"):  # would need the referenced type appended (EIP-712)
            raise RuntimeError(f"{name} nests a struct; its EIP-712 type is not derived here")
        fields.append(f"{kind} {component['name']}")
    return f"{name}({','.join(fields)})"


SIGNED_PAYMENT_TYPE: Final = _struct_type("payBySig", 0)
"""``SignedPayment(address payer,...)``, derived from the committed ABI."""
SIGNED_PAYMENT_TYPEHASH: Final = keccak_hasher()(SIGNED_PAYMENT_TYPE.encode())
"""Equals the token's ``SIGNED_PAYMENT_TYPEHASH()`` (tested against the chain)."""
PAY_BY_SIG_SELECTOR: Final = selector("payBySig")
PAY_BY_SIG_BATCH_SELECTOR: Final = selector("payBySigBatch")
_PAYMENT_ARGS = input_types("payBySig")
_LOW_255 = (1 << 255) - 1


def token_domain(chain_id: int, token: str) -> ForwarderDomain:
    """A city's token EIP-712 domain (the same four fields as the forwarder's)."""
    return ForwarderDomain(chain_id, token, TOKEN_DOMAIN_NAME, TOKEN_DOMAIN_VERSION)


@dataclass(frozen=True, slots=True)
class SignedPayment:
    """The struct a payer signs. Addresses normalised to EIP-55; ``nonce`` is the payer's
    payment sequence on the token; ``deadline`` unix seconds."""

    payer: str
    merchant: str
    amount: int
    payment_id: bytes  # 32 bytes; zero for a payment that names no invoice
    program_ids: tuple[int, ...]
    nonce: int
    deadline: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "payer", _address("payer", self.payer))
        object.__setattr__(self, "merchant", _address("merchant", self.merchant))
        _uint("amount", self.amount, _UINT256)
        _uint("nonce", self.nonce, _UINT256)
        _uint("deadline", self.deadline, _UINT256)
        if not isinstance(self.payment_id, bytes) or len(self.payment_id) != 32:
            raise RequestFormatError("paymentId", "must be 32 bytes")
        ids = tuple(self.program_ids)
        for program in ids:
            _uint("programIds", program, _UINT256)
        object.__setattr__(self, "program_ids", ids)

    def as_tuple(self) -> tuple[object, ...]:
        """The struct as eth-abi encodes it (field order of the ABI)."""
        return (
            self.payer,
            self.merchant,
            self.amount,
            self.payment_id,
            list(self.program_ids),
            self.nonce,
            self.deadline,
        )


@dataclass(frozen=True, slots=True)
class PaymentSignature:
    """EIP-2098 compact signature: ``vs`` is s with v - 27 in its top bit."""

    r: bytes
    vs: bytes

    def __post_init__(self) -> None:
        for name in ("r", "vs"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise InvalidSignatureError("length")

    @property
    def compact(self) -> bytes:
        """``r || vs``: the 64 bytes a store keeps."""
        return self.r + self.vs

    @classmethod
    def from_rsv(cls, rsv: bytes) -> PaymentSignature:
        """From a 65-byte ``r || s || v`` signature (v = 27/28, or 0/1), as a key signs a
        digest (``wallet_sdk.keys.LocalKey.sign_digest``)."""
        if len(rsv) != 65 or rsv[64] not in (0, 1, 27, 28):
            raise InvalidSignatureError("length" if len(rsv) != 65 else "bad_v")
        vs = int.from_bytes(rsv[32:64], "big") | (rsv[64] % 27) << 255
        return cls(rsv[:32], vs.to_bytes(32, "big"))

    @classmethod
    def from_compact(cls, raw: bytes) -> PaymentSignature:
        if len(raw) != 64:
            raise InvalidSignatureError("length")
        return cls(raw[:32], raw[32:])


def payment_digest(domain: ForwarderDomain, payment: SignedPayment) -> bytes:
    """The EIP-712 digest the payer signs and the token recovers the payer from."""
    k = keccak_hasher()
    programs = b"".join(p.to_bytes(32, "big") for p in payment.program_ids)
    struct_hash = k(
        SIGNED_PAYMENT_TYPEHASH
        + _PAD
        + bytes.fromhex(payment.payer[2:])
        + _PAD
        + bytes.fromhex(payment.merchant[2:])
        + payment.amount.to_bytes(32, "big")
        + payment.payment_id
        + k(programs)
        + payment.nonce.to_bytes(32, "big")
        + payment.deadline.to_bytes(32, "big")
    )
    return k(b"\x19\x01" + domain.separator + struct_hash)


def sign_payment(
    private_key: bytes, domain: ForwarderDomain, payment: SignedPayment
) -> PaymentSignature:
    """Sign ``payment`` with a 32-byte secp256k1 key (RFC 6979, low-s), compact form.

    Raises :class:`InvalidSignatureError` (``wrong_key``) when the key is not the payer's.
    """
    key = PrivateKey(private_key)
    signer = _address_of(key.public_key)
    if signer != payment.payer:
        raise InvalidSignatureError("wrong_key", signer=signer, expected=payment.payer)
    return PaymentSignature.from_rsv(
        key.sign_recoverable(payment_digest(domain, payment), hasher=None)
    )


def recover_payer(
    domain: ForwarderDomain, payment: SignedPayment, signature: PaymentSignature
) -> str:
    """The checksummed address that signed ``payment``, with OZ ``ECDSA.recover(r, vs)``'s
    rules (s from the low 255 bits; a high s is rejected, as on chain)."""
    vs = int.from_bytes(signature.vs, "big")
    s, v = vs & _LOW_255, vs >> 255
    r = int.from_bytes(signature.r, "big")
    if s > _HALF_N:
        raise InvalidSignatureError("high_s")
    if not (0 < r < _SECP256K1_N and s > 0):
        raise InvalidSignatureError("out_of_range")
    rsv = signature.r + s.to_bytes(32, "big") + bytes((v,))
    try:
        public_key = PublicKey.from_signature_and_message(
            rsv, payment_digest(domain, payment), hasher=None
        )
    except ValueError:
        raise InvalidSignatureError("unrecoverable") from None
    return _address_of(public_key)


def verify_payment(
    domain: ForwarderDomain, payment: SignedPayment, signature: PaymentSignature
) -> str:
    """:func:`recover_payer`, raising ``signer_mismatch`` unless the signer is the payer."""
    signer = recover_payer(domain, payment, signature)
    if signer != payment.payer:
        raise InvalidSignatureError("signer_mismatch", signer=signer, expected=payment.payer)
    return signer


def payment_request_id(
    domain: ForwarderDomain, payment: SignedPayment, sig: PaymentSignature
) -> str:
    """A stable id for deduplication (the relay request's id): keccak of the digest and the
    signature, as :func:`chain.protocol.forwarder.request_id`."""
    return "0x" + keccak_hasher()(payment_digest(domain, payment) + sig.compact).hex()


# ------------------------------------------------------------------------------------------
# Calldata, from the committed ABI (eth-abi: a payment is encoded once per relay, not per
# verification).


def encode_pay_by_sig(payment: SignedPayment, signature: PaymentSignature) -> bytes:
    """Calldata of ``payBySig(SignedPayment, PaymentSignature)``."""
    return encode_function("payBySig", [payment.as_tuple(), (signature.r, signature.vs)])


def encode_pay_by_sig_batch(items: Sequence[tuple[SignedPayment, PaymentSignature]]) -> bytes:
    """Calldata of ``payBySigBatch(SignedPayment[], PaymentSignature[])``: each request is
    paid or skipped (``SignedPaymentSkipped``), never reverting the batch."""
    return encode_function(
        "payBySigBatch",
        [[p.as_tuple() for p, _ in items], [(s.r, s.vs) for _, s in items]],
    )


def decode_pay_by_sig(calldata: bytes) -> tuple[SignedPayment, PaymentSignature]:
    """The inverse of :func:`encode_pay_by_sig` (a stored request read back)."""
    if calldata[:4] != PAY_BY_SIG_SELECTOR:
        raise RequestFormatError("data", "is not payBySig calldata")
    (payer, merchant, amount, pid, programs, nonce, deadline), (r, vs) = abi_decode(
        list(_PAYMENT_ARGS), calldata[4:]
    )
    payment = SignedPayment(
        to_checksum(bytes.fromhex(payer[2:])),
        to_checksum(bytes.fromhex(merchant[2:])),
        amount,
        pid,
        tuple(programs),
        nonce,
        deadline,
    )
    return payment, PaymentSignature(r, vs)


# ------------------------------------------------------------------------------------------
# JSON for the HTTP API (``POST /v1/payments``): the struct's fields under their Solidity
# names, integers as decimal strings, plus the token and the compact signature.

_JSON_FIELDS = frozenset(
    {"token", "payer", "merchant", "amount", "paymentId", "programIds", "nonce", "deadline",
     "signature"}
)  # fmt: skip


def payment_to_json(
    token: str, payment: SignedPayment, signature: PaymentSignature
) -> dict[str, object]:
    return {
        "token": to_checksum(bytes.fromhex(_address("token", token)[2:])),
        "payer": payment.payer,
        "merchant": payment.merchant,
        "amount": str(payment.amount),
        "paymentId": "0x" + payment.payment_id.hex(),
        "programIds": [str(p) for p in payment.program_ids],
        "nonce": str(payment.nonce),
        "deadline": str(payment.deadline),
        "signature": {"r": "0x" + signature.r.hex(), "vs": "0x" + signature.vs.hex()},
    }


def payment_from_json(obj: Mapping[str, object]) -> tuple[str, SignedPayment, PaymentSignature]:
    """(token, payment, signature) from :func:`payment_to_json`'s output; raises
    :class:`RequestFormatError` naming the first bad field."""
    missing = sorted(_JSON_FIELDS - obj.keys())
    if missing:
        raise RequestFormatError(missing[0], "is missing")
    unknown = sorted(obj.keys() - _JSON_FIELDS)
    if unknown:
        raise RequestFormatError(unknown[0], "is not a payment field")
    programs = obj["programIds"]
    if not isinstance(programs, list) or len(programs) > 32:
        raise RequestFormatError("programIds", "must be a list of at most 32 decimal strings")
    signature = obj["signature"]
    if not isinstance(signature, Mapping) or set(signature) != {"r", "vs"}:
        raise RequestFormatError("signature", "must be an object {r, vs}")
    r, vs = _json_bytes(signature, "r"), _json_bytes(signature, "vs")
    if len(r) != 32 or len(vs) != 32:
        raise RequestFormatError("signature", "r and vs must be 32 bytes each")
    pid = _json_bytes(obj, "paymentId")
    if len(pid) != 32:
        raise RequestFormatError("paymentId", "must be 32 bytes")
    payment = SignedPayment(
        payer=cast(str, obj["payer"]),
        merchant=cast(str, obj["merchant"]),
        amount=_json_int(obj, "amount"),
        payment_id=pid,
        program_ids=tuple(_json_int({"programIds": p}, "programIds") for p in programs),
        nonce=_json_int(obj, "nonce"),
        deadline=_json_int(obj, "deadline"),
    )
    return _address("token", obj["token"]), payment, PaymentSignature(r, vs)
