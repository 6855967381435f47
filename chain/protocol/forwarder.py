"""Signed requests for the network's forwarder (OpenZeppelin 5.4 ``ERC2771Forwarder``).

A wallet signs an EIP-712 ``ForwardRequest`` under the domain ("DongneForwarder", "1", chain id,
forwarder address); the gateway checks it and relays it through ``execute``/``executeBatch``.
The signed struct carries ``nonce``; the on-chain ``ForwardRequestData`` passed to ``execute``
carries ``signature`` instead (the forwarder reads the nonce from its own storage).

The gateway verifies every request it receives, so the digest is computed directly from a
precomputed type hash and domain separator instead of a generic typed-data encoder, and
signatures go straight to libsecp256k1 through coincurve. The forwarder's selectors come from
its committed ABI (:mod:`chain.protocol.contracts`); nothing of the server stack is imported,
so wallet apps can use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, cast

from coincurve import PrivateKey, PublicKey

# One keccak backend for the package: chain.protocol.merkle calls pycryptodome's C library directly
# (~2.8 µs a hash here), against ~10 µs for pycryptodome's or eth-hash's public APIs.
from chain.protocol.contracts import selector
from chain.protocol.errors import DongneChainError
from chain.protocol.hashing import keccak_hasher, parse_address, to_checksum

__all__ = [
    "DOMAIN_TYPE",
    "DOMAIN_TYPEHASH",
    "EXECUTE_BATCH_SELECTOR",
    "EXECUTE_SELECTOR",
    "FORWARDER_NAME",
    "FORWARDER_VERSION",
    "FORWARD_REQUEST_TYPE",
    "FORWARD_REQUEST_TYPEHASH",
    "ForwardRequest",
    "ForwarderDomain",
    "InvalidSignatureError",
    "RequestFormatError",
    "SignedRequest",
    "encode_execute",
    "encode_execute_batch",
    "recover_signer",
    "request_digest",
    "request_id",
    "sign_request",
    "signed_request_from_json",
    "signed_request_to_json",
    "typed_data",
    "verify_request",
]

FORWARDER_NAME: Final = "DongneForwarder"
FORWARDER_VERSION: Final = "1"
DOMAIN_TYPE: Final = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
FORWARD_REQUEST_TYPE: Final = (
    "ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,"
    "uint48 deadline,bytes data)"
)
DOMAIN_TYPEHASH: Final = keccak_hasher()(DOMAIN_TYPE.encode())
FORWARD_REQUEST_TYPEHASH: Final = keccak_hasher()(FORWARD_REQUEST_TYPE.encode())
"""Equals ``ERC2771Forwarder._FORWARD_REQUEST_TYPEHASH``."""

EXECUTE_SELECTOR: Final = selector("execute", "DongneForwarder")
EXECUTE_BATCH_SELECTOR: Final = selector("executeBatch", "DongneForwarder")

_UINT256 = 1 << 256
_UINT48 = 1 << 48
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _SECP256K1_N // 2
_PAD = bytes(12)

SignatureProblem = Literal[
    "length", "bad_v", "high_s", "out_of_range", "unrecoverable", "signer_mismatch", "wrong_key"
]


class InvalidSignatureError(DongneChainError, ValueError):
    """A signature the forwarder would reject, or one made by someone other than ``from``.

    ``reason`` says which check failed; ``signer`` and ``expected`` are set for
    ``signer_mismatch`` (recovered signer vs the request's ``from``) and ``wrong_key``.
    """

    def __init__(
        self, reason: SignatureProblem, *, signer: str | None = None, expected: str | None = None
    ) -> None:
        self.reason: SignatureProblem = reason
        self.signer = signer
        self.expected = expected
        detail = f": signed by {signer}, request is from {expected}" if signer else ""
        super().__init__(f"invalid request signature ({reason}){detail}")


class RequestFormatError(DongneChainError, ValueError):
    """A request field is missing, malformed or out of its Solidity type's range."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field_name = field_name
        self.problem = problem
        super().__init__(f"{field_name}: {problem}")


def _address(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise RequestFormatError(name, "must be a 0x-hex address string")
    try:
        return to_checksum(parse_address(value))
    except ValueError as exc:
        raise RequestFormatError(name, str(exc)) from None


def _uint(name: str, value: object, limit: int) -> int:
    # bool is an int subclass; True as a gas limit is always a bug.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
        raise RequestFormatError(name, f"must be an int in [0, 2**{limit.bit_length() - 1})")
    return value


@dataclass(frozen=True, slots=True)
class ForwarderDomain:
    """The forwarder's EIP-712 domain; the separator is computed once, at construction."""

    chain_id: int
    verifying_contract: str
    name: str = FORWARDER_NAME
    version: str = FORWARDER_VERSION
    separator: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chain_id = _uint("chain_id", self.chain_id, _UINT256)
        contract = _address("verifying_contract", self.verifying_contract)
        k = keccak_hasher()
        separator = k(
            DOMAIN_TYPEHASH
            + k(self.name.encode())
            + k(self.version.encode())
            + chain_id.to_bytes(32, "big")
            + _PAD
            + bytes.fromhex(contract[2:])
        )
        object.__setattr__(self, "verifying_contract", contract)
        object.__setattr__(self, "separator", separator)

    def as_dict(self) -> dict[str, object]:
        """The domain as EIP-712 JSON (``eth_signTypedData_v4``) spells it."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """The struct a wallet signs. Addresses are normalised to EIP-55 checksum form."""

    from_: str
    to: str
    value: int
    gas: int
    nonce: int
    deadline: int  # unix seconds (uint48); the forwarder rejects the request after it
    data: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "from_", _address("from", self.from_))
        object.__setattr__(self, "to", _address("to", self.to))
        _uint("value", self.value, _UINT256)
        _uint("gas", self.gas, _UINT256)
        _uint("nonce", self.nonce, _UINT256)
        _uint("deadline", self.deadline, _UINT48)
        if not isinstance(self.data, bytes | bytearray | memoryview):
            raise RequestFormatError("data", "must be bytes")
        object.__setattr__(self, "data", bytes(self.data))


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request and its 65-byte ``r || s || v`` signature (v = 27 or 28)."""

    request: ForwardRequest
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.signature, bytes) or len(self.signature) != 65:
            raise InvalidSignatureError("length")


def request_digest(domain: ForwarderDomain, request: ForwardRequest) -> bytes:
    """The EIP-712 digest the wallet signs and the forwarder recovers the signer from."""
    k = keccak_hasher()
    struct_hash = k(
        FORWARD_REQUEST_TYPEHASH
        + _PAD
        + bytes.fromhex(request.from_[2:])
        + _PAD
        + bytes.fromhex(request.to[2:])
        + request.value.to_bytes(32, "big")
        + request.gas.to_bytes(32, "big")
        + request.nonce.to_bytes(32, "big")
        + request.deadline.to_bytes(32, "big")
        + k(request.data)
    )
    return k(b"\x19\x01" + domain.separator + struct_hash)


def _address_of(public_key: PublicKey) -> str:
    return to_checksum(keccak_hasher()(public_key.format(compressed=False)[1:])[12:])


def sign_request(
    private_key: bytes, domain: ForwarderDomain, request: ForwardRequest
) -> SignedRequest:
    """Sign ``request`` with a 32-byte secp256k1 key (RFC 6979, low-s, v = 27/28).

    Raises :class:`InvalidSignatureError` (``wrong_key``) when the key is not ``request.from_``'s:
    the forwarder would skip such a request, so it is better refused on the device.
    """
    key = PrivateKey(private_key)
    signer = _address_of(key.public_key)
    if signer != request.from_:
        raise InvalidSignatureError("wrong_key", signer=signer, expected=request.from_)
    # libsecp256k1 always produces low-s signatures, which is what OZ's ECDSA requires.
    rsv = key.sign_recoverable(request_digest(domain, request), hasher=None)
    return SignedRequest(request, rsv[:64] + bytes((rsv[64] + 27,)))


def recover_signer(domain: ForwarderDomain, signed: SignedRequest) -> str:
    """The checksummed address that signed ``signed``, with OZ ``ECDSA.recover``'s rules.

    High-s signatures (malleable twins) and v other than 27/28 are rejected, as on-chain.
    """
    signature = signed.signature
    v = signature[64]
    if v not in (27, 28):
        raise InvalidSignatureError("bad_v")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if s > _HALF_N:
        raise InvalidSignatureError("high_s")
    if not (0 < r < _SECP256K1_N and s > 0):
        raise InvalidSignatureError("out_of_range")
    digest = request_digest(domain, signed.request)
    try:
        public_key = PublicKey.from_signature_and_message(
            signature[:64] + bytes((v - 27,)), digest, hasher=None
        )
    except ValueError:
        raise InvalidSignatureError("unrecoverable") from None
    return _address_of(public_key)


def verify_request(domain: ForwarderDomain, signed: SignedRequest) -> str:
    """:func:`recover_signer`, raising ``signer_mismatch`` unless the signer is ``from``."""
    signer = recover_signer(domain, signed)
    if signer != signed.request.from_:
        raise InvalidSignatureError("signer_mismatch", signer=signer, expected=signed.request.from_)
    return signer


def request_id(domain: ForwarderDomain, signed: SignedRequest) -> str:
    """A stable id for deduplication: 0x-hex keccak of the digest and the signature.

    Low-s and RFC 6979 make the signature of a given request by a given key unique, so a
    resent request gets the same id.
    """
    k = keccak_hasher()
    return "0x" + k(request_digest(domain, signed.request) + signed.signature).hex()


# ------------------------------------------------------------------------------------------
# Forwarder calldata
#
# Encoded by hand: eth-abi spends ~85 µs on each ForwardRequestData of a batch, as much as
# verifying its signature, and the relayer encodes every request it verifies. The layout is
# fixed, and tests compare it with eth-abi's encoding.

_WORD = 32
_TUPLE_HEAD = 7 * _WORD  # from, to, value, gas, deadline, offset(data), offset(signature)
_SIGNATURE_TAIL = (65).to_bytes(_WORD, "big")


def _word(value: int) -> bytes:
    return value.to_bytes(_WORD, "big")


def _request_data(signed: SignedRequest) -> bytes:
    """ABI encoding of one ``ForwardRequestData`` tuple (its own offsets are tuple-relative)."""
    r = signed.request
    data = r.data
    padded = data + bytes(-len(data) % _WORD)
    return b"".join(
        (
            _PAD + bytes.fromhex(r.from_[2:]),
            _PAD + bytes.fromhex(r.to[2:]),
            _word(r.value),
            _word(r.gas),
            _word(r.deadline),
            _word(_TUPLE_HEAD),
            _word(_TUPLE_HEAD + _WORD + len(padded)),
            _word(len(data)),
            padded,
            _SIGNATURE_TAIL,
            signed.signature + bytes(31),
        )
    )


def encode_execute(signed: SignedRequest) -> bytes:
    """Calldata of ``execute(ForwardRequestData)``: one request, reverting if it fails."""
    return EXECUTE_SELECTOR + _word(_WORD) + _request_data(signed)


def encode_execute_batch(requests: Sequence[SignedRequest], refund_receiver: str) -> bytes:
    """Calldata of ``executeBatch(ForwardRequestData[], address refundReceiver)``.

    A zero ``refund_receiver`` makes the batch atomic (one invalid request reverts all); a
    relayer normally passes its own address so invalid requests are skipped instead.
    """
    receiver = bytes.fromhex(_address("refund_receiver", refund_receiver)[2:])
    tuples = [_request_data(s) for s in requests]
    offsets = []
    offset = len(tuples) * _WORD  # element offsets count from the first offset word
    for encoded in tuples:
        offsets.append(_word(offset))
        offset += len(encoded)
    head = EXECUTE_BATCH_SELECTOR + _word(2 * _WORD) + _PAD + receiver + _word(len(tuples))
    return b"".join((head, *offsets, *tuples))


# ------------------------------------------------------------------------------------------
# JSON for the HTTP API: addresses and bytes as 0x-hex, integers as decimal strings (JSON
# numbers lose precision above 2**53 in JavaScript clients).

_JSON_FIELDS = frozenset({"from", "to", "value", "gas", "nonce", "deadline", "data", "signature"})


def signed_request_to_json(signed: SignedRequest) -> dict[str, str]:
    r = signed.request
    return {
        "from": r.from_,
        "to": r.to,
        "value": str(r.value),
        "gas": str(r.gas),
        "nonce": str(r.nonce),
        "deadline": str(r.deadline),
        "data": "0x" + r.data.hex(),
        "signature": "0x" + signed.signature.hex(),
    }


def _json_int(obj: Mapping[str, object], name: str) -> int:
    value = obj[name]
    # Python's json gives exact ints, so a number is accepted as well as a decimal string.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        return int(value)
    raise RequestFormatError(name, "must be a decimal string")


def _json_bytes(obj: Mapping[str, object], name: str) -> bytes:
    value = obj[name]
    if isinstance(value, str) and value.startswith("0x") and len(value) % 2 == 0:
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise RequestFormatError(name, "must be 0x-prefixed hex with an even number of digits")


def signed_request_from_json(obj: Mapping[str, object]) -> SignedRequest:
    """Parse :func:`signed_request_to_json`'s output; raises :class:`RequestFormatError`."""
    missing = sorted(_JSON_FIELDS - obj.keys())
    if missing:
        raise RequestFormatError(missing[0], "is missing")
    unknown = sorted(obj.keys() - _JSON_FIELDS)
    if unknown:
        raise RequestFormatError(unknown[0], "is not a request field")
    request = ForwardRequest(
        # Checked (type, hex, EIP-55) by ForwardRequest itself.
        from_=cast(str, obj["from"]),
        to=cast(str, obj["to"]),
        value=_json_int(obj, "value"),
        gas=_json_int(obj, "gas"),
        nonce=_json_int(obj, "nonce"),
        deadline=_json_int(obj, "deadline"),
        data=_json_bytes(obj, "data"),
    )
    signature = _json_bytes(obj, "signature")
    if len(signature) != 65:
        raise RequestFormatError("signature", "must be 65 bytes")
    return SignedRequest(request, signature)


def typed_data(domain: ForwarderDomain, request: ForwardRequest) -> dict[str, object]:
    """The full EIP-712 message, for ``eth_signTypedData_v4`` signers (hardware wallets)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "ForwardRequest": [
                {"name": "from", "type": "address"},
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "gas", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint48"},
                {"name": "data", "type": "bytes"},
            ],
        },
        "primaryType": "ForwardRequest",
        "domain": domain.as_dict(),
        "message": {
            "from": request.from_,
            "to": request.to,
            "value": request.value,
            "gas": request.gas,
            "nonce": request.nonce,
            "deadline": request.deadline,
            "data": "0x" + request.data.hex(),
        },
    }
