"""`dongne bank-sim`: runs the BANK SIMULATOR (a stand-in payment provider, not a bank)."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import JsonOut, console, emit, fail


def bank_sim(
    webhook: Annotated[
        str, typer.Option("--webhook", help="The gateway's webhook URL the simulator calls.")
    ],
    secret: Annotated[
        str,
        typer.Option(
            "--secret",
            envvar="DONGNE_PAYMENT_PROVIDER_SECRET",
            help="Shared secret: API bearer token and webhook HMAC key.",
        ),
    ],
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8600,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    as_json: JsonOut = False,
) -> None:
    """Run the BANK SIMULATOR: a SIMULATED payment provider for in-app voucher sales.

    It opens virtual accounts, takes test deposits, refunds and transfers, and calls the
    gateway's webhook with HMAC-signed events, retrying until it answers 2xx. It holds no
    money and keeps everything in memory; every answer carries `X-Simulator: dongne-bank-sim`.
    Its API is in docs/bank-sim.md. Point the gateway at it with DONGNE_PAYMENT_PROVIDER_URL
    and the same DONGNE_PAYMENT_PROVIDER_SECRET.

    Example:

        dongne bank-sim --port 8600 --secret s3cret \\
            --webhook http://127.0.0.1:8000/v1/purchase/webhooks/banksim
    """
    from gateway.banksim.server import BankSimulator

    if len(secret) < 16:
        fail("--secret must be at least 16 characters")
    try:
        sim = BankSimulator(host, port, secret, webhook)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}", 3)
    info = {"simulator": "dongne-bank-sim", "url": sim.url, "webhook": webhook}
    emit(info, as_json, lambda: console.print(
        f"[bold yellow]BANK SIMULATOR[/bold yellow] (not a bank) on {sim.url}, "
        f"webhooks to {webhook}"
    ))  # fmt: skip
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
