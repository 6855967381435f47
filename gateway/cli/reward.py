"""`dongne reward create|pay|list`: reward programs (walking points, campaign prizes).

A program manager creates one (budget, validity, caps per person a KST day and month); a
rewarder pays attested rewards in a batch, once per attestation id whoever resends. Both go
through ``gateway.cli.staff`` (own key, staff log); `list` reads the gateway's index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import JsonOut, ManifestPath, Region, RpcUrl, console, emit, fail
from gateway.cli.gateway_api import GatewayUrl, gateway_get, token_of
from gateway.cli.staff import run_staff, staff_command

reward = typer.Typer(help="Reward programs: create, pay attested rewards, list.",
                     no_args_is_help=True)  # fmt: skip

staff_command(reward, "create", "reward-create", "Create a reward program.",
              "dongne reward create --region 41390 --budget 10000000 --daily-cap 1000")  # fmt: skip


def _reward(item: str) -> dict[str, object]:
    from eth_utils.address import is_address

    from chain.protocol.hashing import keccak256

    parts = item.split(":")
    if len(parts) != 3 or not is_address(parts[1]) or not parts[2].isdigit():
        fail(f"--reward {item!r}: expected ATTESTATION:0xRECIPIENT:AMOUNT")
    attestation, recipient, amount = parts
    # The attestation is the rewarder's own id (a step count's date and person, a prize's
    # draw): 0x-hex 32 bytes as is, any other text by its keccak-256.
    is_hex = attestation.startswith("0x") and len(attestation) == 66
    raw = attestation if is_hex else "0x" + keccak256(attestation.encode()).hex()
    return {"attestation_id": raw, "recipient": recipient, "amount": int(amount)}


@reward.command("pay")
def reward_pay(
    region: Region,
    program_id: Annotated[int, typer.Option("--program", help="The reward program's id.")],
    rewards: Annotated[
        list[str], typer.Option("--reward", help="ATTESTATION:0xRECIPIENT:AMOUNT (repeat).")
    ],
    rpc: RpcUrl = "http://127.0.0.1:8545",
    manifest_path: ManifestPath = Path(".dongne/manifest.json"),
    gateway: GatewayUrl = "http://127.0.0.1:8000",
    as_json: JsonOut = False,
) -> None:
    """Pay attested rewards (rewarder's key); an attestation already paid is skipped.

    Example: dongne reward pay --region 41390 --program 3 --reward walk-0301-minjun:0xAbc...:500
    """
    raw = {"program_id": program_id, "rewards": [_reward(item) for item in rewards]}
    run_staff("reward-pay", region, raw, rpc=rpc, manifest_path=manifest_path, gateway=gateway,
              as_json=as_json)  # fmt: skip


@reward.command("list")
def reward_list(
    region: Region, gateway: GatewayUrl = "http://127.0.0.1:8000", as_json: JsonOut = False
) -> None:
    """A city's reward programs with budget, paid and caps (from the gateway's index).

    Example: dongne reward list --region 41390 --json
    """
    token = token_of(gateway, region)
    found = gateway_get(gateway, f"/v1/tokens/{token}/programs", kind="reward")
    assert isinstance(found, list)

    def render() -> None:
        for p in found:
            console.print(f"#{p['program_id']} budget ₩{p['budget']:,} paid ₩{p['granted']:,}")

    emit(found, as_json, render)
