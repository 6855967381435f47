"""Where a distribution's Merkle tree lives on disk (the one rule), loading it, leaves in SQL."""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy import Connection, insert, select

from chain.protocol.merkle import MerkleTree
from gateway.db.tables import distribution as d
from gateway.settings import Settings


def trees_dir(settings: Settings) -> Path:
    """Where the gateway of ``settings`` keeps trees (see :func:`trees_beside`)."""
    return trees_beside(settings.manifest_path)


def trees_beside(manifest_path: Path) -> Path:
    """The one rule: trees live in ``trees/`` beside the deployment's manifest
    (``.dongne/trees``), for the gateway and the CLI alike."""
    return manifest_path.parent / "trees"


def tree_path(trees_dir: Path, root: str) -> Path:
    return trees_dir / f"{root.removeprefix('0x')}.bin"


@functools.lru_cache(maxsize=8)
def _cached_tree(path: str, _mtime_ns: int) -> MerkleTree:
    # Keyed by modification time too, so a rewritten file is never served stale.
    return MerkleTree.load(path)


def load_tree(trees_dir: Path, root: str) -> MerkleTree | None:
    """The saved tree of ``root``, or None when this gateway never built it."""
    path = tree_path(trees_dir, root)
    try:
        return _cached_tree(str(path), path.stat().st_mtime_ns)
    except FileNotFoundError:
        return None


def ensure_leaves(conn: Connection, root: str, tree: MerkleTree) -> None:
    """Stores the tree's leaves once per root (for lookups by recipient and SQL audits)."""
    c = d.distribution_leaves.c
    if conn.execute(select(c.leaf_index).where(c.root == root).limit(1)).first():
        return
    chunk: list[dict[str, object]] = []
    for leaf in tree:
        recipient = leaf.recipient.lower()
        chunk.append({"root": root, "leaf_index": leaf.index, "recipient": recipient,
                      "amount": leaf.amount})  # fmt: skip
        if len(chunk) == 5_000:
            conn.execute(insert(d.distribution_leaves), chunk)
            chunk = []
    if chunk:
        conn.execute(insert(d.distribution_leaves), chunk)
