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
    again = world.client("program_manager").get(f"/v1/distributions/{job_id}/commit-call")
    assert (again.status_code, again.json()["code"]) == (409, "DistributionCommitted")
    page.click("#open-program")
    page.locator("[data-program]").wait_for()
    assert page.locator('[data-figure="granted"] dd').inner_text() == f"₩{total:,}"
    assert page.locator('[data-figure="budget"] dd').inner_text() == f"₩{total:,}"
    screenshot(page, "officer-program")
    print(f"commit signed and {RECIPIENTS} grants pushed in {took:.1f} s")


def test_a_sent_commit_is_waited_for_and_never_committed_twice(open_as: Any, world: World) -> None:
    """A tab that sent the commit and lost sight of it (a receipt or index timeout, a reload)
    waits for it instead of offering a second commit; once committed, the gateway refuses to
    build the commit again (409 DistributionCommitted)."""
    manager = world.client("program_manager")
    citizen = world.accounts["citizen"].address
    job = manager.post(
        "/v1/distributions", params={"token": world.siheung}, content=f"{citizen},1000\n",
        headers={"content-type": "text/csv"},
    ).json()  # fmt: skip
    commit_call = f"/v1/distributions/{job['id']}/commit-call"
    call = manager.get(commit_call, params={"days": 30})
    assert call.status_code == 200, call.text

    page = open_as("program_manager")
    sign_in(page, world)
    page.evaluate(f"sessionStorage.setItem('dongne.commit.{job['id']}', '0x' + '12'.repeat(32))")
    page.goto(f"/portal/officer/create?token={world.siheung}&job={job['id']}")
    page.locator("#keep-waiting").wait_for()
    assert page.locator("#commit").count() == 0
    # The commit the tab sent mines; the page binds it and pushes, without a second commit.
    world.net.operator.send(world.siheung, bytes.fromhex(call.json()["data"][2:]), "createProgram")
    page.locator("#done").wait_for(timeout=60_000)
    assert page.evaluate(f"sessionStorage.getItem('dongne.commit.{job['id']}')") is None

    again = manager.get(commit_call, params={"days": 30})
    assert (again.status_code, again.json()["code"]) == (409, "DistributionCommitted")
    assert again.json()["args"]["status"] == "done"
    # Resuming the job offers no commit either.
    page.goto(f"/portal/officer/create?token={world.siheung}&job={job['id']}")
    page.locator("#done").wait_for()
    assert page.locator("#commit").count() == 0
