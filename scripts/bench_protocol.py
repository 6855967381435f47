"""Benchmark of signed-request verification: chain.protocol.forwarder against eth-account's
generic path.

Usage: ``python scripts/bench_protocol.py [--seconds 2]``

Measures, in one process and on one core, how many forward requests per second get their
EIP-712 digest computed and their signer recovered (what the relayer does for every request),
and the same through eth-account's ``encode_typed_data`` + ``Account.recover_message``. Signing
rates are reported too. The last line is JSON for the benchmark collector.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence

from eth_account import Account
from eth_account.messages import encode_typed_data

from chain.protocol.calls import encode_pay
from chain.protocol.forwarder import (
    ForwarderDomain,
    ForwardRequest,
    SignedRequest,
    recover_signer,
    sign_request,
    typed_data,
)
from chain.protocol.merkle import KECCAK_BACKEND

# anvil's first well-known development key.
KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
DOMAIN = ForwarderDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
MERCHANT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def rate(work: Callable[[int], object], count: int, seconds: float) -> float:
    """Calls of ``work(i)`` per second, over at least ``seconds`` (after one warm-up pass)."""
    for i in range(min(count, 50)):
        work(i)
    done = 0
    start = time.perf_counter()
    while True:
        for i in range(count):
            work(i)
        done += count
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def make_requests(n: int) -> list[ForwardRequest]:
    sender = Account.from_key(KEY).address
    return [
        ForwardRequest(
            from_=sender,
            to=TOKEN,
            value=0,
            gas=300_000,
            nonce=i,
            deadline=1_767_225_600,
            data=encode_pay(MERCHANT, 1_000 + i, i.to_bytes(32, "big"), [1]),
        )
        for i in range(n)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="forward request digest+recover benchmark")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args(argv)

    requests = make_requests(500)
    signed = [sign_request(KEY, DOMAIN, r) for r in requests]
    messages = [typed_data(DOMAIN, r) for r in requests]

    ours = rate(lambda i: recover_signer(DOMAIN, signed[i]), len(signed), args.seconds)

    def eth_account_recover(i: int) -> object:
        signable = encode_typed_data(full_message=messages[i])
        return Account.recover_message(signable, signature=signed[i].signature)

    # The generic path is ~10x slower: a tenth of the requests gives as many timing samples.
    few = len(signed) // 10
    baseline = rate(eth_account_recover, few, args.seconds)

    ours_sign = rate(lambda i: sign_request(KEY, DOMAIN, requests[i]), len(requests), args.seconds)
    baseline_sign = rate(
        lambda i: Account.sign_typed_data(KEY, full_message=messages[i]), few, args.seconds
    )

    # Both paths must agree, or the comparison is meaningless.
    check: SignedRequest = signed[7]
    reference = Account.sign_typed_data(KEY, full_message=messages[7])
    if bytes(reference.signature) != check.signature:
        raise SystemExit("chain.protocol.forwarder and eth-account disagree on a signature")

    print(f"keccak backend: {KECCAK_BACKEND}")
    print(f"digest+recover: {ours:,.0f}/s (eth-account {baseline:,.0f}/s)")
    print(f"sign:           {ours_sign:,.0f}/s (eth-account {baseline_sign:,.0f}/s)")
    result = {
        "name": "protocol",
        "metrics": {
            "digest_recover_per_s": round(ours, 1),
            "sign_per_s": round(ours_sign, 1),
        },
        "baselines": {
            "eth_account_per_s": round(baseline, 1),
            "eth_account_sign_per_s": round(baseline_sign, 1),
        },
        "ratios": {
            "vs_eth_account": round(ours / baseline, 2),
            "sign_vs_eth_account": round(ours_sign / baseline_sign, 2),
        },
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
