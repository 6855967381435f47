"""The solcjs shim must look like native solc to forge and py-solc-x."""

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIM = ROOT / "chain" / "toolchain" / "solc-shim.js"


def test_version_is_in_native_format() -> None:
    out = subprocess.run([str(SHIM), "--version"], capture_output=True, text=True, check=True)
    assert re.search(r"^Version: 0\.8\.28\+commit\.[0-9a-f]{8}\.", out.stdout, re.M), out.stdout


def test_standard_json_resolves_node_module_imports() -> None:
    source = (
        'pragma solidity 0.8.28;\nimport {MerkleProof} from "@openzeppelin/contracts/utils/'
        'cryptography/MerkleProof.sol";\ncontract C { function f(bytes32[] calldata p, bytes32 r,'
        " bytes32 l) external pure returns (bool) { return MerkleProof.verifyCalldata(p, r, l); } }"
    )
    request = {
        "language": "Solidity",
        "sources": {"C.sol": {"content": source}},
        "settings": {
            "evmVersion": "shanghai",
            "outputSelection": {"*": {"*": ["evm.bytecode.object"]}},
        },
    }
    out = subprocess.run(
        [str(SHIM), "--standard-json", "--allow-paths", "/nowhere"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(out.stdout)
    errors = [e for e in result.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    assert result["contracts"]["C.sol"]["C"]["evm"]["bytecode"]["object"]


def test_unsupported_flags_fail_loudly() -> None:
    out = subprocess.run([str(SHIM), "--bin", "x.sol"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "only --version and --standard-json" in out.stderr
