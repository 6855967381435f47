"""Tables of the relayer: accepted requests and the batch transactions that carry them.

SQLAlchemy Core rather than the ORM: the relayer's writes are the hot path.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    text,
)

from gateway.db.schema import metadata

FORWARD = "forward"
PAYMENT = "payment"

# Request lifecycle: queued -> submitted -> succeeded | failed. `failed` requests whose nonce
# was never used on chain (skipped by the forwarder) free that nonce for a new request.
QUEUED = "queued"
SUBMITTED = "submitted"
SUCCEEDED = "succeeded"
FAILED = "failed"
FINAL_STATES = (SUCCEEDED, FAILED)

_NOT_FAILED = text("status != 'failed'")

requests = Table(
    "relay_requests",
    metadata,
    Column("id", String(66), primary_key=True),  # keccak of digest + signature
    Column("chain_id", Integer, nullable=False),
    Column("signer", String(42), nullable=False),
    Column("target", String(42), nullable=False),
    Column("selector", String(10), nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("gas", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("tx_hash", String(66), nullable=True),
    Column("block_number", BigInteger, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_args", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The X-Request-ID of the HTTP call that brought it (gateway.observability.logs): the
    # batcher's log line names it beside the batch's tx hash, after a restart too.
    Column("http_request_id", String(128), nullable=True),
    # Its signer's shard (gateway.relayer.shards): the replica holding the shard's lease
    # relays it, whichever replica accepted it. NULL only on rows stored before sharding.
    Column("shard", Integer, nullable=True),
    # What the row holds: "forward", a request for the forwarder (`signature` 65 bytes), or
    # "payment", a token-native signed payment (`data` its payBySig calldata, `signature` the
    # compact r || vs). A payment's nonce is the payer's payment sequence on `target`, so its
    # `nonce_scope` is the token; a forwarder nonce is the signer's alone (scope "").
    Column("kind", String(16), nullable=False, server_default="forward"),
    Column("nonce_scope", String(42), nullable=False, server_default=""),
    Index("ix_relay_requests_status_created", "status", "created_at"),
    Index("ix_relay_requests_shard_status", "shard", "status", "created_at"),
    # The arbiter of "never twice" across replicas: one live request per signer and nonce (of
    # the forwarder, or of a token's payment sequence).
    Index(
        "ux_relay_requests_live_nonce",
        "chain_id",
        "nonce_scope",
        "signer",
        "nonce",
        unique=True,
        sqlite_where=_NOT_FAILED,
        postgresql_where=_NOT_FAILED,
    ),
    Index("ix_relay_requests_signer_nonce", "signer", "nonce"),
    Index("ix_relay_requests_tx_hash", "tx_hash"),
)

# Leases (gateway.relayer.lease): `shard:<k>` rows say which replica relays shard k, `replica:<id>`
# rows are the replicas' heartbeats (how many are alive), `settlement` the settlement task's. One
# holder at a time, until `expires_at` unless renewed. `epoch` grows at every change of holder:
# it fences a deposed holder, whose writes name an old epoch and are refused.
leases = Table(
    "relay_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Every executeBatch transaction, stored (with its raw bytes) before it is sent, so a restarted
# gateway can resend it or, if it was dropped, requeue its requests.
batches = Table(
    "relay_batches",
    metadata,
    Column("tx_hash", String(66), primary_key=True),
    Column("relayer", String(42), nullable=False),
    Column("relayer_nonce", BigInteger, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("request_ids", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | mined | dropped
    Column("gas_used", BigInteger, nullable=True),
    Column("block_number", BigInteger, nullable=True),
    Column("submitted_at", Float, nullable=False),
    Index("ix_relay_batches_status", "status"),
)
