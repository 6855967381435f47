"""Merkle trees for policy-allowance distributions, byte-compatible with OpenZeppelin.

A distribution is a list of ``(index, recipient, amount)`` leaves. The claim contract verifies
them with OpenZeppelin Contracts' ``MerkleProof``, and operators may cross-check a distribution
with the JS ``@openzeppelin/merkle-tree`` package, so this module reproduces that package's
``StandardMerkleTree`` exactly (leaf encoding ``["uint256", "address", "uint256"]``, double
keccak leaves, commutative node hash, heap array layout). Roots, proofs and multiproofs are
therefore interchangeable with ``StandardMerkleTree.of(values, types, { sortLeaves })``.

Leaves are kept in index order by default (``sort_leaves=False``, the JS ``sortLeaves: false``):
a push batch of consecutive indices then sits in one subtree, so its multiproof carries a few
nodes instead of about ``log2(n / batch)`` per leaf, and ``grantBatch`` costs about a third
less per recipient on a million-leaf tree (scripts/bench_distribution.py). ``sort_leaves=True``
reproduces the JS library's default (leaves sorted by hash). Either way it is a standard tree
that standard tools verify, but the choice changes the root: rebuild with the same option.

The tree must scale to about a million recipients inside a gateway process, so nodes live in a
single ``bytearray`` in the JS library's array layout, recipients and amounts in flat byte
arrays, and :meth:`MerkleTree.save` writes those buffers as-is so a restart can serve proofs
without rehashing anything.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import struct
import sys
import threading
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from chain.protocol.hashing import ADDRESS_BYTES, keccak_hasher, to_checksum
from chain.protocol.merkle.leaves import (
    ADDRESS_PAD,
    Leaf,
    MerkleInputError,
    MultiProof,
    leaf_hash_raw,
    parse_csv,
    trusted_leaf,
)

__all__ = ["MerkleTree"]

# The on-disk order table stores value indices as u32.
_MAX_LEAVES = (1 << 32) - 1
_NODE = 32


# --------------------------------------------------------------------------------------------
# Tree

_U32 = "I" if array("I").itemsize == 4 else "L"
_MAGIC = b"DNGMRKL\x00"
_VERSION = 2
_HEADER = struct.Struct("<8sII32s")  # magic, version, leaf count, root (every version)
_FLAGS = struct.Struct("<I")  # version 2+: follows the header
_FLAG_SORTED = 0x1  # leaves sorted by hash; clear means index order


def _u32_array(n: int) -> array[int]:
    return array(_U32, bytes(4 * n))


class MerkleTree:
    """OpenZeppelin ``StandardMerkleTree`` over ``(uint256 index, address, uint256 amount)``.

    Layout (same as the JS library's ``tree`` array): node ``i`` has children ``2i+1`` and
    ``2i+2``, the root is node 0, and the ``n`` leaf hashes occupy the last ``n`` nodes in
    reverse, so leaf position ``p`` is node ``2n-2-p``. The position is the leaf index itself
    with ``sort_leaves=False`` (``sortLeaves: false``), and the rank of the leaf hash in
    ascending order with ``sort_leaves=True`` (the JS default).
    """

    __slots__ = ("_amounts", "_n", "_order", "_position", "_recipients", "_sorted", "_tree")

    _tree: bytearray  # (2n-1) * 32 bytes of nodes
    _sorted: bool  # leaves sorted by hash (else position == index)
    _order: array[int]  # sorted leaf position -> leaf index (empty when not sorted)
    _position: array[int]  # leaf index -> sorted leaf position (empty when not sorted)
    _recipients: bytearray  # n * 20 bytes, by leaf index
    _amounts: bytearray  # n * 32 bytes big-endian, by leaf index
    _n: int

    def __init__(self, leaves: Iterable[Leaf], *, sort_leaves: bool = False) -> None:
        """Build from leaves whose indices are 0, 1, 2, ... in order.

        Contiguous indices make the leaf index double as the on-chain claim-bitmap slot and
        as the JS library's value index, so proofs by index agree between the two.
        ``sort_leaves`` is the JS option ``sortLeaves`` (see the module docstring); the
        default, ``False``, keeps leaves in index order.
        """

        def raw_leaves() -> Iterator[tuple[int, bytes, int]]:
            for position, leaf in enumerate(leaves):
                if leaf.index != position:
                    raise ValueError(
                        f"leaf #{position} has index {leaf.index}; indices must be 0, 1, 2, ..."
                    )
                yield position, bytes.fromhex(leaf.recipient[2:]), leaf.amount

        self._build(raw_leaves(), sort_leaves)

    @classmethod
    def from_csv(
        cls, source: str | os.PathLike[str] | TextIO, *, sort_leaves: bool = False
    ) -> MerkleTree:
        """Build straight from a recipients CSV (see :func:`read_leaves_csv`).

        Skips creating :class:`Leaf` objects: their EIP-55 checksums would cost more than the
        tree itself on a large file. ``sort_leaves`` is as for the constructor.
        """
        tree = cls.__new__(cls)
        try:
            tree._build(parse_csv(source), sort_leaves)
        except _EmptyTreeError:
            raise MerkleInputError(1, "no recipient rows") from None
        return tree

    def _build(self, leaves: Iterator[tuple[int, bytes, int]], sort_leaves: bool) -> None:
        if not isinstance(sort_leaves, bool):
            raise TypeError(f"sort_leaves must be a bool, got {type(sort_leaves).__name__}")
        if sort_leaves:
            tree, order, position, recipients, amounts = self._sorted_leaves(leaves)
        else:
            tree, recipients, amounts = self._index_ordered_leaves(leaves)
            order, position = array(_U32), array(_U32)
        n = len(recipients) // ADDRESS_BYTES
        keccak = keccak_hasher()

        # Siblings 2i+1 and 2i+2 are adjacent, so one 64-byte copy is already the "left, right"
        # concatenation; `pair < right` compares left with right (a tie compares greater, but
        # then either order hashes the same bytes).
        with memoryview(tree) as view:
            for i in range(n - 2, -1, -1):
                child = (2 * i + 1) * _NODE
                pair = bytes(view[child : child + 2 * _NODE])
                right = pair[_NODE:]
                tree[i * _NODE : (i + 1) * _NODE] = keccak(
                    pair if pair < right else right + pair[:_NODE]
                )

        self._tree = tree
        self._sorted = sort_leaves
        self._order = order
        self._position = position
        self._recipients = recipients
        self._amounts = amounts
        self._n = n

    @staticmethod
    def _sorted_leaves(
        leaves: Iterator[tuple[int, bytes, int]],
    ) -> tuple[bytearray, array[int], array[int], bytearray, bytearray]:
        """Hash the leaves and lay them out sorted by hash, as ``sortLeaves: true`` does.

        Returns the node buffer (internal nodes still zero), the order and position tables,
        and the recipients and amounts buffers.
        """
        keccak = keccak_hasher()
        recipients = bytearray()
        amounts = bytearray()
        # Each entry is hash || u32 index: sorting these bytes orders by hash exactly like the
        # JS library's BigInt comparison (equal-length big-endian), and carries the index along
        # without a per-leaf tuple. Hashes cannot tie since every preimage has its own index.
        entries: list[bytes] = []
        pad = ADDRESS_PAD
        for index, recipient, amount in leaves:
            if index > _MAX_LEAVES - 1:
                raise ValueError(f"more than {_MAX_LEAVES} leaves")
            amount_word = amount.to_bytes(32, "big")
            encoded = index.to_bytes(32, "big") + pad + recipient + amount_word
            entries.append(keccak(keccak(encoded)) + index.to_bytes(4, "big"))
            recipients += recipient
            amounts += amount_word
        n = len(entries)
        if n == 0:
            raise _EmptyTreeError("a Merkle tree needs at least one leaf")
        entries.sort()

        order = _u32_array(n)
        position = _u32_array(n)
        # Pop from the largest hash down: that is exactly the leaves' address order in the
        # array (position p sits at node 2n-2-p), and freeing each entry as it is copied keeps
        # the peak at roughly one copy of the leaf hashes.
        leaf_nodes = bytearray()
        pos = n - 1
        while entries:
            entry = entries.pop()
            leaf_nodes += entry[:32]
            index = int.from_bytes(entry[32:], "big")
            order[pos] = index
            position[index] = pos
            pos -= 1
        del entries
        # Growing a large bytearray this much allocates the exact size (no slack), and appending
        # rather than prepending avoids a temporary zero-filled copy of the internal region.
        tree = bytearray((n - 1) * _NODE)
        tree += leaf_nodes
        return tree, order, position, recipients, amounts

    @staticmethod
    def _index_ordered_leaves(
        leaves: Iterator[tuple[int, bytes, int]],
    ) -> tuple[bytearray, bytearray, bytearray]:
        """Hash the leaves and lay them out in index order, as ``sortLeaves: false`` does.

        Leaf ``i`` is node ``2n-2-i``, so the leaf region holds the hashes in reverse index
        order. Returns the node buffer (internal nodes still zero), recipients and amounts.
        """
        keccak = keccak_hasher()
        recipients = bytearray()
        amounts = bytearray()
        # The hashes as 8-byte words in one flat array rather than a million bytes objects:
        # a third of the memory, and reversible in C below.
        words = array("Q")
        pad = ADDRESS_PAD
        for index, recipient, amount in leaves:
            if index > _MAX_LEAVES - 1:
                raise ValueError(f"more than {_MAX_LEAVES} leaves")
            amount_word = amount.to_bytes(32, "big")
            encoded = index.to_bytes(32, "big") + pad + recipient + amount_word
            words.frombytes(keccak(keccak(encoded)))
            recipients += recipient
            amounts += amount_word
        n = len(words) // 4
        if n == 0:
            raise _EmptyTreeError("a Merkle tree needs at least one leaf")
        # Reverse the order of the 32-byte hashes: reversing the words does that but also
        # reverses the four words inside each hash, which the two swaps undo (the bytes inside
        # a word never move).
        words.reverse()
        words[0::4], words[3::4] = words[3::4], words[0::4]
        words[1::4], words[2::4] = words[2::4], words[1::4]
        tree = bytearray((n - 1) * _NODE)
        tree += words
        return tree, recipients, amounts

    # ---- queries -------------------------------------------------------------------------

    @property
    def root(self) -> bytes:
        return bytes(self._tree[:_NODE])

    @property
    def sort_leaves(self) -> bool:
        """Whether leaves are sorted by hash (``sortLeaves: true``) or in index order."""
        return self._sorted

    def __len__(self) -> int:
        return self._n

    def _check_index(self, index: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"leaf index must be an int, got {type(index).__name__}")
        if not 0 <= index < self._n:
            raise IndexError(f"leaf index {index} out of range for {self._n} leaves")

    def _node(self, tree_index: int) -> bytes:
        offset = tree_index * _NODE
        return bytes(self._tree[offset : offset + _NODE])

    def _tree_index(self, index: int) -> int:
        return 2 * self._n - 2 - (self._position[index] if self._sorted else index)

    def _leaf_unchecked(self, index: int) -> Leaf:
        recipient = bytes(self._recipients[index * ADDRESS_BYTES : (index + 1) * ADDRESS_BYTES])
        amount = int.from_bytes(self._amounts[index * 32 : (index + 1) * 32], "big")
        return trusted_leaf(index, to_checksum(recipient), amount)

    def leaf(self, index: int) -> Leaf:
        """The leaf with claim ``index``."""
        self._check_index(index)
        return self._leaf_unchecked(index)

    def __iter__(self) -> Iterator[Leaf]:
        return (self._leaf_unchecked(i) for i in range(self._n))

    def leaf_hash(self, index: int) -> bytes:
        """Stored hash of leaf ``index``, without rehashing."""
        self._check_index(index)
        return self._node(self._tree_index(index))

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf ``index`` up to the root, as ``getProof(index)`` returns."""
        self._check_index(index)
        node = self._tree_index(index)
        proof: list[bytes] = []
        while node > 0:
            proof.append(self._node(node + 1 if node % 2 else node - 1))
            node = (node - 1) // 2
        return proof

    def multiproof(self, indices: Iterable[int]) -> MultiProof:
        """Prove several leaves at once, as ``getMultiProof(indices)`` does.

        The input order does not matter: the JS library (and so this) walks the chosen nodes
        from the highest array index down, which is the queue order ``multiProofVerify``
        consumes, and returns the leaves in that order.
        """
        nodes: list[int] = []
        for index in indices:
            self._check_index(index)
            nodes.append(self._tree_index(index))
        nodes.sort(reverse=True)
        if any(a == b for a, b in itertools.pairwise(nodes)):
            raise ValueError("cannot prove a duplicated index")

        queue = deque(nodes)
        proof: list[bytes] = []
        flags: list[bool] = []
        while queue and queue[0] > 0:
            node = queue.popleft()
            sibling = node + 1 if node % 2 else node - 1
            if queue and queue[0] == sibling:
                flags.append(True)
                queue.popleft()
            else:
                flags.append(False)
                proof.append(self._node(sibling))
            queue.append((node - 1) // 2)
        if not nodes:
            # An empty multiproof still has to yield the root when processed.
            proof.append(self._node(0))

        last = 2 * self._n - 2
        if self._sorted:
            order = self._order
            leaves = tuple(self._leaf_unchecked(order[last - node]) for node in nodes)
        else:
            leaves = tuple(self._leaf_unchecked(last - node) for node in nodes)
        return MultiProof(leaves, tuple(proof), tuple(flags))

    # ---- verification --------------------------------------------------------------------

    @staticmethod
    def verify(leaf: Leaf, proof: Sequence[bytes], root: bytes) -> bool:
        """Check a single-leaf proof like ``MerkleProof.verify``.

        Malformed input (a node that is not 32 bytes) is reported as ``False`` rather than
        raised, because proofs typically arrive from untrusted clients.
        """
        if len(root) != _NODE or any(len(node) != _NODE for node in proof):
            return False
        keccak = keccak_hasher()
        computed = leaf.hash
        for node in proof:
            sibling = bytes(node)
            computed = keccak(computed + sibling if computed <= sibling else sibling + computed)
        return computed == bytes(root)

    @staticmethod
    def verify_multiproof(multiproof: MultiProof, root: bytes) -> bool:
        """Check a multiproof like ``MerkleProof.multiProofVerify``; malformed means ``False``."""
        proof = [bytes(node) for node in multiproof.proof]
        flags = multiproof.proof_flags
        if len(root) != _NODE or any(len(node) != _NODE for node in proof):
            return False
        if len(multiproof.leaves) + len(proof) != len(flags) + 1:
            return False
        if len(proof) < sum(1 for flag in flags if not flag):
            return False
        keccak = keccak_hasher()
        queue = deque(multiproof.leaf_hashes())
        proof_queue = deque(proof)
        for flag in flags:
            if not queue:
                return False
            a = queue.popleft()
            if flag:
                if not queue:
                    return False
                b = queue.popleft()
            else:
                b = proof_queue.popleft()
            queue.append(keccak(a + b if a <= b else b + a))
        if len(queue) + len(proof_queue) != 1:
            return False
        computed = queue.pop() if queue else proof_queue.popleft()
        return computed == bytes(root)

    def validate(self) -> None:
        """Recompute every hash and raise ``ValueError`` on any mismatch.

        Costs about as much as a build; :meth:`load` only checks a file checksum by default.
        """
        keccak = keccak_hasher()
        tree = self._tree
        n = self._n
        if len(tree) != (2 * n - 1) * _NODE:
            raise ValueError("node buffer has the wrong size")
        if self._sorted:
            if len(self._order) != n or len(self._position) != n:
                raise ValueError("leaf order table has the wrong size")
            seen = _u32_array(n)
        previous = b""
        for pos in range(n):
            if self._sorted:
                index = self._order[pos]
                if index >= n or seen[index] or self._position[index] != pos:
                    raise ValueError(f"leaf order table is corrupt at sorted position {pos}")
                seen[index] = 1
            else:
                index = pos
            recipient = bytes(self._recipients[index * ADDRESS_BYTES : (index + 1) * ADDRESS_BYTES])
            amount = int.from_bytes(self._amounts[index * 32 : (index + 1) * 32], "big")
            expected = leaf_hash_raw(keccak, index, recipient, amount)
            if self._node(2 * n - 2 - pos) != expected:
                raise ValueError(f"leaf {index} does not match its stored hash")
            if self._sorted:
                if expected <= previous:
                    raise ValueError("leaves are not sorted by hash")
                previous = expected
        for i in range(n - 2, -1, -1):
            left, right = self._node(2 * i + 1), self._node(2 * i + 2)
            if self._node(i) != keccak(left + right if left <= right else right + left):
                raise ValueError(f"internal node {i} does not match its children")

    # ---- persistence ---------------------------------------------------------------------
    #
    # File layout, version 2 (all sizes in bytes, n = leaf count):
    #   header      48        magic b"DNGMRKL\0", u32 LE version (2), u32 LE n, root (32)
    #   flags       4         u32 LE; bit 0 set: leaves sorted by hash; other bits must be 0
    #   nodes       32(2n-1)  the node array, root first (JS library layout)
    #   order       4n        sorted trees only: u32 LE leaf index for each sorted position
    #   recipients  20n       raw addresses by leaf index
    #   amounts     32n       big-endian uint256 by leaf index
    #   checksum    32        SHA-256 of everything above
    # Version 1 has no flags word and always has the order table: its trees are sorted.
    # An index-ordered tree needs no order table (leaf position == leaf index). The version
    # was bumped so that code predating index-ordered trees rejects such a file instead of
    # misreading it. SHA-256 rather than keccak because it only guards against truncation and
    # bit rot, and hashlib streams it at memory speed.

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the tree atomically, so a gateway never loads a half-written file."""
        target = os.fspath(path)
        temp = f"{target}.tmp-{os.getpid()}-{threading.get_ident()}"
        digest = hashlib.sha256()
        header = _HEADER.pack(_MAGIC, _VERSION, self._n, self.root)
        flags = _FLAGS.pack(_FLAG_SORTED if self._sorted else 0)
        parts: list[bytes | bytearray | array[int]] = [header, flags, self._tree]
        if self._sorted:
            order = array(_U32, self._order)
            if sys.byteorder != "little":
                order.byteswap()
            parts.append(order)
        parts += [self._recipients, self._amounts]
        try:
            with open(temp, "wb") as handle:
                for part in parts:
                    view = memoryview(part).cast("B")
                    digest.update(view)
                    handle.write(view)
                handle.write(digest.digest())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, validate: bool = False) -> MerkleTree:
        """Read a file written by :meth:`save` (any version); ``validate=True`` also rehashes
        everything. Version 1 files, which predate index-ordered trees, load as sorted."""
        with open(path, "rb") as handle:
            tree = cls._read(handle, os.fstat(handle.fileno()).st_size)
        if validate:
            tree.validate()
        return tree

    @classmethod
    def _read(cls, handle: io.BufferedReader, size: int) -> MerkleTree:
        digest = hashlib.sha256()

        def read_exact(length: int) -> bytearray:
            buffer = bytearray(length)
            if handle.readinto(buffer) != length:
                raise ValueError("Merkle tree file is truncated")
            digest.update(buffer)
            return buffer

        header = read_exact(_HEADER.size)
        magic, version, n, root = _HEADER.unpack(header)
        if magic != _MAGIC:
            raise ValueError("not a Dongne Merkle tree file")
        if version == 1:
            prefix, sort_leaves = _HEADER.size, True
        elif version == 2:
            (flags,) = _FLAGS.unpack(read_exact(_FLAGS.size))
            if flags & ~_FLAG_SORTED:
                raise ValueError(f"unknown Merkle tree file flags {flags:#x}")
            prefix, sort_leaves = _HEADER.size + _FLAGS.size, bool(flags & _FLAG_SORTED)
        else:
            raise ValueError(f"unsupported Merkle tree file version {version}")
        if n == 0:
            raise ValueError("Merkle tree file has no leaves")
        per_leaf = (4 if sort_leaves else 0) + ADDRESS_BYTES + 32
        expected = prefix + (2 * n - 1) * _NODE + n * per_leaf + 32
        if size != expected:
            raise ValueError(f"Merkle tree file is {size} bytes, expected {expected}")
        nodes = read_exact((2 * n - 1) * _NODE)
        order_bytes = read_exact(4 * n) if sort_leaves else bytearray()
        recipients = read_exact(n * ADDRESS_BYTES)
        amounts = read_exact(n * 32)
        if handle.read(32) != digest.digest():
            raise ValueError("Merkle tree file checksum mismatch (corrupt file)")
        if bytes(nodes[:_NODE]) != root:
            raise ValueError("Merkle tree file root does not match its nodes")

        order = array(_U32)
        position = array(_U32)
        if sort_leaves:
            order.frombytes(order_bytes)
            del order_bytes
            if sys.byteorder != "little":
                order.byteswap()
            missing = 0xFFFFFFFF
            position = array(_U32, [missing]) * n
            for pos, index in enumerate(order):
                if index >= n or position[index] != missing:
                    raise ValueError("Merkle tree file has a corrupt order table")
                position[index] = pos

        tree = cls.__new__(cls)
        tree._tree = nodes
        tree._sorted = sort_leaves
        tree._order = order
        tree._position = position
        tree._recipients = recipients
        tree._amounts = amounts
        tree._n = n
        return tree

    @staticmethod
    def read_root(path: str | os.PathLike[str]) -> bytes:
        """Root of a saved tree from its header alone, e.g. to match it against the contract.

        The first 48 bytes are the same in every file version.
        """
        with open(path, "rb") as handle:
            header = handle.read(_HEADER.size)
        if len(header) != _HEADER.size:
            raise ValueError("Merkle tree file is truncated")
        magic, _version, _n, root = _HEADER.unpack(header)
        if magic != _MAGIC:
            raise ValueError("not a Dongne Merkle tree file")
        return bytes(root)


class _EmptyTreeError(ValueError):
    """Raised by the builder so ``from_csv`` can turn it into a line-numbered input error."""
