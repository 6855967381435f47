"""The gateway's settings: one pydantic-settings class, read from `DONGNE_*` variables."""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable about a gateway replica. Defaults run the local network."""

    model_config = SettingsConfigDict(env_prefix="DONGNE_", env_file=None, extra="ignore")

    rpc_url: str = "http://127.0.0.1:8545"
    database_url: str = "sqlite:///.dongne/gateway.db"
    manifest_path: Path = Path(".dongne/manifest.json")

    # Relayer: keys that pay gas for executeBatch. They hold no role in any contract.
    relayer_keys: list[SecretStr] = Field(default_factory=list)
    batch_max_requests: int = 100
    batch_interval_ms: int = 200
    max_in_flight_batches: int = 8
    resubmit_after_s: float = 30.0
    request_gas_limit: int = 1_000_000  # staff functions (issue, createProgram, ...)
    # Residents' and merchants' functions need far less: a relayed payment's call uses about
    # 100k gas, a claimAndPay with a 20-deep proof about 170k (bench_gas.py). Their calldata
    # is a few hundred bytes; 4 KiB leaves room for long proofs and many pockets.
    user_request_gas_limit: int = 400_000
    user_calldata_limit: int = 4 * 1024
    staff_calldata_limit: int = 32 * 1024
    # A request's deadline must leave the batcher time to submit it, and not park for ever.
    min_deadline_margin_s: int = 5
    max_deadline_s: int = 24 * 3600
    # Gas a signer may ask for per window (a resident pays a few times a day; a sales agent
    # issues in bursts): beyond it, SignerThrottled until the window moves on.
    signer_gas_budget: int = 20_000_000
    signer_gas_window_s: float = 60.0
    # Requests held in memory (queued, parked behind a nonce gap, or in flight), all signers.
    max_held_requests: int = 50_000
    # Admission control (gateway.relayer.admission): when saturated the relayer answers 503
    # Overloaded with Retry-After at once, before checking a signature, instead of queueing
    # without bound. Submissions being checked and stored at the same time: an adaptive limit
    # (gateway.relayer.concurrency) between these two keeps the time an accepted one takes
    # (slot to answer, 90th percentile) near the target while the batcher has work enough;
    # beyond it the intake is full. Each waits on the node's simulation, the group commit and
    # the event loop: ~10 are busy at capacity, the rest of a fixed 64 only queued.
    intake_max_in_flight: int = 64
    intake_min_in_flight: int = 8
    intake_target_ms: float = 50.0
    # Accepted requests not yet final may take at most this long to drain at the batcher's
    # measured rate (finals per second over the last drain_window_s) ...
    max_backlog_s: float = 5.0
    drain_window_s: float = 10.0
    # ... and before a rate is measured (a fresh start), it is taken to be this.
    min_drain_per_s: float = 100.0
    # An executeBatch transaction stays well below the common 128 KiB transaction-pool limit.
    batch_max_bytes: int = 96 * 1024
    # Where gas has a price, a relayer key below this balance is unfunded: readiness fails
    # when every key is, and new requests are refused (503) instead of waiting for ever.
    # Zero-gas networks (the permissioned production chain) never check it.
    relayer_min_balance_wei: int = 10**16
    # Replicas on one database (gateway.relayer.shards): signers are split into shards, each
    # relayed by one key on the replica holding the shard's lease; every replica accepts and
    # stores, and a shard's owner adopts what others stored. A replica id must be unique per
    # replica and stable across its restarts (a restart then resumes at once). A dead
    # replica's shards are taken over within the TTL plus a third of it.
    replica_id: str = Field(default_factory=socket.gethostname)
    relayer_lease_ttl_s: float = 5.0
    # 0: one shard per relayer key (at most that many: a key's nonces need one writer).
    relayer_shards: int = 0
    adopt_interval_s: float = 0.05  # how often a shard's owner looks for others' requests

    # Distribution pushes: direct grantBatch transactions from their own key (never a relayer
    # key, whose nonces the batcher counts); it holds no role, since the root is the authority.
    distribution_key: SecretStr | None = None

    # Abuse limits. Recipient lists and auditors' CSVs are uploads, with their own limit.
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 256 * 1024 * 1024
    rate_limit_per_signer: int = 50  # requests per window
    # Submissions of one signer being checked at once (they run one at a time): beyond it
    # 429 RateLimited, so one signer's flood cannot take every intake slot from the others.
    intake_max_per_signer: int = 8
    rate_limit_window_s: float = 1.0

    # Indexer. At scale it runs as its own process (`dongne indexer`, one per database) and
    # the gateway replicas set DONGNE_EMBEDDED_INDEXER=false: they serve what it writes.
    embedded_indexer: bool = True
    confirmations: int = 0
    index_batch_blocks: int = 2_000
    # Ranges read ahead of the one being written: the node answers the next eth_getLogs
    # while this process decodes and writes.
    index_prefetch_ranges: int = 2
    poll_interval_s: float = 0.2

    # Reports over a time window (fraud, settlement previews, sales) are capped at this many
    # days: decades in one request pinned a worker for 41 s.
    report_window_max_days: int = 400

    # Automatic settlement (gateway.audit.settlement_schedule): a batch per municipality for
    # each day closed at the cut-off (KST "HH:MM"; per-region overrides, e.g. {"26000":
    # "18:00"}), on the replica holding the settlement lease. Off by default: the local
    # network and its tests choose their windows by hand (POST .../settlements).
    settlement_auto: bool = False
    settlement_cutoff_kst: str = "23:00"
    settlement_cutoffs: dict[int, str] = Field(default_factory=dict)
    settlement_interval_s: float = 30.0
    settlement_lease_ttl_s: float = 90.0
    # Observability: one JSON object per log line (timestamp, level, logger, message,
    # request_id, ...) for log shippers; "text" for a person reading a console. An access line
    # per HTTP request (dongne.http) unless access_log is off.
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    access_log: bool = True
    # /readyz: each probe (node, database) must answer within this, and the index must have
    # reached the head within the last ready_max_index_lag_s seconds.
    ready_probe_timeout_s: float = 2.0
    ready_max_index_lag_s: float = 30.0

    # Simulate each request at acceptance and answer 422 at once when it would revert.
    simulate: bool = True

    # Access (gateway.access). Sign-in messages must name `public_url` (domain and URI).
    # Access tokens are signed with `auth_signing_keys` ("kid:secret", 32+ bytes each; the
    # first signs, all verify: rotate by putting a new key first). None configured: a random
    # key per process, so tokens do not survive a restart (fine for the local network only).
    public_url: str = "http://127.0.0.1:8000"
    # Browser origins allowed to call the API (a wallet or portal on another origin). None by
    # default; the local network (`dongne up`) allows its own origin and localhost.
    cors_origins: list[str] = Field(default_factory=list)
    auth_signing_keys: list[SecretStr] = Field(default_factory=list)
    access_token_ttl_s: int = 600
    refresh_token_ttl_s: int = 7 * 86_400
    siwe_nonce_ttl_s: int = 300
    login_attempts_per_window: int = 10
    login_window_s: float = 300.0
    role_cache_s: float = 2.0

    # In-app voucher sales (gateway.purchase). Off unless a payment provider and a sales agent
    # key are configured: the provider's API (the bank simulator on the local network) and its
    # webhook secret, and the city's ISSUER key that issues paid orders on chain.
    payment_provider_name: str = "banksim"
    payment_provider_url: str | None = None
    payment_provider_secret: SecretStr | None = None
    sales_agent_key: SecretStr | None = None
    # The discount of a city that set none (basis points; None: no in-app sale without one).
    sale_default_discount_bps: int | None = None
    purchase_payment_window_s: float = 3600.0  # a virtual account takes deposits this long
    webhook_tolerance_s: float = 300.0  # older (or newer) signed webhooks are refused
    run_sales_agent: bool = True  # issue paid orders from this replica's background task
    sales_agent_interval_s: float = 1.0

    # The portal's demo wallets (`dongne up --demo`): a JSON file of demo keys the sign-in
    # page offers, and only to a caller on loopback of a gateway on loopback. Unset anywhere
    # else, and then the demo path does not exist.
    portal_demo_keys: Path | None = None
    # The per-run secret `dongne up --demo` prints in the portal's URL (?demo=...): the demo
    # wallets are served only to a caller that presents it (header X-Dongne-Demo). Without
    # it the demo path does not exist either.
    portal_demo_secret: SecretStr | None = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
