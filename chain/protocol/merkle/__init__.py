"""Merkle trees of distributions (OpenZeppelin ``StandardMerkleTree`` compatible).

``leaves`` holds the leaf encoding and the recipients-file reader; ``tree`` the tree itself
(build, proofs, multiproofs, save/load).
"""

from chain.protocol.hashing import KECCAK_BACKEND
from chain.protocol.merkle.leaves import (
    LEAF_ENCODING,
    Leaf,
    MerkleInputError,
    MultiProof,
    leaf_hash,
    read_leaves_csv,
)
from chain.protocol.merkle.tree import MerkleTree

__all__ = [
    "KECCAK_BACKEND",
    "LEAF_ENCODING",
    "Leaf",
    "MerkleInputError",
    "MerkleTree",
    "MultiProof",
    "leaf_hash",
    "read_leaves_csv",
]
