#!/usr/bin/env node
// Reference output from @openzeppelin/merkle-tree's StandardMerkleTree, for cross-checking
// chain/merkle.py (tests/test_merkle.py) and for auditing a distribution independently.
//
// stdin:  JSON [[index, address, amount], ...]; index and amount as decimal strings or numbers
//         (strings keep uint256 amounts exact, JSON numbers lose precision past 2^53).
// argv:   leaf indices (value positions in the input list) to put in one multiproof.
// stdout: JSON {root, proofs: [[hex...] per leaf], multiproof: {leaves, proof, proofFlags}},
//         with multiproof leaves as [index, address, amount] and numbers as decimal strings.
"use strict";
const path = require("path");

// Resolve from the project root (two levels up) so the pinned version in package.json is used
// no matter which directory the script is run from.
const projectRoot = path.resolve(__dirname, "..", "..");
const { StandardMerkleTree } = require(
  require.resolve("@openzeppelin/merkle-tree", { paths: [projectRoot] }),
);

const LEAF_ENCODING = ["uint256", "address", "uint256"];

function readStdin() {
  return require("fs").readFileSync(0, "utf8");
}

function main() {
  const input = JSON.parse(readStdin());
  if (!Array.isArray(input) || input.length === 0) {
    throw new Error("expected a non-empty JSON list of [index, address, amount]");
  }
  // BigInt makes abi encoding exact for the full uint256 range.
  const values = input.map(([index, address, amount]) => [
    BigInt(index),
    address,
    BigInt(amount),
  ]);
  const indices = process.argv.slice(2).map((arg) => {
    if (!/^[0-9]+$/.test(arg)) throw new Error(`bad leaf index argument: ${arg}`);
    return Number(arg);
  });

  const tree = StandardMerkleTree.of(values, LEAF_ENCODING); // sortLeaves defaults to true
  const proofs = values.map((_, i) => tree.getProof(i));
  const multi = tree.getMultiProof(indices);

  const show = ([index, address, amount]) => [index.toString(), address, amount.toString()];
  process.stdout.write(
    JSON.stringify({
      root: tree.root,
      proofs,
      multiproof: {
        leaves: multi.leaves.map(show),
        proof: multi.proof,
        proofFlags: multi.proofFlags,
      },
    }) + "\n",
  );
}

try {
  main();
} catch (err) {
  process.stderr.write(`merkle-oz: ${err.message}\n`);
  process.exit(1);
}
