"""Proofs for pull claims: what a wallet needs to call ``claim`` or ``claimAndPay``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, Engine, select

from chain.protocol.merkle import MerkleTree
from gateway.db.tables import distribution as d
from gateway.db.tables import index as t
from gateway.distribution.trees import ensure_leaves, load_tree


@dataclass(frozen=True, slots=True)
class LeafProof:
    """What a wallet needs to pull its grant with ``claim`` or ``claimAndPay``."""

    token: str
    program_id: int
    root: str
    index: int
    recipient: str
    amount: int
    proof: list[str]
    claimed: bool  # a Granted event for this index is indexed


@dataclass(frozen=True, slots=True)
class _Committed:
    chain_id: int
    token: str
    program_id: int
    root: str
    tree: MerkleTree


def _committed(
    conn: Connection, trees_dir: Path, chain_id: int, token: str, program_id: int
) -> _Committed | None:
    """A committed program with its saved tree, or None when either is unknown here."""
    p = t.programs.c
    query = select(p.root).where(
        p.chain_id == chain_id, p.token == token.lower(), p.program_id == program_id
    )
    root = conn.execute(query).scalar()
    tree = None if root is None else load_tree(trees_dir, str(root))
    if tree is None:
        return None
    return _Committed(chain_id, token.lower(), program_id, str(root), tree)


def _proofs(conn: Connection, program: _Committed, indices: Sequence[int]) -> list[LeafProof]:
    g = t.grants.c
    query = select(g.grant_index).where(
        g.chain_id == program.chain_id,
        g.token == program.token,
        g.program_id == program.program_id,
        g.grant_index.in_(list(indices)),
    )
    claimed = set(conn.execute(query).scalars())
    token, tree = to_checksum_address(program.token), program.tree
    out = []
    for index in indices:
        leaf = tree.leaf(index)
        proof = ["0x" + node.hex() for node in tree.proof(index)]
        out.append(
            LeafProof(token, program.program_id, program.root, index, leaf.recipient,
                      leaf.amount, proof, index in claimed)
        )  # fmt: skip
    return out


def proof_for(
    engine: Engine, trees_dir: Path, chain_id: int, token: str, program_id: int, index: int
) -> LeafProof | None:
    """The proof of leaf ``index`` of a committed program, if this gateway keeps its tree."""
    with engine.connect() as conn:
        program = _committed(conn, trees_dir, chain_id, token, program_id)
        if program is None or not 0 <= index < len(program.tree):
            return None
        return _proofs(conn, program, [index])[0]


def proofs_for_address(
    engine: Engine, trees_dir: Path, chain_id: int, token: str, program_id: int, address: str
) -> list[LeafProof] | None:
    """Every leaf of ``address`` in a program (a list may name someone twice); None when the
    program or its tree is unknown."""
    with engine.begin() as conn:
        program = _committed(conn, trees_dir, chain_id, token, program_id)
        if program is None:
            return None
        ensure_leaves(conn, program.root, program.tree)  # trees the CLI saved have no rows yet
        c = d.distribution_leaves.c
        query = select(c.leaf_index).where(c.root == program.root, c.recipient == address.lower())
        indices = [int(i) for i in conn.execute(query.order_by(c.leaf_index)).scalars()]
        return _proofs(conn, program, indices)
