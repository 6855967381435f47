"""wallet_sdk.keys (local keys, key files, digest signing) and wallet_sdk.exceptions.base."""

from __future__ import annotations

import json
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet_sdk import (
    DEFAULT_HD_PATH,
    DongneError,
    GatewayError,
    GatewayUnavailableError,
    InvalidKeyError,
    InvalidPaymentUriError,
    InvoiceExpiredError,
    KeystoreError,
    LocalKey,
    TransportError,
    error_for,
    register_error,
)
from wallet_sdk.exceptions.base import _REGISTRY

# Hardhat/anvil's default accounts: a published BIP-39 vector and its derived keys.
MNEMONIC = "test test test test test test test test test test test junk"
KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ADDRESS1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
FAST_N = 2**10  # production uses eth-account's 2**18; that costs ~1 s per operation


@pytest.fixture(scope="module")
def key() -> LocalKey:
    return LocalKey.from_private_key(KEY0)


@pytest.fixture(scope="module")
def keystore(key: LocalKey) -> dict[str, object]:
    return key.to_keystore("correct horse", scrypt_n=FAST_N)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    # Without this a restrictive CI umask could make a wrong mode look right.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _crypto(document: dict[str, object]) -> dict[str, object]:
    crypto = document["crypto"]
    assert isinstance(crypto, dict)
    return crypto


def _copy(document: dict[str, object]) -> dict[str, object]:
    copied: dict[str, object] = json.loads(json.dumps(document))
    return copied


# -- construction --------------------------------------------------------------------------


def test_create_gives_distinct_valid_keys() -> None:
    a, b = LocalKey.create(), LocalKey.create()
    assert a.address != b.address
    assert Account.from_key(a.export_private_key()).address == a.address


@pytest.mark.parametrize("text", [KEY0, KEY0[2:], KEY0.upper().replace("0X", "0x")])
def test_from_private_key_hex(text: str) -> None:
    assert LocalKey.from_private_key(text).address == ADDRESS0


def test_from_private_key_bytes() -> None:
    assert LocalKey.from_private_key(bytes.fromhex(KEY0[2:])).address == ADDRESS0


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0x",
        KEY0[:-1],
        KEY0 + "0",
        "0x" + "g" * 64,
        " " + KEY0,
        "0x" + "00" * 32,  # zero is not a key
        f"0x{SECP256K1_N:064x}",  # nor is the group order
        bytes(31),
        b"\x01" * 33,
    ],
)
def test_from_private_key_rejects(bad: str | bytes) -> None:
    with pytest.raises(InvalidKeyError) as info:
        LocalKey.from_private_key(bad)
    assert isinstance(info.value, ValueError)


def test_largest_valid_key_accepted() -> None:
    LocalKey.from_private_key(f"0x{SECP256K1_N - 1:064x}")


def test_mnemonic_known_vector() -> None:
    assert LocalKey.from_mnemonic(MNEMONIC).address == ADDRESS0
    assert LocalKey.from_mnemonic(MNEMONIC, path=DEFAULT_HD_PATH).address == ADDRESS0
    assert LocalKey.from_mnemonic(MNEMONIC, path="m/44'/60'/0'/0/1").address == ADDRESS1
    assert LocalKey.from_mnemonic(MNEMONIC, passphrase="extra").address not in (ADDRESS0, ADDRESS1)


@pytest.mark.parametrize(
    ("phrase", "path"),
    [
        ("test test test test test test test test test test test test", DEFAULT_HD_PATH),
        ("secretword " * 12, DEFAULT_HD_PATH),
        (MNEMONIC, "44'/60'/0'/0/0"),
    ],
)
def test_invalid_mnemonic_does_not_leak_phrase(phrase: str, path: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        LocalKey.from_mnemonic(phrase, path=path)
    err = info.value
    for text in (str(err), repr(err)):
        assert "test test" not in text
        assert "secretword" not in text
    # Logging frameworks print chained exceptions too; the library's message quotes the phrase.
    assert err.__context__ is None
    assert err.__cause__ is None


def test_key_never_in_repr_or_str(key: LocalKey) -> None:
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert KEY0[2:] not in text.lower()
        assert ADDRESS0 in text
    assert key.export_private_key() == KEY0


# -- signing -------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32))
def test_signature_recovers_and_is_low_s(key: LocalKey, digest: bytes) -> None:
    signature = key.sign_digest(digest)
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert 0 < int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2
    assert Account._recover_hash(digest, signature=signature) == ADDRESS0
    # Both use RFC 6979 nonces, so eth-account must produce the very same bytes.
    assert Account.unsafe_sign_hash(digest, KEY0).signature == signature


def test_signature_with_random_key() -> None:
    fresh = LocalKey.create()
    digest = os.urandom(32)
    assert Account._recover_hash(digest, signature=fresh.sign_digest(digest)) == fresh.address


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_sign_digest_rejects_wrong_length(key: LocalKey, size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        key.sign_digest(bytes(size))


# -- key files -----------------------------------------------------------------------------


def test_keystore_is_v3_scrypt(keystore: dict[str, object]) -> None:
    crypto = _crypto(keystore)
    assert keystore["version"] == 3
    assert crypto["kdf"] == "scrypt"
    assert crypto["cipher"] == "aes-128-ctr"
    params = crypto["kdfparams"]
    assert isinstance(params, dict)
    assert (params["n"], params["dklen"]) == (FAST_N, 32)
    assert str(keystore["address"]).lower() == ADDRESS0[2:].lower()
    assert KEY0[2:] not in json.dumps(keystore)


def test_keystore_default_cost_is_eth_account_default(key: LocalKey) -> None:
    params = _crypto(key.to_keystore("pw"))["kdfparams"]
    assert isinstance(params, dict)
    assert params["n"] == 2**18


def test_keystore_round_trip(keystore: dict[str, object]) -> None:
    for form in (keystore, json.dumps(keystore), json.dumps(keystore).encode()):
        assert LocalKey.from_keystore(form, "correct horse").address == ADDRESS0


def test_keystore_unicode_password() -> None:
    fresh = LocalKey.create()
    document = fresh.to_keystore("비밀번호 🔑", scrypt_n=FAST_N)
    assert LocalKey.from_keystore(document, "비밀번호 🔑").address == fresh.address


def test_keystore_wrong_password(keystore: dict[str, object]) -> None:
    with pytest.raises(KeystoreError) as info:
        LocalKey.from_keystore(keystore, "correct horse ")
    assert info.value.reason == "wrong_password"
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, DongneError)


def test_keystore_geth_capitalised_crypto_accepted(keystore: dict[str, object]) -> None:
    document = _copy(keystore)
    document["Crypto"] = document.pop("crypto")
    assert LocalKey.from_keystore(document, "correct horse").address == ADDRESS0


def test_keystore_extra_fields_and_brackets_in_strings(keystore: dict[str, object]) -> None:
    document = _copy(keystore)
    document["meta"] = {"note": "[" * 1000 + '{"quoted \\" brace": ' + "{" * 1000}
    assert LocalKey.from_keystore(json.dumps(document), "correct horse").address == ADDRESS0


def test_keystore_pbkdf2_import() -> None:
    document = Account.encrypt(bytes.fromhex(KEY0[2:]), "pw", kdf="pbkdf2", iterations=1000)
    assert LocalKey.from_keystore(document, "pw").address == ADDRESS0


def test_keystore_published_vector() -> None:
    # eth-account's documented example (n=2**18, r=1, p=8), i.e. a file we did not write.
    document = {
        "address": "5ce9454909639D2D17A3F753ce7d93fa0b9aB12E",
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": "482ef54775b0cc59f25717711286f5c8"},
            "ciphertext": "cb636716a9fd46adbb31832d964df2082536edd5399a3393327dc89b0193a2be",
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": 32,
                "n": 262144,
                "p": 8,
                "r": 1,
                "salt": "d3c9a9945000fcb6c9df0f854266d573",
            },
            "mac": "4f626ec5e7fea391b2229348a65bfef532c2a4e8372c0a6a814505a350a7689d",
        },
        "id": "b812f3f9-78cc-462a-9e89-74418aa27cb0",
        "version": 3,
    }
    loaded = LocalKey.from_keystore(document, "password")
    assert loaded.export_private_key() == (
        "0xb25c7db31feed9122727bf0939dc769a96564b2de4c4726d035b36ecf1e5b364"
    )
    assert loaded.address == "0x5ce9454909639D2D17A3F753ce7d93fa0b9aB12E"


CORRUPTIONS = [
    ("crypto.mac", "00" * 32, "wrong_password"),
    ("crypto.ciphertext", "11" * 32, "wrong_password"),
    ("crypto.mac", "zz" * 32, "corrupt"),
    ("crypto.ciphertext", "11" * 31, "corrupt"),
    ("crypto.cipherparams", None, "corrupt"),
    ("crypto.cipherparams.iv", "12", "corrupt"),
    ("crypto.kdfparams.salt", "abc", "corrupt"),
    ("crypto.kdfparams.n", 1000, "corrupt"),
    ("crypto.kdfparams.n", "1024", "corrupt"),
    ("crypto.kdfparams.r", True, "corrupt"),
    ("crypto.kdfparams.p", 0, "corrupt"),
    ("crypto.kdfparams.n", 2**30, "unsupported"),
    ("crypto.kdfparams.p", 2**20, "unsupported"),
    ("crypto.kdfparams.dklen", 64, "unsupported"),
    ("crypto.kdf", "argon2", "unsupported"),
    ("crypto.cipher", "aes-256-gcm", "unsupported"),
    ("crypto", None, "corrupt"),
    ("version", 4, "unsupported"),
    ("version", "3", "unsupported"),
    ("address", "00" * 20, "corrupt"),
]


@pytest.mark.parametrize(("where", "value", "reason"), CORRUPTIONS)
def test_keystore_damaged(
    keystore: dict[str, object], where: str, value: object, reason: str
) -> None:
    document = _copy(keystore)
    *parents, leaf = where.split(".")
    node = document
    for name in parents:
        child = node[name]
        assert isinstance(child, dict)
        node = child
    if value is None:
        del node[leaf]
    else:
        node[leaf] = value
    with pytest.raises(KeystoreError) as info:
        LocalKey.from_keystore(document, "correct horse")
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "text",
    ["", "{", "[1, 2]", '"key"', "null", "[" * 60_000, '{"a": ' + "{" * 100, b"\xff\xfe"],
    ids=["empty", "brace", "list", "string", "null", "deep-list", "deep-object", "not-utf8"],
)
def test_keystore_not_a_document(text: str | bytes) -> None:
    with pytest.raises(KeystoreError) as info:
        LocalKey.from_keystore(text, "pw")
    assert info.value.reason == "corrupt"


def test_pbkdf2_cost_capped() -> None:
    document = Account.encrypt(bytes.fromhex(KEY0[2:]), "pw", kdf="pbkdf2", iterations=1000)
    document["crypto"]["kdfparams"]["c"] = 10**9
    with pytest.raises(KeystoreError) as info:
        LocalKey.from_keystore(document, "pw")
    assert info.value.reason == "unsupported"


@pytest.mark.parametrize("n", [0, 1, 3, 1000, 2**20])
def test_to_keystore_rejects_bad_cost(key: LocalKey, n: int) -> None:
    with pytest.raises(ValueError, match="scrypt_n"):
        key.to_keystore("pw", scrypt_n=n)


@pytest.mark.usefixtures("permissive_umask")
def test_save_load_round_trip_with_mode_0600(key: LocalKey, tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    key.save(path, "pw", scrypt_n=FAST_N)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert LocalKey.load(path, "pw").address == ADDRESS0
    assert LocalKey.load(str(path), "pw").address == ADDRESS0
    with pytest.raises(KeystoreError):
        LocalKey.load(path, "not pw")


def test_save_mode_exact_under_restrictive_umask(key: LocalKey, tmp_path: Path) -> None:
    old = os.umask(0o377)  # would leave the owner unable to write
    try:
        key.save(tmp_path / "key.json", "pw", scrypt_n=FAST_N)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "key.json").stat().st_mode) == 0o600


@pytest.mark.usefixtures("permissive_umask")
def test_save_refuses_to_overwrite_unless_asked(key: LocalKey, tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    other = LocalKey.create()
    other.save(path, "pw", scrypt_n=FAST_N)
    with pytest.raises(FileExistsError):
        key.save(path, "pw", scrypt_n=FAST_N)
    assert LocalKey.load(path, "pw").address == other.address

    path.chmod(0o644)
    key.save(path, "pw", scrypt_n=FAST_N, overwrite=True)
    assert LocalKey.load(path, "pw").address == ADDRESS0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json"]  # no temp file left


def test_load_rejects_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(" " * 100_000 + "{}")
    with pytest.raises(KeystoreError) as info:
        LocalKey.load(path, "pw")
    assert info.value.reason == "corrupt"


def test_load_missing_file_is_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LocalKey.load(tmp_path / "absent.json", "pw")


# -- errors (shared by the whole SDK) --------------------------------------------------------


def test_builtin_twins() -> None:
    assert issubclass(KeystoreError, ValueError)
    assert issubclass(InvalidKeyError, ValueError)
    assert issubclass(InvalidPaymentUriError, ValueError)
    assert issubclass(InvoiceExpiredError, InvalidPaymentUriError)
    assert issubclass(TransportError, ConnectionError)
    assert issubclass(GatewayUnavailableError, TransportError)
    for cls in (KeystoreError, InvalidKeyError, InvalidPaymentUriError, TransportError):
        assert issubclass(cls, DongneError)
    assert issubclass(GatewayError, DongneError)
    assert not issubclass(GatewayError, ValueError)


def test_error_fields_and_text() -> None:
    err = GatewayError("too many requests", status=429, args_={"retry_after": 3})
    assert (err.code, err.detail, err.status, err.args_) == (
        "GATEWAY_ERROR",
        "too many requests",
        429,
        {"retry_after": 3},
    )
    assert str(err) == "too many requests"
    assert str(TransportError()) == "TRANSPORT_ERROR"
    expired = InvoiceExpiredError("late", expiry=10, now=11)
    assert (expired.reason, expired.expiry, expired.now) == ("expired", 10, 11)
    assert expired.args_ == {"expiry": 10, "now": 11}


def test_errors_pickle_with_their_fields() -> None:
    errors: list[DongneError] = [
        KeystoreError("bad", reason="corrupt"),
        InvoiceExpiredError("late", expiry=10, now=11),
        GatewayUnavailableError("down"),
        GatewayError("nope", status=400, code="Custom", args_={"a": 1}),
    ]
    for err in errors:
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is type(err)
        assert copy.__dict__ == err.__dict__
        assert copy.args == err.args


def test_error_for_unknown_code_is_generic_gateway_error() -> None:
    err = error_for("SomethingNew", "reverted", {"x": 1}, status=409)
    assert type(err) is GatewayError
    assert (err.code, err.detail, err.args_, err.status) == (
        "SomethingNew",
        "reverted",
        {"x": 1},
        409,
    )


def test_error_registry() -> None:
    @register_error("TestOnlyUnregistered")
    class UnregisteredError(DongneError):
        pass

    @register_error("TestOnlyRateLimited")
    class RateLimitedError(GatewayError):
        pass

    try:
        err = error_for("TestOnlyUnregistered", "not registered", {"account": ADDRESS0})
        assert isinstance(err, UnregisteredError)
        assert (err.code, err.args_) == ("TestOnlyUnregistered", {"account": ADDRESS0})
        limited = error_for("TestOnlyRateLimited", "slow down", {}, status=429)
        assert isinstance(limited, RateLimitedError)
        assert limited.status == 429
        assert UnregisteredError.code == "TestOnlyUnregistered"
        register_error("TestOnlyUnregistered")(UnregisteredError)  # idempotent
        with pytest.raises(ValueError, match="already registered"):

            @register_error("TestOnlyUnregistered")
            class OtherError(DongneError):
                pass

    finally:
        del _REGISTRY["TestOnlyUnregistered"], _REGISTRY["TestOnlyRateLimited"]
