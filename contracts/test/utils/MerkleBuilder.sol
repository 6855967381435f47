// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";

/// @notice Builds an OpenZeppelin StandardMerkleTree of program grants
/// `(uint256 index, address recipient, uint256 amount)` in Solidity, node for node as the
/// JS package openzeppelin/merkle-tree does (`StandardMerkleTree.of(values, ["uint256",
/// "address", "uint256"])`): double-keccak leaves sorted by hash, the array layout of `core.js` (node `i` has
/// children `2i+1` and `2i+2`, leaves at the end in reverse sorted order) and sorted-pair hashing.
/// Proofs and multiproofs are ported from `core.js` (`getProof`, `getMultiProof`), so their
/// leaves come in the order `MerkleProof.multiProofVerify` consumes them.
/// @dev Meant for small lists in tests: sorting is an insertion sort and nothing is cached.
library MerkleBuilder {
    /// @notice Thrown when a tree of no values is built.
    error MerkleBuilderEmpty();
    /// @notice Thrown when a value index is not in the tree.
    error MerkleBuilderUnknownValue(uint256 valueIndex);
    /// @notice Thrown when a multiproof names the same value twice (as the JS library does).
    error MerkleBuilderDuplicateValue(uint256 valueIndex);

    struct Tree {
        bytes32[] nodes; // nodes[0] is the root
        uint256[] nodeOfValue; // value index -> node index of its leaf
        uint256[] valueOfNode; // node index -> value index + 1 (0 for internal nodes)
        IVoucherTypes.Grant[] values; // in the caller's order
    }

    struct MultiProof {
        IVoucherTypes.Grant[] leaves; // in the order the multiproof consumes them
        bytes32[] proof;
        bool[] proofFlags;
    }

    // ------------------------------------------------------------------ hashing

    /// @notice The StandardMerkleTree leaf of a grant, as `VoucherPrograms._leaf` computes it.
    function leafHash(IVoucherTypes.Grant memory g) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(g.index, g.recipient, g.amount))));
    }

    /// @notice The leaf hashes of `grants`, in their order.
    function leafHashes(IVoucherTypes.Grant[] memory grants)
        internal
        pure
        returns (bytes32[] memory hashes)
    {
        hashes = new bytes32[](grants.length);
        for (uint256 i = 0; i < grants.length; ++i) {
            hashes[i] = leafHash(grants[i]);
        }
    }

    /// @notice Commutative node hash: keccak256 of the two children in ascending order.
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @notice A grant value, for building lists inline.
    function grant(uint256 index, address recipient, uint256 amount)
        internal
        pure
        returns (IVoucherTypes.Grant memory)
    {
        return IVoucherTypes.Grant({index: index, recipient: recipient, amount: amount});
    }

    // ------------------------------------------------------------------ building

    /// @notice Builds the tree of `values` (`StandardMerkleTree.of` with sorted leaves).
    function build(IVoucherTypes.Grant[] memory values) internal pure returns (Tree memory t) {
        uint256 n = values.length;
        if (n == 0) revert MerkleBuilderEmpty();
        // Sort value indices by leaf hash; stable like Array.prototype.sort.
        bytes32[] memory hashes = leafHashes(values);
        uint256[] memory order = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            order[i] = i;
            uint256 j = i;
            while (j > 0 && hashes[order[j - 1]] > hashes[i]) {
                order[j] = order[j - 1];
                --j;
            }
            order[j] = i;
        }
        uint256 size = 2 * n - 1;
        t.nodes = new bytes32[](size);
        t.nodeOfValue = new uint256[](n);
        t.valueOfNode = new uint256[](size);
        t.values = values;
        for (uint256 i = 0; i < n; ++i) {
            uint256 node = size - 1 - i;
            t.nodes[node] = hashes[order[i]];
            t.nodeOfValue[order[i]] = node;
            t.valueOfNode[node] = order[i] + 1;
        }
        for (uint256 i = size - n; i > 0; --i) {
            uint256 node = i - 1;
            t.nodes[node] = hashPair(t.nodes[2 * node + 1], t.nodes[2 * node + 2]);
        }
    }

    /// @notice The tree's root.
    function root(Tree memory t) internal pure returns (bytes32) {
        return t.nodes[0];
    }

    // ------------------------------------------------------------------ proofs

    /// @notice Proof of the value at `valueIndex` (`getProof` in `core.js`).
    function getProof(Tree memory t, uint256 valueIndex)
        internal
        pure
        returns (bytes32[] memory proof)
    {
        if (valueIndex >= t.values.length) revert MerkleBuilderUnknownValue(valueIndex);
        uint256 node = t.nodeOfValue[valueIndex];
        uint256 depth = 0;
        for (uint256 i = node; i > 0; i = _parent(i)) {
            ++depth;
        }
        proof = new bytes32[](depth);
        for (uint256 k = 0; node > 0; ++k) {
            proof[k] = t.nodes[_sibling(node)];
            node = _parent(node);
        }
    }

    /// @notice Multiproof of the values at `valueIndices`, in any order (`getMultiProof` in
    /// `core.js`). An empty selection gives the proof `[root]` with no flags, as the JS does.
    function getMultiProof(Tree memory t, uint256[] memory valueIndices)
        internal
        pure
        returns (MultiProof memory m)
    {
        uint256 k = valueIndices.length;
        uint256 size = t.nodes.length;
        // Leaf node indices, sorted descending (indices.sort((a, b) => b - a)).
        uint256[] memory queue = new uint256[](k + size);
        for (uint256 i = 0; i < k; ++i) {
            uint256 v = valueIndices[i];
            if (v >= t.values.length) revert MerkleBuilderUnknownValue(v);
            uint256 node = t.nodeOfValue[v];
            uint256 j = i;
            while (j > 0 && queue[j - 1] < node) {
                queue[j] = queue[j - 1];
                --j;
            }
            if (j > 0 && queue[j - 1] == node) revert MerkleBuilderDuplicateValue(v);
            queue[j] = node;
        }
        m.leaves = new IVoucherTypes.Grant[](k);
        for (uint256 i = 0; i < k; ++i) {
            m.leaves[i] = t.values[t.valueOfNode[queue[i]] - 1];
        }
        bytes32[] memory proof = new bytes32[](size);
        bool[] memory flags = new bool[](size);
        uint256 proofLen = 0;
        uint256 flagsLen = 0;
        uint256 head = 0;
        uint256 tail = k;
        while (head < tail && queue[head] > 0) {
            uint256 j = queue[head++];
            uint256 s = _sibling(j);
            if (head < tail && queue[head] == s) {
                flags[flagsLen++] = true;
                ++head;
            } else {
                flags[flagsLen++] = false;
                proof[proofLen++] = t.nodes[s];
            }
            queue[tail++] = _parent(j);
        }
        if (k == 0) proof[proofLen++] = t.nodes[0];
        assembly ("memory-safe") {
            mstore(proof, proofLen)
            mstore(flags, flagsLen)
        }
        m.proof = proof;
        m.proofFlags = flags;
    }

    /// @notice Multiproof of every value whose bit is set in `mask` (bit i = value i).
    function getMultiProofOfMask(Tree memory t, uint256 mask)
        internal
        pure
        returns (MultiProof memory)
    {
        uint256 n = t.values.length;
        uint256 count = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (mask & (1 << i) != 0) ++count;
        }
        uint256[] memory picked = new uint256[](count);
        count = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (mask & (1 << i) != 0) picked[count++] = i;
        }
        return getMultiProof(t, picked);
    }

    /// @notice Root computed from a proof, as `MerkleProof.processProof` does.
    function processProof(bytes32[] memory proof, bytes32 leaf) internal pure returns (bytes32) {
        bytes32 computed = leaf;
        for (uint256 i = 0; i < proof.length; ++i) {
            computed = hashPair(computed, proof[i]);
        }
        return computed;
    }

    function _parent(uint256 i) private pure returns (uint256) {
        return (i - 1) / 2;
    }

    function _sibling(uint256 i) private pure returns (uint256) {
        return i % 2 == 1 ? i + 1 : i - 1;
    }
}
