"""A small synchronous JSON-RPC client for the hot paths (relayer, indexer, node readiness).

web3.py's sync provider costs ~5 ms a call; a raw ``httpx.Client`` with keep-alive costs ~0.8 ms
against a local node, which decides whether the relayer keeps up with a busy afternoon. Only
standard ``eth_*`` methods are wrapped here so the same code runs against anvil in CI and a
Besu/QBFT network in production; node-specific methods (``evm_*``, ``anvil_*``) stay in
``chain.node``.

Errors: a JSON-RPC error object becomes :class:`RpcError` (with ``code``, ``message``, ``data``);
anything that means "the node did not answer" becomes :class:`NodeUnavailableError`, which the
gateway maps to a retryable 503.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Self, TypeAlias

import httpx

from chain.protocol.errors import DongneChainError

__all__ = [
    "JSONObject",
    "JSONValue",
    "NodeUnavailableError",
    "RpcClient",
    "RpcError",
    "RpcObserver",
    "results_in_order",
]

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None
JSONObject: TypeAlias = dict[str, JSONValue]

# Told of every call once it is answered: (method, seconds of its round trip, the error or None).
# The gateway plugs its Prometheus metrics in here; chain/ itself knows nothing of them (floor 1
# never imports gateway). A call in a batch reports the whole batch's round trip.
RpcObserver: TypeAlias = Callable[[str, float, BaseException | None], None]

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class RpcError(DongneChainError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str, data: JSONValue = None) -> None:
        self.method = method
        self.code = code
        self.message = message
        self.data = data
        detail = f" (data: {data!r})" if data is not None else ""
        super().__init__(f"{method} failed with JSON-RPC error {code}: {message}{detail}")


class NodeUnavailableError(DongneChainError, ConnectionError):
    """The node could not be reached or did not answer with JSON-RPC."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"node at {url} is unavailable: {reason}")


class RpcClient:
    """JSON-RPC over one keep-alive HTTP connection pool; safe to share between threads."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        trust_env: bool = False,
        observer: RpcObserver | None = None,
    ) -> None:
        self.url = url
        self.observer = observer
        self._ids = itertools.count(1)
        # trust_env=False by default: an HTTP_PROXY meant for the internet must not capture the
        # node's private or loopback address.
        self._http = httpx.Client(timeout=timeout, headers=_HEADERS, trust_env=trust_env)

    # -- transport -------------------------------------------------------------------------

    def call(self, method: str, params: Sequence[object] = ()) -> JSONValue:
        """Call one method and return its ``result``; raises :class:`RpcError` on error."""
        request_id = next(self._ids)
        request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
        started = time.perf_counter()
        try:
            reply = self._post(request)
            if not isinstance(reply, dict):
                raise NodeUnavailableError(self.url, f"expected a JSON object, got {reply!r:.200}")
            result = result_of(method, reply, self.url)
        except (RpcError, NodeUnavailableError) as exc:
            self._observe((method,), started, exc)
            raise
        self._observe((method,), started, None)
        return result

    def batch(self, calls: Iterable[tuple[str, Sequence[object]]]) -> list[JSONValue]:
        """Send several calls in one HTTP request; results come back in the order of ``calls``.

        Raises the :class:`RpcError` of the first failed call (in ``calls`` order).
        """
        requests = [
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
            for method, params in calls
        ]
        if not requests:
            return []
        methods = [str(r["method"]) for r in requests]
        started = time.perf_counter()
        try:
            replies = self._post(requests)
            if not isinstance(replies, list):
                # Some servers answer a malformed batch with a single error object.
                if isinstance(replies, dict) and "error" in replies:
                    result_of("batch", replies, self.url)
                raise NodeUnavailableError(self.url, f"expected a JSON array, got {replies!r:.200}")
        except (RpcError, NodeUnavailableError) as exc:
            self._observe(methods, started, exc)
            raise
        # The spec lets servers answer a batch in any order, so match replies by id.
        by_id: dict[object, JSONObject] = {
            reply.get("id"): reply for reply in replies if isinstance(reply, dict)
        }
        return results_in_order(
            methods,
            [by_id.get(r["id"]) for r in requests],
            self.url,
            lambda method, error: self._observe((method,), started, error),
        )

    def close(self) -> None:
        self._http.close()

    def _observe(self, methods: Iterable[str], started: float, error: BaseException | None) -> None:
        if self.observer is not None:
            seconds = time.perf_counter() - started
            for method in methods:
                self.observer(method, seconds, error)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _post(self, payload: object) -> JSONValue:
        body = json.dumps(payload, separators=(",", ":")).encode()
        try:
            response = self._http.post(self.url, content=body)
        except httpx.TransportError as exc:
            raise NodeUnavailableError(self.url, f"{type(exc).__name__}: {exc}") from exc
        try:
            decoded: JSONValue = json.loads(response.content)
        except ValueError:
            # Proxies in front of Besu answer 502/503 with HTML; that is "unavailable", not an
            # RPC error the caller could act on.
            raise NodeUnavailableError(
                self.url, f"HTTP {response.status_code}, body is not JSON: {response.text[:200]!r}"
            ) from None
        if response.status_code >= 500 and not _carries_rpc_error(decoded):
            raise NodeUnavailableError(self.url, f"HTTP {response.status_code}")
        return decoded

    # -- standard eth_* helpers -------------------------------------------------------------

    def chain_id(self) -> int:
        return _quantity("eth_chainId", self.call("eth_chainId"))

    def block_number(self) -> int:
        return _quantity("eth_blockNumber", self.call("eth_blockNumber"))

    def get_code(self, address: str, block: str | int = "latest") -> bytes:
        return _data("eth_getCode", self.call("eth_getCode", [address, _block_tag(block)]))

    def get_balance(self, address: str, block: str | int = "latest") -> int:
        return _quantity(
            "eth_getBalance", self.call("eth_getBalance", [address, _block_tag(block)])
        )

    def get_transaction_count(self, address: str, block: str | int = "latest") -> int:
        """The account nonce; pass ``"pending"`` to count transactions still in the pool."""
        return _quantity(
            "eth_getTransactionCount",
            self.call("eth_getTransactionCount", [address, _block_tag(block)]),
        )

    def send_raw_transaction(self, raw: bytes | str) -> str:
        """Submit a signed transaction and return its hash as ``0x``-hex."""
        raw_hex = raw if isinstance(raw, str) else "0x" + raw.hex()
        return _string("eth_sendRawTransaction", self.call("eth_sendRawTransaction", [raw_hex]))

    def get_receipt(self, tx_hash: str) -> JSONObject | None:
        """The receipt, or ``None`` while the transaction is pending or unknown."""
        receipt = self.call("eth_getTransactionReceipt", [tx_hash])
        return None if receipt is None else _object("eth_getTransactionReceipt", receipt)

    def get_block(self, block: str | int = "latest", *, full: bool = False) -> JSONObject | None:
        block_obj = self.call("eth_getBlockByNumber", [_block_tag(block), full])
        return None if block_obj is None else _object("eth_getBlockByNumber", block_obj)

    def eth_call(self, tx: Mapping[str, object], block: str | int = "latest") -> bytes:
        """Execute ``tx`` without sending it; reverts surface as :class:`RpcError` with data."""
        return _data("eth_call", self.call("eth_call", [dict(tx), _block_tag(block)]))

    def get_logs(self, log_filter: Mapping[str, object]) -> list[JSONObject]:
        logs = self.call("eth_getLogs", [dict(log_filter)])
        if not isinstance(logs, list):
            raise NodeUnavailableError(self.url, f"eth_getLogs returned {logs!r:.200}")
        return [_object("eth_getLogs", entry) for entry in logs]


def result_of(method: str, reply: Mapping[str, object], url: str = "?") -> JSONValue:
    """The one reply parser of both clients (this one and :mod:`chain.rpc_async`): a JSON-RPC
    reply's ``result``, its ``error`` as :class:`RpcError`, anything else unavailable."""
    error = reply.get("error")
    if error is not None:
        if isinstance(error, dict):
            code = error.get("code")
            raise RpcError(
                method,
                code if isinstance(code, int) else -32603,
                str(error.get("message", "")),
                error.get("data"),
            )
        raise RpcError(method, -32603, str(error))
    if "result" not in reply:
        raise NodeUnavailableError(url, f"no result for {method}")
    result: JSONValue = reply["result"]  # type: ignore[assignment]
    return result


def results_in_order(
    methods: Sequence[str],
    replies: Sequence[Mapping[str, object] | None],
    url: str,
    observe: Callable[[str, BaseException | None], None],
) -> list[JSONValue]:
    """A batch's results in call order (both clients' batches): each call is observed with its
    own outcome, then the first failed call's error is raised."""
    results: list[JSONValue] = []
    first_error: RpcError | NodeUnavailableError | None = None
    for method, reply in zip(methods, replies, strict=True):
        try:
            if reply is None:
                raise NodeUnavailableError(url, f"no reply to {method} in a batch")
            results.append(result_of(method, reply, url))
        except (RpcError, NodeUnavailableError) as exc:
            observe(method, exc)
            first_error = first_error or exc
        else:
            observe(method, None)
    if first_error is not None:
        raise first_error
    return results


def _carries_rpc_error(decoded: JSONValue) -> bool:
    return (isinstance(decoded, dict) and "error" in decoded) or isinstance(decoded, list)


def _block_tag(block: str | int) -> str:
    return hex(block) if isinstance(block, int) else block


def _quantity(method: str, value: JSONValue) -> int:
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    raise RpcError(method, -32603, f"expected a hex quantity, got {value!r:.100}")


def _data(method: str, value: JSONValue) -> bytes:
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:])
    raise RpcError(method, -32603, f"expected hex data, got {value!r:.100}")


def _string(method: str, value: JSONValue) -> str:
    if isinstance(value, str):
        return value
    raise RpcError(method, -32603, f"expected a string, got {value!r:.100}")


def _object(method: str, value: JSONValue) -> JSONObject:
    if isinstance(value, dict):
        return value
    raise RpcError(method, -32603, f"expected an object, got {value!r:.100}")
