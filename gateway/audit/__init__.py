"""Auditors' tools: reconciliation of the index against the chain, the ledger export,
distribution verification, fraud flags and settlement batches.
"""

from gateway.audit.distributions import DistributionVerification, GrantIssue, verify_distribution
from gateway.audit.ledger import (
    LEDGER_COLUMNS,
    LedgerEntry,
    check_trailer,
    ledger_csv,
    ledger_entries,
    ledger_jsonl,
)
from gateway.audit.reconciliation import (
    DEFAULT_SAMPLE,
    FULL_CHECK_LIMIT,
    Difference,
    Reconciliation,
    reconcile,
)

__all__ = [
    "DEFAULT_SAMPLE",
    "FULL_CHECK_LIMIT",
    "LEDGER_COLUMNS",
    "Difference",
    "DistributionVerification",
    "GrantIssue",
    "LedgerEntry",
    "Reconciliation",
    "check_trailer",
    "ledger_csv",
    "ledger_entries",
    "ledger_jsonl",
    "reconcile",
    "verify_distribution",
]
