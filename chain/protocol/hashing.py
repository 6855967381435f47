"""keccak-256 and EIP-55 addresses: the hashing every other module of ``chain.protocol`` uses.

Kept tiny and dependency-light (pycryptodome's C library, or eth-hash as a fallback) because
it sits on every hot path: request digests, Merkle leaves, address checksums.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import threading
import weakref
from collections.abc import Callable

__all__ = [
    "ADDRESS_BYTES",
    "HEX_ADDRESS",
    "KECCAK_BACKEND",
    "ZERO_ADDRESS",
    "Keccak",
    "keccak256",
    "keccak_hasher",
    "parse_address",
    "to_checksum",
]

ADDRESS_BYTES = 20
ZERO_ADDRESS = "0x" + "00" * ADDRESS_BYTES
"""The zero address, lower case as the index stores addresses."""
_EMPTY_KECCAK = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")

Keccak = Callable[[bytes], bytes]

# --------------------------------------------------------------------------------------------
# keccak-256
#
# A million-leaf tree needs about three million keccak calls, so per-call overhead dominates.
# pycryptodome's public API costs ~6 µs per call (object setup, SmartPointer, buffer copies);
# calling its bundled C library directly with a reused state costs ~1.3 µs. eth-hash is only a
# wrapper over the same backends. hashlib has SHA3 but not the pre-standard keccak padding, and
# OpenSSL 3.0 does not expose KECCAK-256, so those are not options.


def _raw_pycryptodome() -> Callable[[], Keccak] | None:
    """Return a factory of keccak functions bound to pycryptodome's C library, if loadable.

    Only the shared library's stable C symbols are used, not pycryptodome's private Python
    wrappers; any failure falls back to the public APIs.
    """
    try:
        spec = importlib.util.find_spec("Crypto.Hash._keccak")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    try:
        # PyDLL keeps the GIL: the calls are far shorter than a GIL hand-off, and the state is
        # per-thread anyway.
        lib = ctypes.PyDLL(spec.origin)
        init, destroy = lib.keccak_init, lib.keccak_destroy
        reset, absorb, squeeze = lib.keccak_reset, lib.keccak_absorb, lib.keccak_digest
    except (OSError, AttributeError):
        return None

    # No argtypes: ctypes' argtypes conversion costs more than the hash itself, so every
    # argument is passed as a pre-built ctypes object of the exact C type instead.
    sizes = {n: ctypes.c_size_t(n) for n in (32, 64, 96)}
    digest_len = ctypes.c_size_t(32)
    keccak_padding = ctypes.c_ubyte(0x01)  # 0x06 would be SHA3-256

    def factory() -> Keccak:
        state = ctypes.c_void_p()
        if init(ctypes.byref(state), ctypes.c_size_t(64), ctypes.c_ubyte(24)) != 0:
            raise OSError("keccak_init failed")
        out = ctypes.create_string_buffer(32)
        get_size = sizes.get

        def keccak256(data: bytes) -> bytes:
            # Return codes are ignored: they only flag NULL pointers, absorbing after a digest
            # or oversized digests, none of which this fixed call sequence can produce.
            size = get_size(len(data))
            reset(state)
            absorb(state, data, ctypes.c_size_t(len(data)) if size is None else size)
            squeeze(state, out, digest_len, keccak_padding)
            return out.raw

        weakref.finalize(keccak256, destroy, state)
        return keccak256

    try:
        if factory()(b"") != _EMPTY_KECCAK:
            return None
    except (OSError, ctypes.ArgumentError):
        return None
    return factory


def _select_backend() -> tuple[str, Callable[[], Keccak]]:
    raw = _raw_pycryptodome()
    if raw is not None:
        return "pycryptodome-raw", raw
    try:
        from Crypto.Hash import keccak as pc_keccak
    except ImportError:
        from eth_hash.auto import keccak as eth_keccak

        def eth_hash_keccak(data: bytes) -> bytes:
            return eth_keccak(data)

        return "eth-hash", lambda: eth_hash_keccak

    def pc_keccak256(data: bytes) -> bytes:
        return pc_keccak.new(digest_bits=256, data=data).digest()

    return "pycryptodome", lambda: pc_keccak256


KECCAK_BACKEND, _new_keccak = _select_backend()
"""Name of the keccak implementation in use, for diagnostics and benchmarks."""

_thread_state = threading.local()


def keccak_hasher() -> Keccak:
    """Return this thread's keccak function; the raw backend keeps mutable C state."""
    try:
        fn: Keccak = _thread_state.keccak
    except AttributeError:
        fn = _new_keccak()
        _thread_state.keccak = fn
    return fn


def keccak256(data: bytes) -> bytes:
    """keccak-256 of ``data`` with this thread's hasher."""
    return keccak_hasher()(data)


# --------------------------------------------------------------------------------------------
# Addresses

HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


# EIP-55 capitalises hex letter i when nibble i of keccak(lowercase hex) is >= 8. Doing that
# with byte tables and one big-int XOR instead of a per-character loop makes it cheap enough to
# run on every leaf of a million-row file.
_HIGH_NIBBLE_FLAG = bytes(0x20 if b & 0x80 else 0 for b in range(256))
_LOW_NIBBLE_FLAG = bytes(0x20 if b & 0x08 else 0 for b in range(256))
_LETTER_BITS = int.from_bytes(b"\x40" * 40, "big")  # set in 'a'-'f', clear in '0'-'9'


def to_checksum(address: bytes) -> str:
    """EIP-55 form of a 20-byte address."""
    lower = address.hex().encode("ascii")
    digest = keccak_hasher()(lower)
    flags = bytearray(40)
    flags[0::2] = digest[:20].translate(_HIGH_NIBBLE_FLAG)
    flags[1::2] = digest[:20].translate(_LOW_NIBBLE_FLAG)
    text = int.from_bytes(lower, "big")
    # Clearing bit 0x20 upper-cases a letter; the letter mask keeps digits untouched.
    flips = int.from_bytes(flags, "big") & ((text & _LETTER_BITS) >> 1)
    return "0x" + (text ^ flips).to_bytes(40, "big").decode("ascii")


def parse_address(text: str) -> bytes:
    """Decode a hex address, enforcing EIP-55 when the text is mixed-case.

    All-lowercase and all-uppercase addresses carry no checksum by convention and are accepted;
    a mixed-case one that fails its checksum is almost certainly a typo and is rejected.
    """
    if not HEX_ADDRESS.fullmatch(text):
        raise ValueError(f"not a 0x-prefixed 20-byte hex address: {text!r}")
    raw = bytes.fromhex(text[2:])
    body = text[2:]
    if body != body.lower() and body != body.upper() and to_checksum(raw) != text:
        raise ValueError(f"bad EIP-55 checksum in address {text!r}")
    return raw
