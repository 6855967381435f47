"""chain.protocol.errors: the registry built from the committed ABIs, revert decoding,
JSON-RPC shapes."""

from __future__ import annotations

import copy
import pickle

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.protocol.abi import CONTRACTS, abi_signature, canonical_type, load_abi
from chain.protocol.errors import (
    ERROR_CODES,
    GENERIC_REVERT_NAMES,
    PANIC_REASONS,
    REGISTRY,
    ContractRevert,
    DongneChainError,
    decode_revert,
    decode_rpc_error,
    revert_data_from_rpc_error,
)

HOLDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def error_entries() -> list[dict[str, object]]:
    return [e for name in CONTRACTS for e in load_abi(name) if e["type"] == "error"]


def error_data(name: str, values: list[object]) -> bytes:
    """Revert data built from the ABI entry alone, independently of the registry."""
    entry = next(e for e in error_entries() if e["name"] == name)
    types = [canonical_type(p) for p in entry["inputs"]]  # type: ignore[attr-defined]
    return keccak(text=abi_signature(entry))[:4] + abi_encode(types, values)


def holding_cap_data() -> bytes:
    return error_data("VoucherHoldingCapExceeded", [HOLDER.lower(), 1_600_000, 1_500_000])


def test_custom_error_with_arguments() -> None:
    data = holding_cap_data()
    revert = decode_revert(data)
    assert isinstance(revert, ContractRevert)
    assert isinstance(revert, DongneChainError)
    assert revert.name == "VoucherHoldingCapExceeded"
    assert revert.args == {"holder": HOLDER, "wouldBe": 1_600_000, "cap": 1_500_000}
    assert (
        revert.selector
        == "0x" + keccak(text="VoucherHoldingCapExceeded(address,uint256,uint256)")[:4].hex()
    )
    assert revert.data == data
    assert "VoucherHoldingCapExceeded" in str(revert)
    assert decode_revert("0x" + data.hex()).args == revert.args


def test_bytes_and_enum_arguments_are_json_friendly() -> None:
    rule = b"holdingCap".ljust(32, b"\x00")
    revert = decode_revert(error_data("VoucherInvalidRule", [rule]))
    assert revert.args == {"rule": "0x" + rule.hex()}
    selector = decode_revert(error_data("VoucherUnsupported", [bytes.fromhex("095ea7b3")]))
    assert selector.args == {"selector": "0x095ea7b3"}
    inactive = decode_revert(error_data("VoucherMerchantInactive", [HOLDER, 2]))
    assert inactive.args == {"merchant": HOLDER, "status": 2}


def test_openzeppelin_errors_are_registered() -> None:
    role = b"\x01" * 32
    revert = decode_revert(error_data("AccessControlUnauthorizedAccount", [HOLDER, role]))
    assert revert.name == "AccessControlUnauthorizedAccount"
    assert revert.args == {"account": HOLDER, "neededRole": "0x" + role.hex()}
    expired = decode_revert(error_data("ERC2771ForwarderExpiredRequest", [123]))
    assert expired.args == {"deadline": 123}
    for name in ("ERC2771ForwarderInvalidSigner", "FailedCall", "InvalidAccountNonce"):
        assert name in ERROR_CODES


def test_error_string() -> None:
    data = bytes.fromhex("08c379a0") + abi_encode(["string"], ["동네: not allowed"])
    revert = decode_revert(data)
    assert revert.name == "Error"
    assert revert.args == {"message": "동네: not allowed"}
    assert revert.selector == "0x08c379a0"


@pytest.mark.parametrize(
    ("code", "fragment"), [(0x11, "overflow"), (0x12, "zero"), (0x01, "assert")]
)
def test_panic(code: int, fragment: str) -> None:
    revert = decode_revert(bytes.fromhex("4e487b71") + code.to_bytes(32, "big"))
    assert revert.name == "Panic"
    assert revert.args["code"] == code
    assert fragment in str(revert.args["reason"])
    assert PANIC_REASONS[code] == revert.args["reason"]


def test_unknown_panic_code_keeps_code() -> None:
    revert = decode_revert(bytes.fromhex("4e487b71") + (0x99).to_bytes(32, "big"))
    assert revert.args == {"code": 0x99, "reason": "unknown panic code"}


def test_unknown_selector_keeps_raw_data() -> None:
    data = bytes.fromhex("deadbeef") + bytes(32)
    revert = decode_revert(data)
    assert revert.name == "UnknownError"
    assert revert.selector == "0xdeadbeef"
    assert revert.data == data
    assert revert.args == {}


def test_empty_and_short_data() -> None:
    empty = decode_revert(b"")
    assert (empty.name, empty.selector, empty.data) == ("EmptyRevert", "", b"")
    assert decode_revert("0x").name == "EmptyRevert"
    short = decode_revert(b"\x01\x02")
    assert (short.name, short.data) == ("UnknownError", b"\x01\x02")
    assert decode_revert("0xnothex").name == "UnknownError"


def test_known_selector_with_malformed_body_is_unknown() -> None:
    truncated = holding_cap_data()[:40]
    revert = decode_revert(truncated)
    assert revert.name == "UnknownError"
    assert revert.data == truncated


def test_contract_revert_pickles_and_copies() -> None:
    revert = decode_revert(holding_cap_data())
    for clone in (pickle.loads(pickle.dumps(revert)), copy.copy(revert)):
        assert isinstance(clone, ContractRevert)
        assert (clone.name, clone.args, clone.selector, clone.data) == (
            revert.name,
            revert.args,
            revert.selector,
            revert.data,
        )
        assert str(clone) == str(revert)


def test_every_abi_error_is_an_error_code() -> None:
    names = {str(e["name"]) for e in error_entries()}
    assert names
    assert names == ERROR_CODES
    assert not ERROR_CODES & GENERIC_REVERT_NAMES
    # Spot-check the vocabulary the gateway and SDK rely on.
    for name in ("VoucherEdgeNotAllowed", "ProgramAlreadyClaimed", "IdentityUnregistered"):
        assert name in ERROR_CODES
    for name in ("FactoryRegionTaken", "BeaconInvalidImplementation"):
        assert name in ERROR_CODES


def test_no_two_errors_share_a_selector_or_a_name() -> None:
    by_selector: dict[bytes, set[str]] = {}
    by_name: dict[str, set[str]] = {}
    for entry in error_entries():
        signature = abi_signature(entry)
        by_selector.setdefault(keccak(text=signature)[:4], set()).add(signature)
        by_name.setdefault(str(entry["name"]), set()).add(signature)
    assert {sel: sigs for sel, sigs in by_selector.items() if len(sigs) > 1} == {}
    assert {name: sigs for name, sigs in by_name.items() if len(sigs) > 1} == {}
    assert len(REGISTRY) == len(by_selector)
    builtin = {bytes.fromhex("08c379a0"), bytes.fromhex("4e487b71")}
    assert not builtin & by_selector.keys()


def test_every_registered_error_round_trips() -> None:
    sample = {
        "address": HOLDER,
        "bool": True,
        "bytes32": b"\x07" * 32,
        "bytes4": b"\x01\x02\x03\x04",
        "string": "too long",
    }
    for spec in REGISTRY.values():
        values = [sample.get(t, 5) for t in spec.types]
        data = bytes.fromhex(spec.selector[2:]) + abi_encode(list(spec.types), values)
        revert = decode_revert(data)
        assert revert.name == spec.name
        assert list(revert.args) == list(spec.names)


# ------------------------------------------------------------------------------------------
# JSON-RPC error shapes


def test_anvil_error_data_is_hex_string() -> None:
    data = holding_cap_data()
    error = {
        "code": 3,
        "message": "execution reverted: custom error 0x8e98f794",
        "data": "0x" + data.hex(),
    }
    assert revert_data_from_rpc_error(error) == data
    decoded = decode_rpc_error(error)
    assert decoded is not None
    assert decoded.name == "VoucherHoldingCapExceeded"


def test_whole_reply_is_accepted() -> None:
    data = holding_cap_data()
    reply = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": 3, "message": "x", "data": "0x" + data.hex()},
    }
    assert revert_data_from_rpc_error(reply) == data


def test_ganache_7_error_data_object_with_result() -> None:
    data = holding_cap_data()
    error = {
        "code": -32000,
        "message": "VM Exception while processing transaction: revert",
        "data": {
            "hash": "0x" + "ab" * 32,
            "programCounter": 1234,
            "result": "0x" + data.hex(),
            "reason": None,
            "message": "revert",
        },
    }
    assert revert_data_from_rpc_error(error) == data


def test_ganache_error_data_object_with_nested_data() -> None:
    data = holding_cap_data()
    error = {
        "code": -32000,
        "message": "revert",
        "data": {"message": "revert", "data": "0x" + data.hex()},
    }
    assert revert_data_from_rpc_error(error) == data


def test_ganache_core_2_error_keyed_by_transaction_hash() -> None:
    data = holding_cap_data()
    error = {
        "code": -32000,
        "message": "VM Exception while processing transaction: revert",
        "data": {
            "0x" + "cd" * 32: {
                "error": "revert",
                "program_counter": 92,
                "return": "0x" + data.hex(),
            },
            "stack": "RuntimeError: VM Exception while processing transaction: revert",
            "name": "RuntimeError",
        },
    }
    assert revert_data_from_rpc_error(error) == data


def test_parity_reverted_prefix() -> None:
    data = holding_cap_data()
    error = {"code": -32015, "message": "VM execution error.", "data": "Reverted 0x" + data.hex()}
    assert revert_data_from_rpc_error(error) == data


def test_empty_revert_and_non_revert_errors() -> None:
    empty = {"code": 3, "message": "execution reverted", "data": "0x"}
    assert revert_data_from_rpc_error(empty) == b""
    decoded = decode_rpc_error(empty)
    assert decoded is not None
    assert decoded.name == "EmptyRevert"
    nonce_error = {"code": -32003, "message": "nonce too low"}
    assert revert_data_from_rpc_error(nonce_error) is None
    assert decode_rpc_error(nonce_error) is None
    assert (
        revert_data_from_rpc_error({"code": -32000, "message": "x", "data": {"stack": "..."}})
        is None
    )
    assert revert_data_from_rpc_error({"code": -32000, "message": "x", "data": "0xzz"}) is None


def test_addresses_are_checksummed() -> None:
    revert = decode_revert(error_data("VoucherEdgeNotAllowed", [HOLDER.lower(), "0x" + "ab" * 20]))
    assert revert.args == {"from": HOLDER, "to": to_checksum_address("0x" + "ab" * 20)}
