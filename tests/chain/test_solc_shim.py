"""The solcjs shim must look like native solc to forge and py-solc-x, and what forge fails
must fail its callers."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from chain.artifacts import forge_build
from chain.protocol.errors import DongneChainError
from chain.toolchain import executable

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


def test_a_contract_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    # forge's npm launcher exits 0 whatever forge returns: through it, a compile error (and a
    # failing forge test, an unformatted file in scripts/test.sh) passed as success.
    broken = tmp_path / "Broken.sol"
    broken.write_text(
        "pragma solidity 0.8.28;\ncontract Broken { function f() public { uint x = ; } }\n"
    )
    with pytest.raises(DongneChainError, match="forge build failed"):
        forge_build(paths=[str(broken)])


def test_forge_fmt_check_fails_on_an_unformatted_file(tmp_path: Path) -> None:
    messy = tmp_path / "Messy.sol"
    messy.write_text("pragma solidity 0.8.28;\ncontract   Messy {  uint  a ; }\n")
    done = subprocess.run(
        [str(executable("forge")), "fmt", "--check", str(messy)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode != 0, done.stdout
