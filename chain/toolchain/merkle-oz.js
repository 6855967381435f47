#!/usr/bin/env node
// Reference output from @openzeppelin/merkle-tree's StandardMerkleTree, for cross-checking
// chain/protocol/merkle (tests/chain/protocol/test_merkle.py) and for auditing a distribution independently.
//
// stdin:  JSON [[index, address, amount], ...]; index and amount as decimal strings or numbers
//         (strings keep uint256 amounts exact, JSON numbers lose precision past 2^53).
// argv:   leaf indices (value positions in the input list) to put in one multiproof, and
//         optionally --sort-leaves=true|false (StandardMerkleTree's sortLeaves option).
// env:    SORT_LEAVES=true|false, the same option; the flag wins over the variable. When
//         neither is given the library's default applies (sortLeaves: true, leaves sorted by
//         hash). chain/merkle.py defaults to false (index order): pass it to compare roots.
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

function parseBool(name, text) {
  if (text === "true") return true;
  if (text === "false") return false;
  throw new Error(`${name} must be true or false, got ${JSON.stringify(text)}`);
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
  const options = {};
  if (process.env.SORT_LEAVES !== undefined && process.env.SORT_LEAVES !== "") {
    options.sortLeaves = parseBool("SORT_LEAVES", process.env.SORT_LEAVES);
  }
  const indices = [];
  for (const arg of process.argv.slice(2)) {
    const flag = /^--sort-leaves=(.*)$/.exec(arg);
    if (flag) {
      options.sortLeaves = parseBool("--sort-leaves", flag[1]);
    } else if (/^[0-9]+$/.test(arg)) {
      indices.push(Number(arg));
    } else {
      throw new Error(`bad leaf index argument: ${arg}`);
    }
  }

  // Without options.sortLeaves the library's default (true) applies.
  const tree = StandardMerkleTree.of(values, LEAF_ENCODING, options);
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
