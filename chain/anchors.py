"""Anchors of the gateway's hash-chained logs on chain (``DongneAnchor``): send one, read the
latest. The staff action log is anchored under ``STAFF_LOG``; the head is its SHA-256 chain
hash after that many entries (``gateway.access.staff_log``)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from chain.manifest import Manifest
from chain.protocol.contracts import encode_function, event_data_types, event_topic
from chain.rpc import RpcClient
from chain.sender import Sender

__all__ = ["STAFF_LOG", "Anchor", "anchor_log", "latest_anchor"]

CONTRACT = "DongneAnchor"
STAFF_LOG = keccak(text="dongne.staff-log")
_ANCHORED = event_topic("LogAnchored", CONTRACT)
_ANCHORED_DATA = event_data_types("LogAnchored", CONTRACT)


@dataclass(frozen=True)
class Anchor:
    head: str  # 0x-hex
    entries: int
    block: int
    tx_hash: str


def anchor_log(sender: Sender, manifest: Manifest, head: str, entries: int,
               log: bytes = STAFF_LOG) -> None:  # fmt: skip
    """Anchors `head` as the log's hash after its first `entries` entries (the anchoring key
    needs ANCHOR_ROLE; an anchor that does not extend the log reverts AnchorNotForward)."""
    data = encode_function(
        "anchor", [log, bytes.fromhex(head.removeprefix("0x")), entries], CONTRACT
    )
    sender.send(manifest.address(CONTRACT), data, "anchor log")


def latest_anchor(rpc: RpcClient, manifest: Manifest, log: bytes = STAFF_LOG) -> Anchor | None:
    contract = manifest.contracts.get(CONTRACT)
    if contract is None:
        return None
    logs = rpc.get_logs(
        {"address": contract.address, "topics": [_ANCHORED, "0x" + log.hex()],
         "fromBlock": hex(contract.block), "toBlock": "latest"}
    )  # fmt: skip
    if not logs:
        return None
    last = logs[-1]
    head, entries = abi_decode(list(_ANCHORED_DATA), bytes.fromhex(str(last["data"])[2:]))
    return Anchor("0x" + bytes(head).hex(), int(entries), int(str(last["blockNumber"]), 16),
                  str(last["transactionHash"]))  # fmt: skip
