"""Local nodes, the toolchain lookup and the raw JSON-RPC client, against real processes."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest
from eth_account import Account

from chain.node import DEV_MNEMONIC, LocalNode, NodeKind, NodeStartError, dev_accounts
from chain.protocol.errors import DongneChainError
from chain.rpc import NodeUnavailableError, RpcClient, RpcError
from chain.toolchain import (
    INSTALL_COMMAND,
    TOOLS,
    ToolchainMissingError,
    pinned_versions,
    tool_path,
)

BURN = "0x000000000000000000000000000000000000dEaD"
GWEI = 10**9


def _require(kind: NodeKind) -> None:
    try:
        tool_path(kind)
    except ToolchainMissingError as exc:
        pytest.skip(f"{kind} is not installed: {exc}")


def _send_value(node: LocalNode, value: int, to: str = BURN, sender: int = 0) -> str:
    address, key = node.dev_accounts()[sender]
    tx = {
        "chainId": node.chain_id,
        "nonce": node.rpc.get_transaction_count(address, "pending"),
        "to": to,
        "value": value,
        "gas": 21_000,
        "gasPrice": 10 * GWEI,
    }
    signed = Account.sign_transaction(tx, key)
    return node.rpc.send_raw_transaction(signed.raw_transaction)


def _wait_receipt(node: LocalNode, tx_hash: str, timeout: float = 5.0) -> dict[str, object]:
    # Even with automine, anvil may answer eth_sendRawTransaction before the block is sealed.
    deadline = time.monotonic() + timeout
    while (receipt := node.rpc.get_receipt(tx_hash)) is None:
        assert time.monotonic() < deadline, f"no receipt for {tx_hash}"
        time.sleep(0.02)
    return dict(receipt)


# -- starting and configuring --------------------------------------------------------------


def test_anvil_starts_on_a_free_port_and_answers(anvil: LocalNode) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", anvil.rpc_url)
    assert anvil.rpc.chain_id() == 31337
    assert anvil.running
    nodes_accounts = anvil.rpc.call("eth_accounts")
    assert isinstance(nodes_accounts, list)
    derived = [address.lower() for address, _ in anvil.dev_accounts()]
    assert [str(a).lower() for a in nodes_accounts] == derived
    assert anvil.rpc.get_balance(anvil.dev_accounts()[0].address) == 10_000 * 10**18


def test_dev_accounts_match_the_well_known_first_key() -> None:
    first = dev_accounts(DEV_MNEMONIC, 10)[0]
    assert first.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert first.private_key.endswith("ff80")
    assert dev_accounts(DEV_MNEMONIC, 10) is dev_accounts(DEV_MNEMONIC, 10)  # cached


def test_custom_chain_id_and_block_gas_limit_apply() -> None:
    with LocalNode(chain_id=4139001, block_gas_limit=12_345_678) as node:
        assert node.rpc.chain_id() == 4139001
        block = node.rpc.get_block("latest")
        assert block is not None
        assert int(str(block["gasLimit"]), 16) == 12_345_678


def test_interval_mining_produces_blocks_over_time() -> None:
    with LocalNode(block_time=0.2) as node:
        deadline = time.monotonic() + 5
        while node.rpc.block_number() < 3:
            assert time.monotonic() < deadline, "interval mining produced no blocks"
            time.sleep(0.05)
        tx_hash = _send_value(node, 1)
        assert _wait_receipt(node, tx_hash)["status"] == "0x1"


def test_no_mining_mines_only_on_mine() -> None:
    with LocalNode(no_mining=True) as node:
        tx_hash = _send_value(node, 5)
        time.sleep(0.3)
        assert node.rpc.block_number() == 0
        assert node.rpc.get_receipt(tx_hash) is None
        node.mine()
        assert node.rpc.block_number() == 1
        assert node.rpc.get_receipt(tx_hash) is not None
        node.mine(3)
        assert node.rpc.block_number() == 4


def test_set_automine_off_then_on(anvil: LocalNode) -> None:
    anvil.set_automine(False)
    tx_hash = _send_value(anvil, 7)
    assert anvil.rpc.get_receipt(tx_hash) is None
    anvil.mine()
    assert anvil.rpc.get_receipt(tx_hash) is not None
    anvil.set_automine(True)
    _wait_receipt(anvil, _send_value(anvil, 7))


def test_snapshot_and_revert_undo_a_transfer(anvil: LocalNode) -> None:
    snapshot = anvil.snapshot()
    _wait_receipt(anvil, _send_value(anvil, 1234))
    assert anvil.rpc.get_balance(BURN) == 1234
    assert anvil.revert(snapshot)
    assert anvil.rpc.get_balance(BURN) == 0


@pytest.mark.parametrize(
    "kind", ["anvil", pytest.param("ganache", marks=[pytest.mark.ganache, pytest.mark.slow])]
)
def test_state_persists_across_a_restart(kind: NodeKind, tmp_path: Path) -> None:
    _require(kind)
    state = tmp_path / ("state.json" if kind == "anvil" else "db")
    node = LocalNode(kind, state_path=state)
    with node:
        _wait_receipt(node, _send_value(node, 424_242))
        height = node.rpc.block_number()
    assert not node.running
    with node:  # the same object restarts on the same state
        assert node.rpc.get_balance(BURN) == 424_242
        assert node.rpc.block_number() == height
    with LocalNode(kind, state_path=state) as fresh:  # and so does a new one
        assert fresh.rpc.get_balance(BURN) == 424_242


def test_two_nodes_run_at_once() -> None:
    with LocalNode(chain_id=1001) as first, LocalNode(chain_id=1002) as second:
        assert first.rpc_url != second.rpc_url
        assert (first.rpc.chain_id(), second.rpc.chain_id()) == (1001, 1002)
        first.mine(2)
        assert (first.rpc.block_number(), second.rpc.block_number()) == (2, 0)


def test_taken_port_gives_a_clear_start_error(anvil: LocalNode, tmp_path: Path) -> None:
    port = int(anvil.rpc_url.rsplit(":", 1)[1])
    log = tmp_path / "second.log"  # a failed start keeps its log for the reader
    with pytest.raises(NodeStartError) as caught:
        LocalNode(port=port, log_path=log, start_timeout=10).start()
    assert caught.value.log_path == log
    assert "in use" in caught.value.log_tail.lower()
    assert "log tail" in str(caught.value)
    assert anvil.rpc.chain_id() == 31337  # the first node is untouched


def test_stop_ends_the_process_and_is_idempotent() -> None:
    node = LocalNode().start()
    url = node.rpc_url
    node.stop()
    node.stop()
    assert not node.running
    with RpcClient(url, timeout=1) as client, pytest.raises(NodeUnavailableError):
        client.chain_id()


def test_options_that_exclude_each_other_are_rejected() -> None:
    with pytest.raises(ValueError, match="exclude"):
        LocalNode(block_time=1, no_mining=True)


# -- toolchain -------------------------------------------------------------------------------


def test_missing_tool_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DONGNE_HOME", str(tmp_path))
    with pytest.raises(ToolchainMissingError) as caught:
        LocalNode().start()
    assert caught.value.tool == "anvil"
    assert "anvil" in str(caught.value)
    assert INSTALL_COMMAND == "bash scripts/bootstrap.sh"
    assert INSTALL_COMMAND in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, DongneChainError)
    for tool in TOOLS:
        with pytest.raises(ToolchainMissingError, match=tool):
            tool_path(tool)


def test_pinned_versions_parse_forge_and_solc() -> None:
    versions = pinned_versions()
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", versions.foundry)
    assert re.fullmatch(r"[0-9a-f]{7,40}", versions.foundry_commit)
    assert versions.solc.startswith("0.8.")
    assert set(versions.as_dict()) == {"foundry", "foundry_commit", "solc"}


# -- ganache ---------------------------------------------------------------------------------


@pytest.mark.ganache
def test_ganache_starts_and_answers(ganache: LocalNode) -> None:
    assert ganache.rpc.chain_id() == 31337
    _wait_receipt(ganache, _send_value(ganache, 99))
    assert ganache.rpc.get_balance(BURN) == 99
    snapshot = ganache.snapshot()
    ganache.mine(2)
    assert ganache.revert(snapshot)
    ganache.set_automine(False)
    tx_hash = _send_value(ganache, 1)
    assert ganache.rpc.get_receipt(tx_hash) is None
    ganache.mine()
    assert ganache.rpc.get_receipt(tx_hash) is not None
    ganache.set_automine(True)
    _wait_receipt(ganache, _send_value(ganache, 1))


# -- raw JSON-RPC client ---------------------------------------------------------------------


def test_rpc_helpers_against_a_node(anvil_session: LocalNode) -> None:
    rpc = anvil_session.rpc
    address = anvil_session.dev_accounts()[9].address
    assert rpc.get_code(address) == b""
    assert rpc.get_transaction_count(address, "pending") == rpc.get_transaction_count(address)
    assert rpc.get_receipt("0x" + "ab" * 32) is None
    assert rpc.eth_call({"to": address, "data": "0x"}) == b""
    assert rpc.get_logs({"fromBlock": "0x0", "toBlock": "latest"}) == []


def test_rpc_batch_keeps_the_order_of_calls(anvil_session: LocalNode) -> None:
    results = anvil_session.rpc.batch(
        [("eth_chainId", []), ("net_version", []), ("eth_chainId", [])]
    )
    assert results == ["0x7a69", "31337", "0x7a69"]
    assert anvil_session.rpc.batch([]) == []


def test_rpc_error_carries_code_and_message(anvil_session: LocalNode) -> None:
    with pytest.raises(RpcError) as caught:
        anvil_session.rpc.call("dongne_noSuchMethod")
    assert caught.value.code == -32601
    assert caught.value.method == "dongne_noSuchMethod"
    with pytest.raises(RpcError):
        anvil_session.rpc.batch([("eth_chainId", []), ("dongne_noSuchMethod", [])])


def test_unreachable_node_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        client = RpcClient(f"http://127.0.0.1:{port}", timeout=1)
        with client, pytest.raises(NodeUnavailableError) as caught:
            client.block_number()
    assert isinstance(caught.value, ConnectionError)
    assert isinstance(caught.value, DongneChainError)
