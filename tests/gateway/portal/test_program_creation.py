"""The officer creates a program in the browser: a 1,000-recipient CSV, the root, the commit
signed with the officer's wallet, the push watched to 100%, then the program's page."""

from __future__ import annotations

import time
from typing import Any

from eth_account import Account

from tests.gateway.http.conftest import World

from .conftest import screenshot, sign_in

RECIPIENTS = 1_000


def test_the_officer_creates_a_program_and_watches_the_push(open_as: Any, world: World) -> None:
    recipients = [Account.create().address for _ in range(RECIPIENTS)]
    world.net.operator.register(world.net.manifest.registry, recipients, "citizen")
    csv = "address,amount\n" + "".join(f"{a},{1_000 + i}\n" for i, a in enumerate(recipients))
    total = sum(1_000 + i for i in range(RECIPIENTS))

    page = open_as("program_manager")
    sign_in(page, world)
    page.goto(f"/portal/officer/create?token={world.siheung}")
    page.set_input_files(
        "#csv", files=[{"name": "youth.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.click("#upload")
    page.locator("#commit").wait_for()
    job_id = page.locator("[data-job]").get_attribute("data-job")
    job = world.client("program_manager").get(f"/v1/distributions/{job_id}").json()
    assert page.locator("#root").inner_text() == job["root"]
    assert page.locator('[data-figure="count"] dd').inner_text() == f"{RECIPIENTS:,}"
    assert page.locator('[data-figure="total"] dd').inner_text() == f"₩{total:,}"
    screenshot(page, "officer-create")

    started = time.monotonic()
    page.click("#commit")  # the injected wallet signs and sends createProgram
    page.locator("#done").wait_for(timeout=240_000)
    took = time.monotonic() - started
    assert page.locator("#push progress").get_attribute("value") == "100.0"
    done = world.client("program_manager").get(f"/v1/distributions/{job_id}").json()
    assert (done["status"], done["pushed"], done["progress_pct"]) == ("done", RECIPIENTS, 100.0)
    screenshot(page, "officer-push-done")
    page.click("#open-program")
    page.locator("[data-program]").wait_for()
    assert page.locator('[data-figure="granted"] dd').inner_text() == f"₩{total:,}"
    assert page.locator('[data-figure="budget"] dd').inner_text() == f"₩{total:,}"
    screenshot(page, "officer-program")
    print(f"commit signed and {RECIPIENTS} grants pushed in {took:.1f} s")
