"""Checks that an upgrade keeps the voucher token's storage layout: every field of every struct
in its ERC-7201 namespace stays at its slot and offset with its type; new fields only after the
old ones. The layout comes from `forge inspect` on `contracts/test/layout/StorageLayouts.sol`
(which declares the namespace as a state variable) and is compared with the committed snapshot
`contracts/layout/VoucherStorage.json`.

    python scripts/check_layout.py            # exit 1 and the differences if the layout broke
    python scripts/check_layout.py --update   # after a reviewed, compatible change

Run by `tests/chain/test_layout.py` in CI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from chain.toolchain import executable

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "contracts" / "layout" / "VoucherStorage.json"
PROBE = "VoucherStorageLayout"  # contracts/test/layout/StorageLayouts.sol

Layout = dict[str, list[dict[str, Any]]]


def current_layout() -> Layout:
    """Every struct reachable from the namespace: its fields as label, slot, offset, type."""
    forge = executable("forge")  # not its npm launcher, which exits 0 whatever forge returns
    raw = subprocess.run(
        [str(forge), "inspect", PROBE, "storageLayout", "--json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    inspected = json.loads(raw)
    types: dict[str, dict[str, Any]] = inspected["types"]

    def label(type_id: str) -> str:
        return str(types[type_id]["label"])

    structs: Layout = {}
    for info in types.values():
        members = info.get("members")
        if members is None:
            continue
        structs[str(info["label"])] = [
            {"label": m["label"], "slot": int(m["slot"]), "offset": int(m["offset"]),
             "type": label(m["type"])}
            for m in members
        ]  # fmt: skip
    return dict(sorted(structs.items()))


def differences(old: Layout, new: Layout) -> list[str]:
    """What an upgrade from `old` to `new` would corrupt (empty when it is safe)."""
    found: list[str] = []
    for struct, fields in old.items():
        now = new.get(struct)
        if now is None:
            found.append(f"{struct}: gone (its storage would be read as something else)")
            continue
        for i, field in enumerate(fields):
            if i >= len(now):
                found.append(f"{struct}.{field['label']}: removed")
                continue
            if now[i] != field:
                found.append(f"{struct}: field {i} was {field}, is {now[i]}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write the snapshot")
    args = parser.parse_args()
    layout = current_layout()
    if args.update:
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(json.dumps(layout, indent=1) + "\n")
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}: {len(layout)} structs")
        return 0
    found = differences(json.loads(SNAPSHOT.read_text()), layout)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 1
    if json.loads(SNAPSHOT.read_text()) != layout:
        print("compatible additions: run with --update to record them", file=sys.stderr)
    print(f"storage layout compatible ({len(layout)} structs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
