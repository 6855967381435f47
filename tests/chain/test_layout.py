"""Issue 12, item 20: the token's storage layout is checked against a committed snapshot, so an
upgrade that moves a field fails CI instead of corrupting every city's balances."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layout", ROOT / "scripts/check_layout.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_built_layout_matches_the_committed_snapshot() -> None:
    run = subprocess.run(
        [sys.executable, "scripts/check_layout.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "compatible" in run.stdout


def test_rules_live_behind_a_version_keyed_mapping() -> None:
    snapshot = json.loads((ROOT / "contracts/layout/VoucherStorage.json").read_text())
    [namespace] = [fields for name, fields in snapshot.items() if name.endswith(".VoucherStorage")]
    first = namespace[0]
    assert first["label"] == "rulesByVersion"
    assert first["type"].startswith("mapping(uint64 => struct IVoucherTypes.Rules)")
    assert not [f for f in namespace if f["type"] == "struct IVoucherTypes.Rules"]  # none inline


def test_the_check_refuses_a_moved_field_and_accepts_an_appended_one() -> None:
    check = _checker()
    old = json.loads((ROOT / "contracts/layout/VoucherStorage.json").read_text())
    name = next(n for n in old if n.endswith(".VoucherStorage"))

    # What inline rules did: a new field in the middle shifts every later one.
    moved = copy.deepcopy(old)
    inserted = {"label": "newRule", "slot": 1, "offset": 0, "type": "uint256"}
    moved[name].insert(1, inserted)
    for field in moved[name][2:]:
        field["slot"] += 1
    assert any("field 1" in line for line in check.differences(old, moved))

    grown = copy.deepcopy(old)
    last = grown[name][-1]
    grown[name].append({"label": "later", "slot": last["slot"] + 1, "offset": 0,
                        "type": "uint256"})  # fmt: skip
    rules = next(n for n in grown if n.endswith(".Rules"))
    grown[rules].append({"label": "newRule", "slot": grown[rules][-1]["slot"] + 1,
                         "offset": 0, "type": "uint16"})  # fmt: skip
    assert check.differences(old, grown) == []

    retyped = copy.deepcopy(old)
    retyped[rules][0]["type"] = "uint256"
    assert check.differences(old, retyped)
