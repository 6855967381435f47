"""The committed ABIs in chain/protocol/abi must equal a fresh export from the Solidity sources.

Builds with forge into a temporary out/cache directory (other engineers' builds share the
default ones), so it takes about 15 s.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from chain.protocol.abi import CONTRACTS, load_abi
from chain.toolchain import ToolchainMissingError, project_root, tool_path

ROOT = Path(__file__).resolve().parents[3]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "export_abis", ROOT / "scripts" / "export_abis.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fresh_export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    try:
        tool_path("forge")
    except ToolchainMissingError as exc:
        pytest.skip(str(exc))
    script = load_script()
    build = tmp_path_factory.mktemp("forge")
    patch = pytest.MonkeyPatch()
    patch.setenv("FOUNDRY_OUT", str(build / "out"))
    patch.setenv("FOUNDRY_CACHE_PATH", str(build / "cache"))
    try:
        artifacts = script.forge_build(paths=script.BUILD_PATHS)
    finally:
        patch.undo()
    texts: dict[str, str] = script.export(artifacts)
    return texts


@pytest.mark.slow
def test_committed_abis_are_fresh(fresh_export: dict[str, str]) -> None:
    assert sorted(fresh_export) == sorted(f"{name}.json" for name in CONTRACTS)
    abi_dir = ROOT / "chain" / "protocol" / "abi"
    stale = [
        f"chain/protocol/abi/{name}"
        for name, text in sorted(fresh_export.items())
        if not (abi_dir / name).is_file() or (abi_dir / name).read_text(encoding="utf-8") != text
    ]
    assert not stale, f"stale ABIs {stale}: run `python scripts/export_abis.py` and commit them"
    orphans = sorted(p.name for p in abi_dir.glob("*.json") if p.name not in fresh_export)
    assert not orphans, f"ABIs no contract exports: {orphans}"


@pytest.mark.slow
def test_export_is_deterministic(fresh_export: dict[str, str]) -> None:
    script = load_script()
    for name, text in fresh_export.items():
        abi = json.loads(text)
        # Re-rendering the parsed ABI gives the same bytes: sorted keys, fixed layout.
        assert script.render(abi) == text, name
        assert text.endswith("]\n")
        assert "\r" not in text


def test_voucher_token_abi_is_the_full_proxy_abi() -> None:
    names = {str(e.get("name")) for e in load_abi("VoucherToken") if e["type"] == "function"}
    # From IVoucherToken: the core and the admin module's functions ...
    assert {"pay", "claimAndPay", "proposeRules", "registerMerchant", "merchantOf"} <= names
    # ... and from VoucherToken itself.
    assert {"initialize", "adminModule", "grantRole", "ISSUER_ROLE", "trustedForwarder"} <= names
    signatures = [
        (e["type"], e.get("name"), json.dumps(e.get("inputs"))) for e in load_abi("VoucherToken")
    ]
    assert len(signatures) == len(set(signatures))


def test_load_abi_is_cached_but_returns_fresh_lists() -> None:
    first = load_abi("DongneForwarder")
    first.clear()
    assert load_abi("DongneForwarder")
    with pytest.raises(KeyError):
        load_abi("NoSuchContract")


def test_foundry_out_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script()
    monkeypatch.setenv("FOUNDRY_OUT", "/tmp/somewhere-else")
    assert script.out_dir() == Path("/tmp/somewhere-else")
    monkeypatch.delenv("FOUNDRY_OUT")
    assert script.out_dir() == project_root() / "out"
