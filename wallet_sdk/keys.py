"""Local secp256k1 signing keys: creation, import, encrypted key files and digest signing.

Key files are Web3 Secret Storage v3 documents (the geth/MetaMask ``keystore`` format). New files
always use scrypt; files using pbkdf2 are accepted on import because other wallets produce them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import coincurve
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from wallet_sdk.exceptions.base import InvalidKeyError, KeystoreError

__all__ = ["DEFAULT_HD_PATH", "LocalKey"]

#: BIP-44 path of the first Ethereum account, as used by MetaMask and most wallets.
DEFAULT_HD_PATH = "m/44'/60'/0'/0/0"

# Key files come from users and other wallets, so their KDF parameters are untrusted input: an
# absurd scrypt ``n`` would make load() allocate gigabytes or spin for hours. The caps are 2x
# (memory) and 8x (work) geth's "standard" parameters n=2**18, r=8, p=1.
_MAX_SCRYPT_MEMORY = 1 << 29  # bytes; scrypt needs 128 * r * n
_MAX_SCRYPT_WORK = 1 << 24  # n * r * p
_MAX_PBKDF2_ROUNDS = 10_000_000
_MAX_KEYSTORE_BYTES = 64 * 1024
_SCRYPT_R = 8  # what eth-keyfile writes
_HEX = re.compile(r"[0-9a-fA-F]*")
# A v3 key file nests 3 deep. py_ecc (which eth-account imports via eth-keyfile) raises the
# recursion limit to 100000, so json's C decoder would overflow the C stack on "[[[[..." and
# crash the process instead of raising RecursionError.
_MAX_JSON_DEPTH = 32
_PRIVATE_KEY_HEX = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")


class LocalKey:
    """A private key held in memory, identified by its checksum address.

    The key itself never appears in ``repr``/``str``; :meth:`export_private_key` is the only
    way to read it back.
    """

    __slots__ = ("_address", "_key", "_signer")

    def __init__(self, private_key: bytes) -> None:
        """Wrap a raw 32-byte private key; prefer the ``create``/``from_*`` constructors."""
        key = bytes(private_key)
        if len(key) != 32:
            raise InvalidKeyError("a private key is exactly 32 bytes")
        try:
            signer = coincurve.PrivateKey(key)
        except ValueError:
            raise InvalidKeyError(
                "private key is zero or not below the secp256k1 group order"
            ) from None
        self._key = key
        self._signer = signer
        public = signer.public_key.format(compressed=False)[1:]
        self._address: str = to_checksum_address(keccak(public)[-20:])

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def create(cls) -> LocalKey:
        """A new random key (entropy from ``os.urandom``)."""
        return cls(bytes(Account.create().key))

    @classmethod
    def from_private_key(cls, private_key: str | bytes) -> LocalKey:
        """Import a key given as 64 hex digits (``0x`` optional) or 32 raw bytes."""
        if isinstance(private_key, str):
            match = _PRIVATE_KEY_HEX.fullmatch(private_key)
            if match is None:
                raise InvalidKeyError("a private key is 64 hex digits, optionally 0x-prefixed")
            return cls(bytes.fromhex(match.group(1)))
        return cls(private_key)

    @classmethod
    def from_mnemonic(
        cls, phrase: str, *, passphrase: str = "", path: str = DEFAULT_HD_PATH
    ) -> LocalKey:
        """Derive the key at ``path`` from a BIP-39 mnemonic (and optional BIP-39 passphrase)."""
        # eth-account gates BIP-32/39 behind a global opt-in flag; setting it again is harmless.
        Account.enable_unaudited_hdwallet_features()
        key: bytes | None
        try:
            key = bytes(Account.from_mnemonic(phrase, passphrase=passphrase, account_path=path).key)
        except (ValidationError, ValueError):
            # eth-account's message quotes the phrase; it must not reach logs, even as __context__.
            key = None
        if key is None:
            raise InvalidKeyError("invalid BIP-39 mnemonic phrase or derivation path")
        return cls(key)

    @classmethod
    def from_keystore(cls, keystore: str | bytes | Mapping[str, object], password: str) -> LocalKey:
        """Decrypt a v3 key file given as JSON text or as the parsed document.

        Raises :class:`KeystoreError` with ``reason`` ``"wrong_password"``, ``"corrupt"`` or
        ``"unsupported"``.
        """
        document = keystore if isinstance(keystore, Mapping) else _parse_json(keystore)
        # eth-keyfile only ever sees the fields checked here, whatever else the file holds.
        validated = _validated(document)
        try:
            key = bytes(Account.decrypt(validated, password))
        except ValueError as exc:
            # eth-keyfile has no dedicated exception for this; its message is the only signal.
            if "MAC mismatch" in str(exc):
                raise KeystoreError(
                    "wrong password (or a damaged key file)", reason="wrong_password"
                ) from None
            raise KeystoreError("key file is damaged", reason="corrupt") from None
        try:
            wallet = cls(key)
        except InvalidKeyError:
            raise KeystoreError("key file holds an invalid key", reason="corrupt") from None
        recorded = _lower_keys(document).get("address")
        if isinstance(recorded, str) and recorded.lower().removeprefix("0x") != (
            wallet.address[2:].lower()
        ):
            raise KeystoreError("key file address does not match its key", reason="corrupt")
        return wallet

    @classmethod
    def load(cls, path: str | os.PathLike[str], password: str) -> LocalKey:
        """Read and decrypt a key file written by :meth:`save` (or any v3 key file)."""
        with open(path, "rb") as f:
            data = f.read(_MAX_KEYSTORE_BYTES + 1)
        if len(data) > _MAX_KEYSTORE_BYTES:
            raise KeystoreError("file is too large to be a key file", reason="corrupt")
        return cls.from_keystore(data, password)

    # -- use -------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """EIP-55 checksum address."""
        return self._address

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest as-is; returns 65 bytes ``r || s || v`` with v in {27, 28}.

        ``s`` is always in the lower half of the group order (libsecp256k1 normalises it), so
        the signature is accepted by OpenZeppelin's ``ECDSA.recover``.
        """
        if len(digest) != 32:
            raise ValueError("digest must be exactly 32 bytes")
        signature = self._signer.sign_recoverable(bytes(digest), hasher=None)
        recovery_id = signature[64]
        if recovery_id > 1:
            # Only when R.x overflows the group order (probability ~2**-127); Ethereum's v
            # cannot express it.
            raise RuntimeError("unrepresentable recovery id; sign again with another digest")
        return signature[:64] + bytes([27 + recovery_id])

    def sign_message(self, text: str) -> bytes:
        """EIP-191 ``personal_sign`` of ``text`` (what a sign-in message needs): 65 bytes."""
        data = text.encode()
        return self.sign_digest(
            keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
        )

    def to_keystore(self, password: str, *, scrypt_n: int | None = None) -> dict[str, object]:
        """Encrypt into a v3 key file document using scrypt.

        ``scrypt_n`` defaults to eth-account's (2**18, geth's "standard"); tests may lower it.
        """
        if scrypt_n is not None and (
            scrypt_n < 2
            or scrypt_n & (scrypt_n - 1)
            or 128 * _SCRYPT_R * scrypt_n > _MAX_SCRYPT_MEMORY
        ):
            # The upper bound keeps us from writing files that from_keystore would refuse.
            raise ValueError("scrypt_n must be a power of two between 2 and 2**19")
        document: dict[str, object] = Account.encrypt(
            self._key, password, kdf="scrypt", iterations=scrypt_n
        )
        return document

    def save(
        self,
        path: str | os.PathLike[str],
        password: str,
        *,
        scrypt_n: int | None = None,
        overwrite: bool = False,
    ) -> None:
        """Write the encrypted key file with mode 0600.

        An existing file is only replaced with ``overwrite=True`` (atomically), so a key is never
        lost by saving another one over it by mistake.
        """
        data = json.dumps(self.to_keystore(password, scrypt_n=scrypt_n)).encode()
        _write_private(Path(path), data, overwrite=overwrite)

    def export_private_key(self) -> str:
        """The raw private key as 0x-prefixed hex. Handle with care: it controls the funds."""
        return "0x" + self._key.hex()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(address={self._address!r})"


def _lower_keys(mapping: Mapping[str, object]) -> dict[str, object]:
    # eth-keyfile matches keys case-insensitively (geth wrote "Crypto"); validate the same view.
    return {str(k).lower(): v for k, v in mapping.items()}


def _sub(mapping: Mapping[str, object], key: str) -> dict[str, object]:
    value = mapping.get(key)
    if not isinstance(value, Mapping):
        raise KeystoreError(f"key file lacks the {key!r} object", reason="corrupt")
    return _lower_keys(value)


def _int(mapping: Mapping[str, object], key: str) -> int:
    value = mapping.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise KeystoreError(
            f"key file parameter {key!r} is not a positive integer", reason="corrupt"
        )
    return value


def _hex(mapping: Mapping[str, object], key: str, length: int | None = None) -> str:
    value = mapping.get(key)
    if (
        not isinstance(value, str)
        or not _HEX.fullmatch(value)
        or len(value) % 2
        or (length is not None and len(value) != 2 * length)
    ):
        raise KeystoreError(f"key file field {key!r} is not valid hex", reason="corrupt")
    return value


def _parse_json(text: str | bytes) -> Mapping[str, object]:
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError:
        raise KeystoreError("key file is not UTF-8 text", reason="corrupt") from None
    if _nesting_depth(decoded) > _MAX_JSON_DEPTH:
        raise KeystoreError("key file is nested too deeply", reason="corrupt")
    try:
        document = json.loads(decoded)
    except ValueError:
        raise KeystoreError("key file is not valid JSON", reason="corrupt") from None
    if not isinstance(document, Mapping):
        raise KeystoreError("key file is not a JSON object", reason="corrupt")
    return document


def _nesting_depth(text: str) -> int:
    """Deepest nesting of JSON arrays and objects, ignoring string contents; linear time."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _validated(document: Mapping[str, object]) -> dict[str, object]:
    """The decryption-relevant part of a v3 key file, checked for shape and affordable cost."""
    top = _lower_keys(document)
    if top.get("version") != 3:
        raise KeystoreError("only version 3 key files are supported", reason="unsupported")
    crypto = _sub(top, "crypto")
    if crypto.get("cipher") != "aes-128-ctr":
        raise KeystoreError("only the aes-128-ctr cipher is supported", reason="unsupported")
    params = _sub(crypto, "kdfparams")
    kdf = crypto.get("kdf")
    kept: dict[str, object] = {"salt": _hex(params, "salt"), "dklen": _int(params, "dklen")}
    if kept["dklen"] != 32:
        raise KeystoreError("kdfparams.dklen must be 32", reason="unsupported")
    if kdf == "scrypt":
        n, r, p = _int(params, "n"), _int(params, "r"), _int(params, "p")
        if n < 2 or n & (n - 1):
            raise KeystoreError("scrypt n must be a power of two", reason="corrupt")
        if 128 * r * n > _MAX_SCRYPT_MEMORY or n * r * p > _MAX_SCRYPT_WORK:
            raise KeystoreError("scrypt parameters are too expensive", reason="unsupported")
        kept.update(n=n, r=r, p=p)
    elif kdf == "pbkdf2":
        if params.get("prf") != "hmac-sha256":
            raise KeystoreError(
                "only the hmac-sha256 pbkdf2 PRF is supported", reason="unsupported"
            )
        rounds = _int(params, "c")
        if rounds > _MAX_PBKDF2_ROUNDS:
            raise KeystoreError("pbkdf2 iteration count is too high", reason="unsupported")
        kept.update(c=rounds, prf="hmac-sha256")
    else:
        raise KeystoreError(f"unsupported key derivation function {kdf!r}", reason="unsupported")
    return {
        "version": 3,
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": _hex(_sub(crypto, "cipherparams"), "iv", 16)},
            "ciphertext": _hex(crypto, "ciphertext", 32),
            "kdf": kdf,
            "kdfparams": kept,
            "mac": _hex(crypto, "mac", 32),
        },
    }


def _write_private(path: Path, data: bytes, *, overwrite: bool) -> None:
    if overwrite:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        written = Path(name)
    else:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        written = path
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # absent on Windows before 3.13
                # The umask can only remove bits, but may remove the owner's; be exact.
                os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(written, path)
    except BaseException:
        written.unlink(missing_ok=True)
        raise
