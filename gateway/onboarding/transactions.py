"""The import's transactions: identities in ``registerBatch`` chunks, merchants as the
operator's own signed ``registerMerchant`` requests in forwarder ``executeBatch`` batches.

Every transaction of a window is signed with an explicit, consecutive nonce and sent before
the first receipt is awaited, so a window's transactions share blocks instead of waiting one
block each. Merchants go through the network's ERC-2771 forwarder rather than a new batch
function on the token: no contract change or beacon upgrade, and each request runs on its own
(a merchant the token refuses fails alone; ``executeBatch`` with a refund receiver skips
instead of reverting the batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from chain.protocol.contracts import encode_function, selector
from chain.protocol.errors import ContractRevert, decode_revert, revert_data_from_rpc_error
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    encode_execute_batch,
    sign_request,
)
from chain.protocol.hashing import parse_address
from chain.rpc import JSONObject, RpcClient, RpcError
from chain.sender import Call, Sender, TransactionFailed, gas_limit
from gateway.onboarding.rows import MerchantRow

__all__ = ["REQUEST_GAS", "Registrar", "Sent", "register_merchant_calldata"]

# Gas forwarded to each registerMerchant (it uses ~50k with cold slots). The forwarder
# checks that the call got it, so the batch's own limit is set from these, not estimated:
# an estimate made before the window's identity transaction is mined would see every
# request fail cheaply and come out far too low.
REQUEST_GAS = 120_000
# Per request on top of the forwarded gas: calldata (~600 bytes), the signature's recovery,
# the nonce, the event; and per batch.
REQUEST_OVERHEAD_GAS = 40_000
BATCH_BASE_GAS = 60_000
DEADLINE_S = 3_600  # a request signed for a window is mined within the window, or dropped


@dataclass
class Sent:
    transactions: int = 0
    gas_used: int = 0

    def add(self, receipts: Sequence[JSONObject]) -> None:
        self.transactions += len(receipts)
        self.gas_used += sum(int(str(r["gasUsed"]), 16) for r in receipts)


class Registrar:
    """Sends one window's transactions with ``account`` (a KYC registrar of the identity
    registry and a merchant registrar of the token)."""

    def __init__(
        self, rpc: RpcClient, account: LocalAccount, chain_id: int, registry: str, forwarder: str
    ) -> None:
        self.rpc, self.registry = rpc, registry
        self.sender = Sender(rpc, account, chain_id)
        self.domain = ForwarderDomain(chain_id, forwarder)
        self.key = bytes(account.key)

    @property
    def address(self) -> str:
        return self.sender.address

    def send(self, calls: Sequence[tuple[Call, int | None, str]]) -> list[JSONObject]:
        """Signs ``(call, gas, what)`` with consecutive nonces (``gas`` None: estimated),
        sends them all, then waits for every receipt. A call whose estimate reverts (the
        chain changed since the window was checked) is left out: the caller checks again."""
        nonce = self.rpc.get_transaction_count(self.address, "pending")
        hashes: list[tuple[str, str]] = []
        for call, gas, what in calls:
            if gas is None:
                try:
                    gas = gas_limit(self.sender.estimate(call, what))
                except TransactionFailed as exc:
                    if exc.revert is None:
                        raise
                    continue
            signed = self.sender.sign(call, nonce=nonce, gas=gas)
            nonce += 1
            hashes.append((str(self.rpc.send_raw_transaction(signed.raw)), what))
        return [self.sender.wait(tx_hash, what) for tx_hash, what in hashes]

    def identity_calls(
        self, wallets: Sequence[str], kind: int, chunk: int
    ) -> list[tuple[Call, int | None, str]]:
        """``registerBatch`` transactions of ``chunk`` wallets. Only the first is estimated
        (an estimate runs the whole chunk, ~0.2 s at 500); the others, no larger, are signed
        with its limit. If the first would revert, each is estimated (and a reverting one
        left out) by :meth:`send`."""
        calls: list[tuple[Call, int | None, str]] = []
        gas: int | None = None
        for start in range(0, len(wallets), chunk):
            part = list(wallets[start : start + chunk])
            data = encode_function("registerBatch", [part, kind], "IdentityRegistry")
            call: Call = (self.registry, data, 0)
            if start == 0:
                try:
                    gas = gas_limit(self.sender.estimate(call, "registerBatch"))
                except TransactionFailed as exc:
                    if exc.revert is None:
                        raise
            calls.append((call, gas, f"registerBatch of {len(part)}"))
        return calls

    def merchant_calls(
        self,
        token: str,
        rows: Sequence[MerchantRow],
        region: int,
        *,
        first_nonce: int,
        deadline: int,
        batch: int,
    ) -> list[tuple[Call, int | None, str]]:
        """``executeBatch`` transactions of signed requests with forwarder nonces from
        ``first_nonce`` on, in the order the transactions will be mined."""
        calls: list[tuple[Call, int | None, str]] = []
        nonce = first_nonce
        for start in range(0, len(rows), batch):
            signed = []
            for row in rows[start : start + batch]:
                request = ForwardRequest(
                    self.address, token, 0, REQUEST_GAS, nonce, deadline,
                    register_merchant_calldata(row, region),
                )  # fmt: skip
                signed.append(sign_request(self.key, self.domain, request))
                nonce += 1
            # A refund receiver makes the batch skip, not revert on, an invalid request.
            data = encode_execute_batch(signed, self.address)
            gas = BATCH_BASE_GAS + len(signed) * (REQUEST_GAS + REQUEST_OVERHEAD_GAS)
            calls.append(((self.domain.verifying_contract, data, 0), gas, "executeBatch"))
        return calls

    def refusal(self, token: str, row: MerchantRow, region: int) -> ContractRevert | None:
        """The custom error the token answers ``row``'s registration with now, if any."""
        data = register_merchant_calldata(row, region)
        try:
            self.rpc.eth_call({"from": self.address, "to": token, "data": "0x" + data.hex()})
        except RpcError as exc:
            raw = revert_data_from_rpc_error(
                {"code": exc.code, "message": exc.message, "data": exc.data}
            )
            return decode_revert(raw) if raw is not None else None
        return None


_REGISTER_MERCHANT = selector("registerMerchant")


def register_merchant_calldata(row: MerchantRow, region: int) -> bytes:
    """``registerMerchant`` calldata by hand: five static words, ~10 µs against eth-abi's
    ~0.7 ms, which is a tenth of a 10k-merchant import. Equal to
    :func:`~chain.protocol.calls.encode_register_merchant` (a test compares them)."""
    # The national voucher's shops keep their own region; a city's are the city's.
    shop_region = int(row.legal_dong[:5]) if region == 0 else region
    return b"".join(
        (
            _REGISTER_MERCHANT,
            bytes(12) + parse_address(row.wallet),
            *(v.to_bytes(32, "big") for v in (shop_region, row.category, row.tier, row.market)),
        )
    )
