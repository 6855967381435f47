"""Staff operations against a node: the state they change, filling in "as it is now" values,
and verifying that a transaction was a staff operation that succeeded.

The table of operations is :mod:`chain.protocol.staff`; :class:`chain.operator.Operator` sends
them. The gateway's staff log records each operation with its state before and after, read
here at the blocks around the transaction, so the entry says what the chain says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode

from chain.protocol.abi import AbiEntry, canonical_type, load_abi
from chain.protocol.calls import CallEncodingError, Rules
from chain.protocol.contracts import encode_function, output_type, selector
from chain.protocol.errors import ContractRevert, decode_revert, revert_data_from_rpc_error
from chain.protocol.staff import (
    KEEP,
    Contract,
    StaffOperation,
    contract_name,
    describe_args,
    identify,
)
from chain.rpc import RpcClient, RpcError

__all__ = [
    "NotAStaffActionError",
    "VerifiedAction",
    "complete",
    "current_rules",
    "read_state",
    "simulate",
    "verify_action",
]


def _outputs(function: str, contract: str) -> list[AbiEntry]:
    entry = next(e for e in load_abi(contract) if e.get("name") == function)
    outputs = entry.get("outputs", [])
    assert isinstance(outputs, list)
    return outputs


def _named(params: list[AbiEntry], values: tuple[object, ...]) -> object:
    """Decoded outputs as JSON: structs as objects by their field names."""
    out: dict[str, object] = {}
    for i, (param, value) in enumerate(zip(params, values, strict=True)):
        components = param.get("components")
        if isinstance(components, list) and str(param.get("type")).endswith("[]"):
            # An array of structs (a funding plan's shares): each element by its fields.
            value = [_named(components, item) for item in value]  # type: ignore[attr-defined]
        elif isinstance(components, list) and isinstance(value, tuple):
            value = _named(components, value)
        elif isinstance(value, bytes):
            value = "0x" + value.hex()
        out[str(param.get("name") or f"value{i}")] = value
    return out if len(out) > 1 else next(iter(out.values()), None)


def read_state(
    rpc: RpcClient, target: str, op: StaffOperation, values: Mapping[str, object],
    block: str | int = "latest",
) -> object:  # fmt: skip
    """What ``op``'s view shows at ``block`` (None for an operation without one)."""
    if op.view is None:
        return None
    function, param = op.view
    contract = contract_name(op)
    args = [] if param is None else [values[param]]
    data = "0x" + encode_function(function, args, contract).hex()
    raw = rpc.eth_call({"to": target, "data": data}, block)
    params = _outputs(function, contract)
    decoded = abi_decode([canonical_type(p) for p in params], raw)
    return _named(params, tuple(decoded))


def simulate(rpc: RpcClient, sender: str, target: str, data: bytes) -> ContractRevert | None:
    """The custom error ``sender``'s call would revert with now (None: it would succeed)."""
    try:
        rpc.eth_call({"from": sender, "to": target, "data": "0x" + data.hex()})
    except RpcError as exc:
        raw = revert_data_from_rpc_error({"code": exc.code, "message": exc.message,
                                          "data": exc.data})  # fmt: skip
        if raw is None:
            raise
        return decode_revert(raw)
    return None


def current_rules(rpc: RpcClient, token: str) -> Rules:
    raw = rpc.eth_call({"to": token, "data": "0x" + selector("rules").hex()})
    (current,) = abi_decode([output_type("rules")], raw)
    return Rules.from_tuple(list(current))


def complete(
    rpc: RpcClient, token: str, op: StaffOperation, values: Mapping[str, object]
) -> dict[str, object]:
    """``values`` with every :data:`~chain.protocol.staff.KEEP` replaced by the chain's value
    (a re-tiered merchant keeps its category)."""
    out = dict(values)
    if out.get("category") == KEEP and "merchant" in out:
        state = read_state(rpc, token, op, out)
        if not isinstance(state, dict) or not state.get("status"):
            raise CallEncodingError(op.function, f"{out['merchant']} is not a merchant here")
        out["category"] = state["category"]
    return out


@dataclass(frozen=True, slots=True)
class VerifiedAction:
    """A staff operation the chain executed: who sent it, what it did, what it changed."""

    operation: StaffOperation
    sender: str  # lower-case: the role holder whose key signed it
    target: str  # lower-case
    tx_hash: str
    block_number: int
    args: list[object]
    before: object
    after: object


class NotAStaffActionError(ValueError):
    """The transaction is unknown, reverted, or not a staff operation on that contract."""


def verify_action(rpc: RpcClient, tx_hash: str, targets: Mapping[str, str]) -> VerifiedAction:
    """Checks ``tx_hash`` on chain: mined, succeeded, sent to one of ``targets`` (contract
    kind -> address: the municipality's token, the identity registry) and calling a staff
    operation. Reads the operation's state at the blocks before and at it."""
    tx = rpc.call("eth_getTransactionByHash", [tx_hash])
    receipt = rpc.get_receipt(tx_hash)
    if not isinstance(tx, dict) or receipt is None:
        raise NotAStaffActionError(f"no mined transaction {tx_hash}")
    if int(str(receipt.get("status")), 16) != 1:
        raise NotAStaffActionError(f"transaction {tx_hash} reverted")
    to = str(tx.get("to") or "").lower()
    kind: Contract | None = None
    for name in ("token", "registry"):
        if targets.get(name, "").lower() == to:
            kind = name
    if kind is None:
        raise NotAStaffActionError(f"transaction {tx_hash} was not sent to this city's contracts")
    data = bytes.fromhex(str(tx.get("input", "0x")).removeprefix("0x"))
    found = identify(kind, data)
    if found is None:
        raise NotAStaffActionError(f"transaction {tx_hash} is not a staff operation")
    op, args = found
    values = _values_of(op, args)
    block = int(str(receipt["blockNumber"]), 16)
    return VerifiedAction(
        operation=op, sender=str(tx["from"]).lower(), target=to, tx_hash=tx_hash.lower(),
        block_number=block, args=describe_args(args),
        before=read_state(rpc, to, op, values, block - 1),
        after=read_state(rpc, to, op, values, block),
    )  # fmt: skip


def _values_of(op: StaffOperation, args: tuple[object, ...]) -> dict[str, object]:
    """The view's argument back from the call's (the views take the call's first argument)."""
    if op.view is None or op.view[1] is None:
        return {}
    return {op.view[1]: args[0]}
