#!/usr/bin/env node
// Native-solc command-line surface over solcjs, for forge and py-solc-x.
// Native solc cannot be downloaded here, so both tools are pointed at this script instead. It
// answers `--version` in native solc's format and `--standard-json` on stdin; every other flag
// (`--allow-paths`, `--base-path`, ...) is ignored because imports are served by the callback.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);

if (args.includes("--version") || args.includes("-v")) {
  // solcjs reports e.g. "0.8.28+commit.7893614a.Emscripten.clang"; native prints the platform.
  const full = solc.version().replace(".Emscripten.clang", ".Linux.g++");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${full}\n`);
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write("solc-shim: only --version and --standard-json are supported\n");
  process.exit(2);
}

const roots = [process.cwd()];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === "--base-path" || args[i] === "--include-path") && args[i + 1]) {
    roots.push(path.resolve(args[i + 1]));
  }
}
// Project root (two levels above chain/toolchain) so node_modules remappings always resolve.
roots.push(path.resolve(__dirname, "..", ".."));

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : roots.flatMap((root) => [
        path.join(root, importPath),
        // Like native solc's default include path for npm packages, without remappings.
        path.join(root, "node_modules", importPath),
      ]);
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `File not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
