"""Sign-In with Ethereum (EIP-4361, the ``siwe`` package): nonces, login, refresh, logout.

A nonce is single-use and short-lived; the message must name this gateway's domain and URI,
this chain, a nonce we issued and not used, and times around now. A login answers an access
token (:mod:`gateway.access.tokens`) and a refresh token, kept only as its SHA-256, revocable.
Externally owned accounts only: contract wallets (EIP-1271) would need the node to check the
signature and are not accepted yet.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from eth_utils.address import to_checksum_address
from siwe import SiweMessage, VerificationError
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.access.tokens import AccessClaims, TokenSigner
from gateway.db.tables import access as a
from gateway.errors import GatewayError

__all__ = ["MAX_LINE_CHARS", "MAX_MESSAGE_CHARS", "Nonce", "Session", "SignIn", "digest"]

# Bounds of a sign-in message, checked before it is parsed (see SignIn._parse): at these, the
# worst message measured costs ~30 ms of CPU to parse.
MAX_MESSAGE_CHARS = 2_048
MAX_LINE_CHARS = 256


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Nonce:
    nonce: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Session:
    address: str
    session_id: str
    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: float


@dataclass
class SignIn:
    """The sign-in rules of one gateway: its public URL, chain and token signer."""

    engine: Engine
    signer: TokenSigner
    public_url: str  # what messages must name: scheme://host[:port]
    chain_id: int
    nonce_ttl_s: float = 300.0
    refresh_ttl_s: float = 7 * 86_400.0
    clock_skew_s: float = 300.0
    attempts_per_window: int = 10  # failed sign-ins per address or client before throttling
    window_s: float = 300.0

    @property
    def domain(self) -> str:
        return urlsplit(self.public_url).netloc

    def nonce(self, *, now: float | None = None) -> Nonce:
        """A fresh nonce. Stateless: it carries its expiry and a MAC under the gateway's
        key, so handing out nonces writes nothing (a stranger asking for millions fills no
        table); only a nonce used in a sign-in is stored, to refuse it a second time."""
        at = time.time() if now is None else now
        expires = int(at + self.nonce_ttl_s)
        payload = expires.to_bytes(5, "big") + secrets.token_bytes(5)
        # 32 hex characters: EIP-4361 wants at least 8 alphanumerics; the table holds 32.
        return Nonce((payload + self._mac(payload)).hex(), float(expires))

    def _mac(self, payload: bytes) -> bytes:
        key = hashlib.sha256(b"dongne siwe nonce " + self.signer.keys[self.signer.current].encode())
        return hmac.new(key.digest(), payload, hashlib.sha256).digest()[:6]

    def login(
        self, message: str, signature: str, *, client: str | None = None, now: float | None = None
    ) -> Session:
        at = time.time() if now is None else now
        claimed: str | None = None
        try:
            parsed = self._parse(message)
            claimed = parsed.address.lower()
            self._throttle(claimed, client, at)
            self._check(parsed, signature, at)
            self._consume(parsed.nonce, at)
        except GatewayError as exc:
            self._event(claimed, client, exc.code if exc.code != "SiweInvalid" else
                        f"SiweInvalid:{exc.arguments.get('check')}", at)  # fmt: skip
            raise
        session = self._open(to_checksum_address(parsed.address), at)
        self._event(claimed, client, "login", at)
        return session

    def refresh(self, refresh_token: str, *, now: float | None = None) -> Session:
        """A new access token and a new refresh token; the old refresh token stops working."""
        at = time.time() if now is None else now
        s = a.auth_sessions.c
        with self.engine.begin() as conn:
            row = conn.execute(
                select(a.auth_sessions).where(s.refresh_hash == digest(refresh_token))
            ).first()
            if row is None or row.revoked_at is not None or row.expires_at <= at:
                raise GatewayError(
                    "AuthInvalid", "the refresh token is unknown, revoked or expired"
                )
            conn.execute(update(a.auth_sessions).where(s.id == row.id).values(revoked_at=at))
        return self._open(str(row.address), at)

    def logout(self, session_id: str, *, now: float | None = None) -> None:
        at = time.time() if now is None else now
        s = a.auth_sessions.c
        with self.engine.begin() as conn:
            conn.execute(
                update(a.auth_sessions)
                .where(s.id == session_id, s.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            address = conn.execute(select(s.address).where(s.id == session_id)).scalar()
        self._event(str(address).lower() if address else None, None, "logout", at)

    def session_open(self, claims: AccessClaims, *, now: float | None = None) -> bool:
        """Whether the token's session is still open (not signed out)."""
        at = time.time() if now is None else now
        s = a.auth_sessions.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.revoked_at, s.expires_at).where(s.id == claims.session_id)
            ).first()
        return row is not None and row.revoked_at is None and row.expires_at > at

    # ------------------------------------------------------------------------------------

    def _parse(self, message: str) -> SiweMessage:
        # The siwe package's ABNF parser is quadratic in a line's length: one 4,000-character
        # line cost 4.8 s of CPU (measured), so a stranger could keep a worker busy per login.
        # A real EIP-4361 message has short lines (~100 characters, a URI at most a few hundred).
        if len(message) > MAX_MESSAGE_CHARS:
            raise _refused(
                "malformed", f"the sign-in message is over {MAX_MESSAGE_CHARS} characters"
            )
        if max(map(len, message.split("\n"))) > MAX_LINE_CHARS:
            raise _refused("malformed", f"a line of the sign-in message is over {MAX_LINE_CHARS}")
        try:
            return SiweMessage.from_message(message=message)
        except Exception as exc:  # the parser raises ValueError and its own grammar errors
            raise _refused("malformed", f"not an EIP-4361 message: {exc}") from None

    def _check(self, m: SiweMessage, signature: str, at: float) -> None:
        if m.domain != self.domain:
            raise _refused("domain", f"the message is for {m.domain!r}, this is {self.domain!r}")
        if not str(m.uri).startswith(self.public_url):
            raise _refused("uri", f"the message's URI {m.uri} is not under {self.public_url}")
        if int(m.chain_id) != self.chain_id:
            raise _refused("chain_id", f"the message is for chain {m.chain_id}")
        now = datetime.fromtimestamp(at, UTC)
        issued = datetime.fromisoformat(str(m.issued_at).replace("Z", "+00:00"))
        skew = timedelta(seconds=self.clock_skew_s)
        if issued > now + skew:
            raise _refused("issued_at", "the message was issued in the future")
        if m.expiration_time is None and issued < now - timedelta(seconds=self.nonce_ttl_s) - skew:
            raise _refused("issued_at", "the message was issued too long ago")
        try:
            m.verify(signature, domain=self.domain, timestamp=now)
        except VerificationError as exc:
            check = {"ExpiredMessage": "expired", "NotYetValidMessage": "not_before"}.get(
                type(exc).__name__, "signature"
            )
            raise _refused(check, f"the sign-in message fails: {type(exc).__name__}") from None
        except Exception:  # a signature that is not even hex
            raise _refused("signature", "the signature is malformed") from None

    def _consume(self, nonce: str, at: float) -> None:
        """Checks the nonce is ours and unexpired, then records it used: the primary key
        makes a second use fail, whichever replica sees it."""
        try:
            raw = bytes.fromhex(nonce)
        except ValueError:
            raw = b""
        payload, mac = raw[:10], raw[10:]
        if len(raw) != 16 or not hmac.compare_digest(mac, self._mac(payload)):
            raise _refused("nonce", "the nonce was not issued by this gateway")
        expires = int.from_bytes(payload[:5], "big")
        if expires <= at:
            raise _refused("nonce", "the nonce has expired")
        n = a.auth_nonces.c
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(a.auth_nonces).values(
                        nonce=nonce, created_at=at, expires_at=float(expires), used_at=at
                    )
                )
                # Used nonces past their expiry can never be replayed: forget them.
                conn.execute(a.auth_nonces.delete().where(n.expires_at < at - 60))
        except IntegrityError:
            raise _refused("nonce", "the nonce was already used") from None

    def _throttle(self, address: str, client: str | None, at: float) -> None:
        e = a.auth_events.c
        failed = e.outcome.not_in(("login", "logout"))
        since = at - self.window_s
        with self.engine.connect() as conn:
            for column, value in ((e.address, address), (e.client, client)):
                if value is None:
                    continue
                count = conn.execute(
                    select(func.count()).where(column == value, e.at >= since, failed)
                ).scalar()
                if int(count or 0) >= self.attempts_per_window:
                    raise GatewayError(
                        "LoginThrottled",
                        f"too many failed sign-ins; wait {self.window_s:.0f} s",
                        {"retry_after": self.window_s},
                    )

    def _open(self, address: str, at: float) -> Session:
        session_id = secrets.token_hex(16)
        refresh = secrets.token_urlsafe(32)
        expires = at + self.refresh_ttl_s
        with self.engine.begin() as conn:
            conn.execute(
                insert(a.auth_sessions).values(
                    id=session_id, address=address, refresh_hash=digest(refresh),
                    created_at=at, expires_at=expires,
                )
            )  # fmt: skip
        token, token_expires = self.signer.issue(address, session_id, now=at)
        return Session(address, session_id, token, token_expires, refresh, expires)

    def _event(self, address: str | None, client: str | None, outcome: str, at: float) -> None:
        row = {"at": at, "address": address, "client": client, "outcome": outcome[:32]}
        with self.engine.begin() as conn:
            conn.execute(insert(a.auth_events).values(row))


def _refused(check: str, detail: str) -> GatewayError:
    return GatewayError("SiweInvalid", detail, {"check": check})
