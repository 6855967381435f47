"""Short-lived access tokens (JWT, HS256) for signed-in people, with key rotation.

Keys come from settings as ``kid:secret`` pairs; the first signs, all verify, so a key is
rotated by putting the new one first and dropping the old one once its tokens have expired
(``access_ttl_s``, minutes). A token names its session, so signing out revokes it at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

from gateway.errors import GatewayError

__all__ = ["AccessClaims", "TokenSigner"]

ISSUER = "dongne-gateway"
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class AccessClaims:
    address: str  # EIP-55: the signed-in wallet
    session_id: str
    expires_at: int


class TokenSigner:
    def __init__(self, keys: Sequence[tuple[str, str]], *, audience: str, ttl_s: int) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        for kid, secret in keys:
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"signing key {kid!r} is shorter than {MIN_SECRET_BYTES} bytes")
        self.keys = dict(keys)
        self.current = keys[0][0]
        self.audience = audience
        self.ttl_s = ttl_s

    def issue(self, address: str, session_id: str, *, now: float | None = None) -> tuple[str, int]:
        """The token and its expiry (unix seconds)."""
        issued = int(time.time() if now is None else now)
        expires = issued + self.ttl_s
        claims = {"iss": ISSUER, "aud": self.audience, "sub": address, "sid": session_id,
                  "iat": issued, "exp": expires}  # fmt: skip
        token = jwt.encode(
            claims, self.keys[self.current], algorithm=ALGORITHM, headers={"kid": self.current}
        )
        return token, expires

    def verify(self, token: str) -> AccessClaims:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            secret = self.keys.get(str(kid))
            if secret is None:
                raise GatewayError("AuthInvalid", "the token was signed with an unknown key")
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],  # never "none", never a key the header picks
                audience=self.audience,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise GatewayError("AuthExpired", "the access token has expired") from None
        except jwt.PyJWTError as exc:
            raise GatewayError("AuthInvalid", f"the access token is invalid: {exc}") from None
        return AccessClaims(str(claims["sub"]), str(claims["sid"]), int(claims["exp"]))
