"""The Sign-In with Ethereum (EIP-4361) message a wallet signs to read its own data.

Only generated here, from the fields the gateway's ``GET /v1/auth/nonce`` names; the gateway
parses and checks it with the ``siwe`` package. The layout is the ABNF of EIP-4361.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["siwe_message"]


def siwe_message(
    *,
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    statement: str,
    issued_at: datetime | None = None,
) -> str:
    issued = (issued_at or datetime.now(UTC)).astimezone(UTC)
    stamp = issued.strftime("%Y-%m-%dT%H:%M:%S.") + f"{issued.microsecond // 1000:03d}Z"
    return (
        f"{domain} wants you to sign in with your Ethereum account:\n"
        f"{address}\n"
        "\n"
        f"{statement}\n"
        "\n"
        f"URI: {uri}\n"
        "Version: 1\n"
        f"Chain ID: {chain_id}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {stamp}"
    )
