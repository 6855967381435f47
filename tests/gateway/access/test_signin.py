"""Sign-In with Ethereum and access tokens: the happy path, then every way to be refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage
from sqlalchemy import Engine, func, select

from gateway.access.signin import MAX_LINE_CHARS, SignIn
from gateway.access.tokens import TokenSigner
from gateway.db.tables.access import auth_nonces
from gateway.errors import GatewayError

URL = "http://127.0.0.1:8000"
CHAIN = 31337
KEYS = [("k2", "b" * 40), ("k1", "a" * 40)]


def signin(engine: Engine, **kw: object) -> SignIn:
    signer = TokenSigner(KEYS, audience=f"dongne:{CHAIN}", ttl_s=600)
    return SignIn(engine, signer, URL, CHAIN, **kw)  # type: ignore[arg-type]


def message(
    address: str, nonce: str, *, domain: str = "127.0.0.1:8000", uri: str = URL + "/portal",
    chain_id: int = CHAIN, issued: datetime | None = None, expires: datetime | None = None,
) -> str:  # fmt: skip
    issued = issued or datetime.now(UTC)
    fields: dict[str, object] = {
        "domain": domain, "address": address, "uri": uri, "version": "1", "chain_id": chain_id,
        "nonce": nonce, "issued_at": issued.isoformat().replace("+00:00", "Z"),
        "statement": "Sign in to Dongne",
    }  # fmt: skip
    if expires is not None:
        fields["expiration_time"] = expires.isoformat().replace("+00:00", "Z")
    return str(SiweMessage(**fields).prepare_message())


def sign(key: bytes, text: str) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), key).signature).hex()


def refused(action: object) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        action()  # type: ignore[operator]
    return caught.value


def test_login_refresh_logout(engine: Engine) -> None:
    auth = signin(engine)
    wallet = Account.create()
    text = message(wallet.address, auth.nonce().nonce)
    session = auth.login(text, sign(wallet.key, text), client="127.0.0.1")
    claims = auth.signer.verify(session.access_token)
    assert claims.address == wallet.address
    assert auth.session_open(claims)
    assert jwt.get_unverified_header(session.access_token)["kid"] == "k2"

    renewed = auth.refresh(session.refresh_token)
    assert renewed.refresh_token != session.refresh_token
    assert refused(lambda: auth.refresh(session.refresh_token)).code == "AuthInvalid"  # rotated

    auth.logout(auth.signer.verify(renewed.access_token).session_id)
    assert not auth.session_open(auth.signer.verify(renewed.access_token))
    assert refused(lambda: auth.refresh(renewed.refresh_token)).code == "AuthInvalid"


def test_replayed_nonce_is_refused(engine: Engine) -> None:
    auth = signin(engine)
    wallet = Account.create()
    text = message(wallet.address, auth.nonce().nonce)
    auth.login(text, sign(wallet.key, text))
    error = refused(lambda: auth.login(text, sign(wallet.key, text)))
    assert (error.code, error.arguments["check"]) == ("SiweInvalid", "nonce")
    never_issued = message(wallet.address, "abcdef1234567890")
    error = refused(lambda: auth.login(never_issued, sign(wallet.key, never_issued)))
    assert error.arguments["check"] == "nonce"


def test_handing_out_nonces_writes_nothing(engine: Engine) -> None:
    """A stranger asking for nonces in a loop fills no table: they are stateless (MAC'd)."""
    auth = signin(engine)
    nonces = {auth.nonce().nonce for _ in range(200)}
    assert len(nonces) == 200
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(auth_nonces)).scalar() == 0
    wallet = Account.create()
    issued = nonces.pop()
    forged = issued[:-2] + ("00" if issued[-2:] != "00" else "ff")  # the MAC no longer matches
    text = message(wallet.address, forged)
    assert refused(lambda: auth.login(text, sign(wallet.key, text))).arguments["check"] == "nonce"


def test_expired_nonce_is_refused(engine: Engine) -> None:
    auth = signin(engine, nonce_ttl_s=60)
    wallet = Account.create()
    nonce = auth.nonce(now=time.time() - 120).nonce
    text = message(wallet.address, nonce)
    assert refused(lambda: auth.login(text, sign(wallet.key, text))).arguments["check"] == "nonce"


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"domain": "evil.example"}, "domain"),
        ({"uri": "http://evil.example/portal"}, "uri"),
        ({"chain_id": 1}, "chain_id"),
        ({"issued": datetime.now(UTC) + timedelta(hours=1)}, "issued_at"),
        ({"issued": datetime.now(UTC) - timedelta(hours=2)}, "issued_at"),
        ({"expires": datetime.now(UTC) - timedelta(seconds=1),
          "issued": datetime.now(UTC) - timedelta(minutes=2)}, "expired"),
    ],
    ids=["domain", "uri", "chain", "future", "stale", "expired"],
)  # fmt: skip
def test_bad_messages_are_refused_with_the_check(
    engine: Engine, change: dict[str, object], check: str
) -> None:
    auth = signin(engine)
    wallet = Account.create()
    text = message(wallet.address, auth.nonce().nonce, **change)  # type: ignore[arg-type]
    error = refused(lambda: auth.login(text, sign(wallet.key, text)))
    assert (error.code, error.arguments["check"]) == ("SiweInvalid", check)


def test_tampered_or_foreign_signatures_are_refused(engine: Engine) -> None:
    auth = signin(engine)
    wallet, other = Account.create(), Account.create()
    text = message(wallet.address, auth.nonce().nonce)
    tampered = text.replace("Sign in to Dongne", "Sign in to Dongne!")
    assert refused(lambda: auth.login(tampered, sign(wallet.key, text))).arguments["check"] in {
        "signature",
        "malformed",
    }
    assert (
        refused(lambda: auth.login(text, sign(other.key, text))).arguments["check"] == "signature"
    )
    assert refused(lambda: auth.login(text, "0xzz")).arguments["check"] == "signature"
    assert refused(lambda: auth.login("hello", "0x00")).arguments["check"] == "malformed"


def test_failed_logins_are_throttled(engine: Engine) -> None:
    auth = signin(engine, attempts_per_window=3)
    wallet = Account.create()
    for _ in range(3):
        text = message(wallet.address, "feedfacefeedface")
        assert refused(lambda t=text: auth.login(t, sign(wallet.key, t))).code == "SiweInvalid"
    text = message(wallet.address, auth.nonce().nonce)
    assert refused(lambda: auth.login(text, sign(wallet.key, text))).code == "LoginThrottled"
    # Per client too: another wallet from the same client address.
    auth2 = signin(engine, attempts_per_window=3)
    stranger = Account.create()
    for _ in range(3):
        t = message(stranger.address, "feedfacefeedface")
        refused(lambda t=t: auth2.login(t, sign(stranger.key, t), client="10.0.0.9"))
    fresh = Account.create()
    t = message(fresh.address, auth2.nonce().nonce)
    assert refused(lambda: auth2.login(t, sign(fresh.key, t), client="10.0.0.9")).code == (
        "LoginThrottled"
    )


def test_a_long_line_is_refused_before_the_quadratic_parser_sees_it(engine: Engine) -> None:
    """Replays the fuzzer's find: a 4,000-character line cost the siwe parser 4.8 s of CPU per
    login. Such messages are refused as malformed, unparsed; a real message still signs in."""
    auth = signin(engine, attempts_per_window=100)
    wallet = Account.create()
    real = message(wallet.address, auth.nonce().nonce)
    assert max(map(len, real.split("\n"))) <= MAX_LINE_CHARS
    for text in ("a" * 4_000, real.replace("\n\n", "\n" + "a" * 300 + "\n", 1), real * 9):
        err = refused(lambda t=text: auth.login(t, sign(wallet.key, t)))
        assert (err.code, err.arguments["check"]) == ("SiweInvalid", "malformed")
    assert auth.login(real, sign(wallet.key, real)).address.lower() == wallet.address.lower()


def test_tokens_tampered_expired_rotated() -> None:
    signer = TokenSigner(KEYS, audience="dongne:31337", ttl_s=60)
    token, _ = signer.issue("0x" + "11" * 20, "s1")
    head, body, tail = token.split(".")
    forged = jwt.encode({"sub": "0x" + "22" * 20, "sid": "s1", "iat": 1, "exp": 2**40,
                         "aud": "dongne:31337", "iss": "dongne-gateway"}, "x" * 40,
                        headers={"kid": "k2"})  # fmt: skip
    assert refused(lambda: signer.verify(forged)).code == "AuthInvalid"
    assert refused(lambda: signer.verify(f"{head}.{body}x.{tail}")).code == "AuthInvalid"
    none_alg = jwt.encode({"sub": "x"}, None, algorithm="none")  # type: ignore[arg-type]
    assert refused(lambda: signer.verify(none_alg)).code == "AuthInvalid"
    old, _ = signer.issue("0x" + "11" * 20, "s1", now=time.time() - 120)
    assert refused(lambda: signer.verify(old)).code == "AuthExpired"
    other_chain = TokenSigner(KEYS, audience="dongne:1", ttl_s=60)
    assert refused(lambda: other_chain.verify(token)).code == "AuthInvalid"
    # Rotation: a token of the retiring key verifies while that key is listed, not after.
    retiring = TokenSigner([("k1", "a" * 40)], audience="dongne:31337", ttl_s=60)
    legacy, _ = retiring.issue("0x" + "11" * 20, "s2")
    assert signer.verify(legacy).session_id == "s2"
    rotated = TokenSigner([("k3", "c" * 40), ("k2", "b" * 40)], audience="dongne:31337", ttl_s=60)
    assert refused(lambda: rotated.verify(legacy)).code == "AuthInvalid"
    with pytest.raises(ValueError, match="shorter"):
        TokenSigner([("weak", "short")], audience="a", ttl_s=1)
