"""Bulk onboarding: a city's residents or merchants from a CSV onto the chain, resumably.

rows (stream and check each line) -> onchain (who is registered already) -> transactions
(``registerBatch`` chunks, forwarder ``executeBatch`` batches, several in flight) ->
profiles + jobs (the window's rows, errors and cursor in one database transaction) ->
importer (the loop).
"""

from gateway.onboarding.importer import ImportTarget, WindowCallback, import_file
from gateway.onboarding.jobs import ImportJob, import_job, write_error_report

__all__ = [
    "ImportJob",
    "ImportTarget",
    "WindowCallback",
    "import_file",
    "import_job",
    "write_error_report",
]
