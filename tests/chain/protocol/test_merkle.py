"""Tests for chain.protocol.merkle: byte-for-byte agreement with @openzeppelin/merkle-tree,
proof checks,
CSV input errors and the saved-tree file format."""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak as reference_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.protocol import hashing
from chain.protocol.merkle import (
    LEAF_ENCODING,
    Leaf,
    MerkleInputError,
    MerkleTree,
    MultiProof,
    leaf_hash,
    read_leaves_csv,
)

ROOT = Path(__file__).resolve().parents[3]
OZ_SCRIPT = ROOT / "chain" / "toolchain" / "merkle-oz.js"
NODE = shutil.which("node")
MAX_UINT256 = 2**256 - 1


def random_address(rnd: random.Random) -> str:
    # eth_utils' checksum is an independent implementation of EIP-55 from chain.protocol.merkle's.
    return to_checksum_address(rnd.randbytes(20))


def random_leaves(rnd: random.Random, size: int) -> list[Leaf]:
    leaves: list[Leaf] = []
    for index in range(size):
        # Repeat recipients now and then: duplicates are legal and must stay distinct leaves.
        if leaves and rnd.random() < 0.1:
            recipient = rnd.choice(leaves).recipient
        else:
            recipient = random_address(rnd)
        amount = rnd.choice([1, MAX_UINT256, rnd.randrange(1, 2**256), rnd.randrange(1, 10**9)])
        leaves.append(Leaf(index, recipient, amount))
    return leaves


def run_openzeppelin(
    leaves: list[Leaf], indices: list[int], *, sort_leaves: bool
) -> dict[str, object]:
    assert NODE is not None
    payload = json.dumps([[str(lf.index), lf.recipient, str(lf.amount)] for lf in leaves])
    option = f"--sort-leaves={'true' if sort_leaves else 'false'}"
    result = subprocess.run(
        [NODE, str(OZ_SCRIPT), option, *map(str, indices)],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, object] = json.loads(result.stdout)
    return output


def hexes(nodes: list[bytes] | tuple[bytes, ...]) -> list[str]:
    return ["0x" + node.hex() for node in nodes]


def small_tree(
    size: int = 20, seed: int = 7, *, sort_leaves: bool = False
) -> tuple[MerkleTree, list[Leaf]]:
    leaves = random_leaves(random.Random(seed), size)
    return MerkleTree(leaves, sort_leaves=sort_leaves), leaves


SORTINGS = pytest.mark.parametrize("sort_leaves", [False, True], ids=["index_order", "sorted"])


# ---------------------------------------------------------------------------------------------
# (1) Cross-check against the JS library


@pytest.mark.skipif(
    NODE is None, reason="node is not installed, so @openzeppelin/merkle-tree cannot be run"
)
@SORTINGS
@pytest.mark.parametrize("size", [1, 2, 3, 7, 100, 1000])
@settings(max_examples=3, deadline=None)
# Hypothesis picks the seed and plain Random expands it: drawing a thousand leaves through
# Hypothesis itself overruns its per-example data budget.
@given(seed=st.integers(min_value=0, max_value=2**64 - 1))
def test_matches_openzeppelin_standard_merkle_tree(size: int, sort_leaves: bool, seed: int) -> None:
    rnd = random.Random(seed)
    leaves = random_leaves(rnd, size)
    if rnd.random() < 0.5:
        count = rnd.choice([0, 1, size, rnd.randint(0, min(size, 30))])
        indices = rnd.sample(range(size), count)  # unsorted on purpose: order must not matter
    else:
        # A run of consecutive indices, like a push batch, shuffled.
        first = rnd.randrange(size)
        indices = list(range(first, rnd.randint(first + 1, size)))
        rnd.shuffle(indices)

    expected = run_openzeppelin(leaves, indices, sort_leaves=sort_leaves)
    tree = MerkleTree(leaves, sort_leaves=sort_leaves)
    assert tree.sort_leaves is sort_leaves

    assert "0x" + tree.root.hex() == expected["root"]
    assert [hexes(tree.proof(i)) for i in range(size)] == expected["proofs"]

    multi = tree.multiproof(indices)
    js_multi = expected["multiproof"]
    assert isinstance(js_multi, dict)
    assert [[str(lf.index), lf.recipient, str(lf.amount)] for lf in multi.leaves] == js_multi[
        "leaves"
    ]
    assert hexes(multi.proof) == js_multi["proof"]
    assert list(multi.proof_flags) == js_multi["proofFlags"]
    assert MerkleTree.verify_multiproof(multi, tree.root)

    for i in rnd.sample(range(size), min(size, 20)):
        assert MerkleTree.verify(leaves[i], tree.proof(i), tree.root)


def test_index_order_is_the_default_and_lays_leaves_out_by_index() -> None:
    leaves = random_leaves(random.Random(11), 9)
    tree = MerkleTree(leaves)
    assert tree.sort_leaves is False
    assert tree.root == MerkleTree(leaves, sort_leaves=False).root
    assert tree.root != MerkleTree(leaves, sort_leaves=True).root
    # sortLeaves: false puts value i at node 2n-2-i (makeMerkleTree fills from the end).
    n = len(leaves)
    assert [tree._node(2 * n - 2 - i) for i in range(n)] == [leaf.hash for leaf in leaves]
    with pytest.raises(TypeError):
        MerkleTree(leaves, sort_leaves=1)  # type: ignore[arg-type]


@SORTINGS
def test_consecutive_indices_need_few_proof_nodes_only_in_index_order(sort_leaves: bool) -> None:
    """A push batch is 500 consecutive indices: in an index-ordered tree they share subtrees,
    in a hash-sorted one they are scattered over the whole tree."""
    rnd = random.Random(12)
    size = 20_000
    address = random_address(rnd)
    # Leaf contents do not change the shape of a multiproof, only its hashes.
    tree = MerkleTree((Leaf(i, address, 1 + i) for i in range(size)), sort_leaves=sort_leaves)
    for first in (0, 9_000, size - 500):
        multi = tree.multiproof(range(first, first + 500))
        assert len(multi.leaves) == 500
        if sort_leaves:
            assert len(multi.proof) > 1_000
        else:
            assert len(multi.proof) < 30
            # Verifier order is descending tree node, i.e. ascending index here.
            assert [leaf.index for leaf in multi.leaves] == list(range(first, first + 500))
        assert MerkleTree.verify_multiproof(multi, tree.root)


def test_leaf_hash_matches_solidity_encoding() -> None:
    rnd = random.Random(1)
    for _ in range(50):
        index, recipient, amount = rnd.randrange(2**256), random_address(rnd), rnd.randrange(2**256)
        inner = reference_keccak(abi_encode(list(LEAF_ENCODING), [index, recipient, amount]))
        expected = reference_keccak(inner)
        assert leaf_hash(index, recipient, amount) == expected
        assert leaf_hash(index, recipient.lower(), amount) == expected
        assert Leaf(index, recipient, amount).hash == expected


def test_keccak_backend_matches_reference() -> None:
    keccak = hashing.keccak_hasher()
    rnd = random.Random(2)
    # Include lengths outside the backend's fast-path size cache and around the 136-byte rate.
    for length in [0, 1, 31, 32, 33, 64, 96, 135, 136, 137, 272, 1000]:
        data = rnd.randbytes(length)
        assert keccak(data) == reference_keccak(data), (hashing.KECCAK_BACKEND, length)


def test_keccak_is_safe_across_threads() -> None:
    rnd = random.Random(3)
    items = [(i, random_address(rnd), rnd.randrange(1, 2**256)) for i in range(400)]
    expected = [leaf_hash(*item) for item in items]
    barrier = threading.Barrier(4)

    def work(offset: int) -> list[bytes]:
        barrier.wait()
        return [leaf_hash(*items[(i + offset) % len(items)]) for i in range(len(items))]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    for offset, result in enumerate(results):
        assert result == expected[offset:] + expected[:offset]


# ---------------------------------------------------------------------------------------------
# (2) Verification


@SORTINGS
def test_verify_accepts_every_genuine_proof(sort_leaves: bool) -> None:
    tree, leaves = small_tree(sort_leaves=sort_leaves)
    for leaf in leaves:
        assert tree.leaf(leaf.index) == leaf
        assert tree.leaf_hash(leaf.index) == leaf.hash
        assert MerkleTree.verify(leaf, tree.proof(leaf.index), tree.root)
    assert list(tree) == leaves
    assert len(tree) == len(leaves)


def test_verify_rejects_tampered_leaves() -> None:
    tree, leaves = small_tree()
    leaf = leaves[5]
    proof = tree.proof(5)
    other = random_address(random.Random(99))
    assert not MerkleTree.verify(Leaf(5, leaf.recipient, leaf.amount ^ 1), proof, tree.root)
    assert not MerkleTree.verify(Leaf(6, leaf.recipient, leaf.amount), proof, tree.root)
    assert not MerkleTree.verify(Leaf(5, other, leaf.amount), proof, tree.root)
    # A genuine leaf with someone else's proof.
    assert not MerkleTree.verify(leaves[6], proof, tree.root)


def test_verify_rejects_tampered_proofs_and_roots() -> None:
    tree, leaves = small_tree()
    leaf, proof = leaves[3], tree.proof(3)
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    assert not MerkleTree.verify(leaf, flipped, tree.root)
    assert not MerkleTree.verify(leaf, proof[:-1], tree.root)
    assert not MerkleTree.verify(leaf, [*proof, proof[0]], tree.root)
    assert not MerkleTree.verify(leaf, proof, bytes(32))
    # Malformed input from a client is a failed proof, not a crash.
    assert not MerkleTree.verify(leaf, [proof[0][:31], *proof[1:]], tree.root)
    assert not MerkleTree.verify(leaf, proof, tree.root[:31])


@SORTINGS
def test_verify_multiproof_rejects_tampering(sort_leaves: bool) -> None:
    tree, _ = small_tree(sort_leaves=sort_leaves)
    multi = tree.multiproof([1, 4, 9, 15])
    assert MerkleTree.verify_multiproof(multi, tree.root)
    first = multi.leaves[0]
    bumped = Leaf(first.index, first.recipient, first.amount ^ 1)
    assert not MerkleTree.verify_multiproof(
        MultiProof((bumped, *multi.leaves[1:]), multi.proof, multi.proof_flags), tree.root
    )
    reordered = MultiProof(multi.leaves[::-1], multi.proof, multi.proof_flags)
    assert not MerkleTree.verify_multiproof(reordered, tree.root)
    assert not MerkleTree.verify_multiproof(
        MultiProof(multi.leaves, multi.proof[:-1], multi.proof_flags), tree.root
    )
    toggled = (not multi.proof_flags[0], *multi.proof_flags[1:])
    assert not MerkleTree.verify_multiproof(
        MultiProof(multi.leaves, multi.proof, toggled), tree.root
    )
    assert not MerkleTree.verify_multiproof(multi, bytes(32))


@SORTINGS
def test_multiproof_edge_cases(sort_leaves: bool) -> None:
    tree, leaves = small_tree(7, sort_leaves=sort_leaves)
    empty = tree.multiproof([])
    assert empty == MultiProof((), (tree.root,), ())
    assert MerkleTree.verify_multiproof(empty, tree.root)
    everything = tree.multiproof(range(7))
    assert everything.proof == ()
    assert sorted(everything.leaves, key=lambda lf: lf.index) == leaves
    assert MerkleTree.verify_multiproof(everything, tree.root)
    with pytest.raises(ValueError, match="duplicated"):
        tree.multiproof([2, 3, 2])
    with pytest.raises(IndexError):
        tree.multiproof([7])
    with pytest.raises(IndexError):
        tree.proof(-1)


@SORTINGS
def test_single_leaf_tree_root_is_the_leaf_hash(sort_leaves: bool) -> None:
    leaf = Leaf(0, random_address(random.Random(5)), 10)
    tree = MerkleTree([leaf], sort_leaves=sort_leaves)
    assert tree.root == leaf.hash
    assert tree.proof(0) == []
    assert MerkleTree.verify(leaf, [], tree.root)
    assert tree.multiproof([0]) == MultiProof((leaf,), (), ())


def test_leaf_and_tree_input_validation() -> None:
    address = random_address(random.Random(6))
    with pytest.raises(ValueError, match="checksum"):
        Leaf(0, address.lower(), 1)
    with pytest.raises(ValueError, match="hex address"):
        Leaf(0, address[:-1], 1)
    with pytest.raises(ValueError, match="uint256"):
        Leaf(0, address, -1)
    with pytest.raises(ValueError, match="uint256"):
        Leaf(0, address, 2**256)
    with pytest.raises(TypeError):
        Leaf(0, address, True)
    with pytest.raises(ValueError, match="indices must be"):
        MerkleTree([Leaf(0, address, 1), Leaf(2, address, 1)])
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree([])


# ---------------------------------------------------------------------------------------------
# (3) CSV input

A1 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 test vectors
A2 = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"


def test_csv_reads_rows_in_order_with_optional_header() -> None:
    body = f"{A1},100\n\n{A2.lower()}, 7 \n{A1},5\n"
    expected = [Leaf(0, A1, 100), Leaf(1, A2, 7), Leaf(2, A1, 5)]  # duplicate A1 is allowed
    assert list(read_leaves_csv(io.StringIO(body))) == expected
    assert list(read_leaves_csv(io.StringIO("Address , AMOUNT\n" + body))) == expected
    quoted = f'"address","amount"\r\n"{A1}","100"\r\n{A2},7\r\n{A1},5\r\n'
    assert list(read_leaves_csv(io.StringIO(quoted))) == expected


def test_csv_file_with_bom_and_all_build_paths_agree(tmp_path: Path) -> None:
    path = tmp_path / "recipients.csv"
    path.write_bytes(f"address,amount\n{A1},100\n{A2},7\n".encode("utf-8-sig"))
    leaves = list(read_leaves_csv(path))
    assert leaves == [Leaf(0, A1, 100), Leaf(1, A2, 7)]
    assert MerkleTree.from_csv(path).root == MerkleTree(leaves).root
    assert MerkleTree.from_csv(str(path)).root == MerkleTree(read_leaves_csv(str(path))).root
    assert not MerkleTree.from_csv(path).sort_leaves
    sorted_tree = MerkleTree.from_csv(path, sort_leaves=True)
    assert sorted_tree.sort_leaves
    assert sorted_tree.root == MerkleTree(leaves, sort_leaves=True).root


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("address,amount\n0x1234,5\n", 2, "bad address"),
        (f"{A1[:-1]}Z,5\n", 1, "bad address"),
        (f"{A1.replace('a', 'A', 1)},5\n", 1, "checksum"),
        (f"{A1},1.5\n", 1, "decimal integer"),
        (f"{A1},-3\n", 1, "decimal integer"),
        (f"{A1},1e3\n", 1, "decimal integer"),
        (f"{A1},1_000\n", 1, "decimal integer"),
        (f"{A1},\n", 1, "decimal integer"),
        (f"{A1},0\n", 1, "positive"),
        (f"{A1},{2**256}\n", 1, "uint256"),
        (f"{A1},5,extra\n", 1, "expected 2 columns"),
        (f"{A1}\n", 1, "expected 2 columns"),
        (f"0x{'0' * 40},5\n", 1, "zero address"),
        (f"\n{A1},1\n\n\n{A2},2\n\nnot-an-address,3\n", 7, "bad address"),
        # The header is only recognised on the first row.
        (f"{A1},1\naddress,amount\n", 2, "bad address"),
        (f'{A1},"5\n', 1, "malformed CSV"),
    ],
)
def test_csv_errors_name_the_line(body: str, line: int, reason: str) -> None:
    with pytest.raises(MerkleInputError) as info:
        list(read_leaves_csv(io.StringIO(body)))
    assert info.value.line == line
    assert reason in info.value.reason
    assert str(info.value).startswith(f"line {line}: ")
    assert isinstance(info.value, ValueError)
    with pytest.raises(MerkleInputError):
        MerkleTree.from_csv(io.StringIO(body))


def test_csv_is_streamed() -> None:
    rows = iter([f"{A1},1\n", f"{A2},2\n", "garbage\n"])
    leaves = read_leaves_csv(rows)  # type: ignore[arg-type]
    assert next(leaves) == Leaf(0, A1, 1)
    assert next(leaves) == Leaf(1, A2, 2)
    with pytest.raises(MerkleInputError, match="line 3"):
        next(leaves)


def test_csv_invalid_utf8_and_empty_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    # Far enough in that a chunked text decoder would misplace the error.
    path.write_bytes(f"{A1},1\n".encode() * 2000 + b"\xff\xfe,2\n" + f"{A2},1\n".encode())
    with pytest.raises(MerkleInputError, match="UTF-8") as info:
        list(read_leaves_csv(path))
    assert info.value.line == 2001
    with pytest.raises(MerkleInputError, match="no recipient rows"):
        MerkleTree.from_csv(io.StringIO("address,amount\n\n"))


# ---------------------------------------------------------------------------------------------
# (4) Save / load


def as_version_1(saved: bytes) -> bytes:
    """The version 1 file of a sorted tree saved as version 2: no flags word, and version 1."""
    body = bytearray(saved[:-32])
    assert int.from_bytes(body[8:12], "little") == 2
    assert int.from_bytes(body[48:52], "little") == 1  # sorted
    body[8:12] = (1).to_bytes(4, "little")
    del body[48:52]
    return bytes(body) + hashlib.sha256(body).digest()


@SORTINGS
@pytest.mark.parametrize("size", [1, 2, 5, 300])
def test_save_load_round_trip(tmp_path: Path, size: int, sort_leaves: bool) -> None:
    tree, leaves = small_tree(size, seed=size, sort_leaves=sort_leaves)
    path = tmp_path / "tree.bin"
    tree.save(path)
    order_table = 4 if sort_leaves else 0
    expected_size = 52 + (2 * size - 1) * 32 + size * (order_table + 20 + 32) + 32
    assert path.stat().st_size == expected_size
    assert MerkleTree.read_root(path) == tree.root

    for loaded in (MerkleTree.load(path), MerkleTree.load(str(path), validate=True)):
        assert loaded.root == tree.root
        assert loaded.sort_leaves is sort_leaves
        assert len(loaded) == size
        assert list(loaded) == leaves
        assert [loaded.proof(i) for i in range(size)] == [tree.proof(i) for i in range(size)]
        picks = list(range(0, size, 3))
        assert loaded.multiproof(picks) == tree.multiproof(picks)
    assert not list(tmp_path.glob("*.tmp-*"))


@pytest.mark.parametrize("size", [1, 2, 5, 300])
def test_version_1_files_load_as_sorted_trees(tmp_path: Path, size: int) -> None:
    tree, leaves = small_tree(size, seed=size, sort_leaves=True)
    path = tmp_path / "tree.bin"
    tree.save(path)
    path.write_bytes(as_version_1(path.read_bytes()))
    assert path.stat().st_size == 48 + (2 * size - 1) * 32 + size * (4 + 20 + 32) + 32
    assert MerkleTree.read_root(path) == tree.root
    for loaded in (MerkleTree.load(path), MerkleTree.load(path, validate=True)):
        assert loaded.sort_leaves is True
        assert loaded.root == tree.root
        assert list(loaded) == leaves
        assert [loaded.proof(i) for i in range(size)] == [tree.proof(i) for i in range(size)]
        picks = list(range(0, size, 2))
        assert loaded.multiproof(picks) == tree.multiproof(picks)
    # Saving again writes the current version, which loads the same.
    loaded.save(path)
    assert MerkleTree.load(path, validate=True).multiproof(picks) == tree.multiproof(picks)


def rechecksummed(body: bytes | bytearray) -> bytes:
    return bytes(body) + hashlib.sha256(body).digest()


def test_load_rejects_unknown_versions_and_flags(tmp_path: Path) -> None:
    tree, _ = small_tree(6)
    path = tmp_path / "tree.bin"
    tree.save(path)
    body = bytearray(path.read_bytes()[:-32])

    unknown_flag = bytearray(body)
    unknown_flag[48] |= 0x02
    path.write_bytes(rechecksummed(unknown_flag))
    with pytest.raises(ValueError, match="flags"):
        MerkleTree.load(path)

    future = bytearray(body)
    future[8:12] = (3).to_bytes(4, "little")
    path.write_bytes(rechecksummed(future))
    with pytest.raises(ValueError, match="version 3"):
        MerkleTree.load(path)

    # An index-ordered file claiming to be sorted lacks its order table: a size mismatch.
    claims_sorted = bytearray(body)
    claims_sorted[48] = 0x01
    path.write_bytes(rechecksummed(claims_sorted))
    with pytest.raises(ValueError, match="expected"):
        MerkleTree.load(path)


@SORTINGS
def test_load_rejects_damaged_files(tmp_path: Path, sort_leaves: bool) -> None:
    tree, _ = small_tree(10, sort_leaves=sort_leaves)
    path = tmp_path / "tree.bin"
    tree.save(path)
    good = path.read_bytes()

    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="checksum"):
        MerkleTree.load(path)

    path.write_bytes(good[:-1])
    with pytest.raises(ValueError, match="expected"):
        MerkleTree.load(path)

    path.write_bytes(b"NOTMERKL" + good[8:])
    with pytest.raises(ValueError, match="not a Dongne Merkle tree file"):
        MerkleTree.load(path)


@SORTINGS
def test_validate_detects_inconsistent_nodes(sort_leaves: bool) -> None:
    tree, _ = small_tree(10, sort_leaves=sort_leaves)
    tree.validate()
    tree._tree[40] ^= 0x01  # corrupt node 1 without touching the root
    with pytest.raises(ValueError, match="does not match"):
        tree.validate()


@SORTINGS
def test_validate_detects_a_leaf_out_of_place(sort_leaves: bool) -> None:
    tree, leaves = small_tree(10, sort_leaves=sort_leaves)
    last = 2 * len(leaves) - 2
    # Swap the first two leaf nodes: each no longer matches the leaf the layout puts there.
    first, second = tree._node(last), tree._node(last - 1)
    tree._tree[last * 32 : (last + 1) * 32] = second
    tree._tree[(last - 1) * 32 : last * 32] = first
    with pytest.raises(ValueError, match="does not match its stored hash"):
        tree.validate()
