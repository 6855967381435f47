"""`dongne merchant ...` as users run it (subprocesses, --json): the shop applies with its
own key, the registrar lists the applications and approves, which sends registerMerchant
with the registrar's own key; the shop then shows in the directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.gateway.http.conftest import until
from tests.gateway.registry.conftest import RegistryWorld
from tests.gateway.registry.profiles import business_number

DONGNE = [sys.executable, "-m", "gateway.cli"]


def test_apply_approve_and_find_from_the_cli(world: RegistryWorld, tmp_path: Path) -> None:
    url = world.gateway.url

    def dongne(who: str, *args: str) -> object:
        env = {**os.environ, "DONGNE_KEY": world.key(who),
               "DONGNE_CONFIG_DIR": str(tmp_path / who)}  # fmt: skip
        done = subprocess.run([*DONGNE, *args, "--gateway", url, "--json"], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    shop = world.accounts["cli_shop"].address
    dongne("cli_shop", "login")
    applied = dongne(
        "cli_shop", "merchant", "apply", "--region", "41390", "--name", "CLI 세탁소",
        "--business-number", business_number("271828182"), "--address", "시흥시 대야동 3",
        "--legal-dong", "4139010800", "--category", "96911", "--lat", "37.4485",
        "--lng", "126.7890",
    )  # fmt: skip
    assert isinstance(applied, dict)
    assert (applied["merchant"], applied["status"]) == (shop, "applied")

    dongne("registrar", "login")
    listed = dongne("registrar", "merchant", "applications", "--region", "41390")
    assert isinstance(listed, dict)
    assert shop in [item["merchant"] for item in listed["items"]]
    manifest = str(world.net.manifest_path)
    approved = dongne(
        "registrar", "merchant", "approve", shop, "--region", "41390", "--tier", "0",
        "--note", "visited", "--rpc", world.net.rpc_url, "--manifest", manifest,
    )  # fmt: skip
    assert isinstance(approved, dict)
    assert str(approved["tx_hash"]).startswith("0x")

    def found() -> bool:
        page = dongne("citizen", "merchant", "directory", "--region", "41390", "--q", "세탁")
        return isinstance(page, dict) and [e["merchant"] for e in page["items"]] == [shop]

    until(found, "the CLI shop in the directory", timeout=60)
    profile = dongne("registrar", "merchant", "profile", shop, "--region", "41390")
    assert isinstance(profile, dict)
    assert (profile["status"], profile["review_note"]) == ("registered", "visited")
