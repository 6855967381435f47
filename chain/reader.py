"""Batched ``eth_call`` reads of a voucher token: balances, pockets, programs, claims.

Audits and the distribution pusher read the chain through this one reader, pinned to a block
when they compare it with the index.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode

from chain.protocol.contracts import output_type, selector
from chain.rpc import RpcClient

__all__ = ["ChainProgram", "TokenReader"]


_TOTAL_SUPPLY, _BALANCE_OF = selector("totalSupply"), selector("balanceOf")
_PROGRAM_OF, _PROGRAM_COUNT = selector("programOf"), selector("programCount")
_POCKET_OF, _IS_CLAIMED = selector("pocketOf"), selector("isClaimed")
_FUNDER_TOTALS, _MERCHANT_OF = selector("funderTotals"), selector("merchantOf")
_PROGRAM = output_type("programOf")
_RPC_BATCH = 500  # calls per JSON-RPC batch: nodes cap batch sizes (Besu: 1,024)


@dataclass(frozen=True, slots=True)
class ChainProgram:
    """``programOf``: a program's state on chain."""

    root: str
    budget: int
    granted: int
    spent: int
    start: int
    expiry: int
    revenue_cap_waived: bool
    any_category: bool
    closed: bool


class TokenReader:
    """``eth_call`` reads of one voucher token, batched, at one block (``None``: latest).

    Audits pin the block the index has reached, so both sides describe the same state.
    """

    def __init__(self, rpc: RpcClient, token: str, block: int | None = None) -> None:
        self.rpc, self.token, self.block = rpc, token, block

    def _calls(self, payloads: Sequence[bytes]) -> list[bytes]:
        tag = "latest" if self.block is None else hex(self.block)
        out: list[bytes] = []
        for start in range(0, len(payloads), _RPC_BATCH):
            chunk = payloads[start : start + _RPC_BATCH]
            calls = [("eth_call", [{"to": self.token, "data": "0x" + p.hex()}, tag]) for p in chunk]
            out.extend(bytes.fromhex(str(r)[2:]) for r in self.rpc.batch(calls))
        return out

    def _uints(self, payloads: Sequence[bytes]) -> list[int]:
        return [int.from_bytes(raw[:32], "big") for raw in self._calls(payloads)]

    def total_supply(self) -> int:
        return self._uints([_TOTAL_SUPPLY])[0]

    def program_count(self) -> int:
        return self._uints([_PROGRAM_COUNT])[0]

    def balances(self, holders: Sequence[str]) -> list[int]:
        return self._uints([_BALANCE_OF + abi_encode(["address"], [h]) for h in holders])

    def pockets(self, pairs: Sequence[tuple[int, str]]) -> list[int]:
        encode = functools.partial(abi_encode, ["uint256", "address"])
        return self._uints([_POCKET_OF + encode([pid, holder]) for pid, holder in pairs])

    def claimed(self, program_id: int, indices: Sequence[int]) -> list[bool]:
        encode = functools.partial(abi_encode, ["uint256", "uint256"])
        return [
            v != 0 for v in self._uints([_IS_CLAIMED + encode([program_id, i]) for i in indices])
        ]

    def funder_totals(self, funders: Sequence[bytes]) -> list[tuple[int, int]]:
        """``funderTotals``: each funder's (subsidy, cashback) over every plan version."""
        raws = self._calls([_FUNDER_TOTALS + abi_encode(["bytes32"], [f]) for f in funders])
        return [(int(s), int(c)) for s, c in (abi_decode(["int256", "int256"], r) for r in raws)]

    def extra_totals(self, merchants: Sequence[str]) -> list[int]:
        """Each merchant's ``extraTotal``: the extras it funded, net of cancellations."""
        raws = self._calls([_MERCHANT_OF + abi_encode(["address"], [m]) for m in merchants])
        kind = output_type("merchantOf")
        return [int(abi_decode([kind], raw)[0][-1]) for raw in raws]

    def programs(self, ids: Sequence[int]) -> list[ChainProgram]:
        raws = self._calls([_PROGRAM_OF + abi_encode(["uint256"], [i]) for i in ids])
        out = []
        for raw in raws:
            (v,) = abi_decode([_PROGRAM], raw)
            root, budget, granted, spent, start, expiry, waived, any_category, closed = v
            out.append(
                ChainProgram("0x" + bytes(root).hex(), budget, granted, spent, start, expiry,
                             waived, any_category, closed)
            )  # fmt: skip
        return out


# ------------------------------------------------------------------------------ trees
