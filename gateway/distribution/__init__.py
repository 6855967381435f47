"""Distributions: a recipients CSV -> a saved tree -> a committed root -> pushed grants.

The pipeline's stages are modules, in order: ``trees`` (where a tree lives, loading it),
``jobs`` (create a job, bind it to the committed program, its status), ``pusher`` (send
``grantBatch`` ranges, resumable) and ``proofs`` (proofs for pull claims). The HTTP routes and
the CLI's ``program create`` both drive these same stages.

1. ``create_job`` builds the OpenZeppelin-compatible tree (``chain.protocol.merkle``), saves it
   where :func:`~gateway.distribution.trees.tree_path` says and answers root, total and count.
   The gateway never commits: the program manager signs ``createProgram`` with their own key,
   through the relayer or directly.
2. Once the index holds a ``ProgramCreated`` with that root, the job binds to that program
   (the CLI, which commits with its own key, binds it from its receipt: ``attach_program``).
3. ``push`` sends ``grantBatch`` for contiguous leaf ranges of ``batch_size`` (500) as direct
   transactions of the gateway's distribution key: pushing is permissionless, and 500 fresh
   recipients (~14M gas) are far over a relayed request's gas limit. That key must not be one
   of the relayer's, whose batcher keeps its own nonce sequence.

Nobody is paid twice, whatever crashes: the claimed bitmap on chain is the truth. Each range
is checked with ``isClaimed`` just before sending and only unclaimed leaves are sent; a batch's
transaction hash is stored before it is sent, so a resumed push first settles what it may
already have sent; and the token itself skips a paid index, so even a duplicate send only
costs gas.
"""

from gateway.distribution.jobs import (
    DEFAULT_BATCH,
    BatchRecord,
    JobReport,
    JobStatus,
    attach_program,
    create_job,
    job_report,
    job_status,
    list_jobs,
)
from gateway.distribution.proofs import LeafProof, proof_for, proofs_for_address
from gateway.distribution.pusher import ProgressCallback, push
from gateway.distribution.trees import load_tree, tree_path, trees_beside, trees_dir

__all__ = [
    "DEFAULT_BATCH",
    "BatchRecord",
    "JobReport",
    "JobStatus",
    "LeafProof",
    "ProgressCallback",
    "attach_program",
    "create_job",
    "job_report",
    "job_status",
    "list_jobs",
    "load_tree",
    "proof_for",
    "proofs_for_address",
    "push",
    "tree_path",
    "trees_beside",
    "trees_dir",
]
