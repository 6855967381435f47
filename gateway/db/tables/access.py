"""Tables of who is calling: sign-in nonces and sessions, API keys and their uses, the
hash-chained staff action log and the personal-data access log.

Secrets are never stored: refresh tokens and API key secrets are kept as SHA-256 hex digests
(they are 256-bit random values, so a fast hash is enough; a password would need a slow one).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Float, Index, Integer, String, Table

from gateway.db.schema import metadata

ADDRESS = String(42)
DIGEST = String(64)  # SHA-256, lowercase hex
# SQLite numbers rows only for an INTEGER PRIMARY KEY; PostgreSQL logs may pass 2**31 rows.
SERIAL = BigInteger().with_variant(Integer, "sqlite")

# Sign-in nonces that were used (nonces are issued statelessly, see gateway.access.signin):
# the primary key refuses a second use until the nonce has expired anyway.
auth_nonces = Table(
    "auth_nonces",
    metadata,
    Column("nonce", String(32), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("address", ADDRESS, nullable=False),
    Column("refresh_hash", DIGEST, nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Index("ix_auth_sessions_address", "address"),
)

auth_events = Table(
    "auth_events",
    metadata,
    Column("id", SERIAL, primary_key=True),
    Column("at", Float, nullable=False),
    Column("address", ADDRESS, nullable=True),  # the claimed signer, when the message parsed
    Column("client", String(64), nullable=True),  # the caller's network address
    Column("outcome", String(32), nullable=False),  # login | refused code | logout
    Index("ix_auth_events_address", "address", "at"),
    Index("ix_auth_events_client", "client", "at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),  # the public part: "dk_<id>.<secret>"
    Column("secret_hash", DIGEST, nullable=False),
    Column("name", String(100), nullable=False),
    Column("token", ADDRESS, nullable=False),  # the municipality it acts for
    Column("roles", JSON, nullable=False),  # role names, a subset of its creator's
    Column("created_by", ADDRESS, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
    Index("ix_api_keys_token", "token"),
)

api_key_uses = Table(
    "api_key_uses",
    metadata,
    Column("id", SERIAL, primary_key=True),
    Column("key_id", String(16), nullable=False),
    Column("at", Float, nullable=False),
    Column("what", String(200), nullable=False),
    Column("request_id", String(64), nullable=True),
    Index("ix_api_key_uses_key", "key_id", "at"),
)

staff_log = Table(
    "staff_log",
    metadata,
    Column("seq", SERIAL, primary_key=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),  # an address, or "apikey:<id>"
    Column("role", String(64), nullable=True),
    Column("token", ADDRESS, nullable=True),
    Column("action", String(64), nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    # The chain: each entry hashes its predecessor's hash with its own content. The unique
    # constraint makes two concurrent appends on one head fail instead of forking the chain.
    Column("prev_hash", DIGEST, nullable=False, unique=True),
    Column("hash", DIGEST, nullable=False),
)

data_access_log = Table(
    "data_access_log",
    metadata,
    Column("id", SERIAL, primary_key=True),
    Column("at", Float, nullable=False),
    Column("subject", ADDRESS, nullable=False),  # whose data was read
    Column("actor", String(64), nullable=False),
    Column("role", String(64), nullable=True),
    Column("token", ADDRESS, nullable=True),
    Column("what", String(200), nullable=False),
    Column("request_id", String(64), nullable=True),
    Index("ix_data_access_log_subject", "subject", "at"),
    Index("ix_data_access_log_token", "token", "at"),
)

__all__ = [
    "api_key_uses",
    "api_keys",
    "auth_events",
    "auth_nonces",
    "auth_sessions",
    "data_access_log",
    "staff_log",
]
