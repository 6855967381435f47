"""chain.protocol.signed_payments off chain: the derived type, signing and recovery (EIP-2098),
calldata and JSON round trips. Against the chain: tests/chain/test_onchain.py."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from chain.protocol.forwarder import InvalidSignatureError, RequestFormatError
from chain.protocol.signed_payments import (
    SIGNED_PAYMENT_TYPE,
    PaymentSignature,
    SignedPayment,
    decode_pay_by_sig,
    encode_pay_by_sig,
    payment_digest,
    payment_from_json,
    payment_request_id,
    payment_to_json,
    recover_payer,
    sign_payment,
    token_domain,
    verify_payment,
)

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PAYER = Account.from_key(KEY).address
TOKEN = "0x" + "ab" * 20
DOMAIN = token_domain(31337, TOKEN)
PAYMENT = SignedPayment(PAYER, "0x" + "12" * 20, 1_000, bytes(range(32)), (1, 2**200), 7, 10**10)
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_type_is_the_contracts() -> None:
    # The one place the type is spelled out by hand: what IVoucherTypes.sol declares.
    assert SIGNED_PAYMENT_TYPE == (
        "SignedPayment(address payer,address merchant,uint256 amount,bytes32 paymentId,"
        "uint256[] programIds,uint256 nonce,uint256 deadline)"
    )


def test_digest_matches_eth_account_typed_data() -> None:
    message = {
        "payer": PAYMENT.payer, "merchant": PAYMENT.merchant, "amount": PAYMENT.amount,
        "paymentId": PAYMENT.payment_id, "programIds": list(PAYMENT.program_ids),
        "nonce": PAYMENT.nonce, "deadline": PAYMENT.deadline,
    }  # fmt: skip
    fields = [
        {"name": part.split(" ")[1], "type": part.split(" ")[0]}
        for part in SIGNED_PAYMENT_TYPE[len("SignedPayment(") : -1].split(",")
    ]
    signable = encode_typed_data(DOMAIN.as_dict(), {"SignedPayment": fields}, message)
    expected = Account.sign_message(signable, KEY)
    signature = sign_payment(KEY, DOMAIN, PAYMENT)
    assert signature.r == expected.r.to_bytes(32, "big")
    vs = expected.s | (expected.v - 27) << 255
    assert signature.vs == vs.to_bytes(32, "big")
    assert len(payment_digest(DOMAIN, PAYMENT)) == 32


def test_sign_recover_and_tamper() -> None:
    signature = sign_payment(KEY, DOMAIN, PAYMENT)
    assert verify_payment(DOMAIN, PAYMENT, signature) == PAYER
    for change in ({"amount": 1_001}, {"nonce": 8}, {"program_ids": (1,)}):
        tampered = replace(PAYMENT, **change)
        assert recover_payer(DOMAIN, tampered, signature) != PAYER
        with pytest.raises(InvalidSignatureError) as info:
            verify_payment(DOMAIN, tampered, signature)
        assert info.value.reason == "signer_mismatch"
    other = token_domain(31337, "0x" + "cd" * 20)
    assert recover_payer(other, PAYMENT, signature) != PAYER


def test_high_s_and_wrong_key_are_refused() -> None:
    signature = sign_payment(KEY, DOMAIN, PAYMENT)
    # The twin (n - s) does not fit in vs's 255 bits; an s above n/2 that does is refused.
    v = int.from_bytes(signature.vs, "big") >> 255
    twin = PaymentSignature(signature.r, ((_N // 2 + 1) | v << 255).to_bytes(32, "big"))
    with pytest.raises(InvalidSignatureError) as info:
        recover_payer(DOMAIN, PAYMENT, twin)
    assert info.value.reason == "high_s"
    with pytest.raises(InvalidSignatureError) as info:
        sign_payment(secrets.token_bytes(32), DOMAIN, PAYMENT)
    assert info.value.reason == "wrong_key"


def test_calldata_and_json_round_trip() -> None:
    signature = sign_payment(KEY, DOMAIN, PAYMENT)
    assert decode_pay_by_sig(encode_pay_by_sig(PAYMENT, signature)) == (PAYMENT, signature)
    token, payment, parsed = payment_from_json(payment_to_json(TOKEN, PAYMENT, signature))
    assert (token.lower(), payment, parsed) == (TOKEN, PAYMENT, signature)
    assert payment_request_id(DOMAIN, PAYMENT, signature) == payment_request_id(
        DOMAIN, payment, parsed
    )


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"amount": "-1"}, "amount"),
        ({"paymentId": "0x00"}, "paymentId"),
        ({"programIds": "1"}, "programIds"),
        ({"signature": {"r": "0x00"}}, "signature"),
        ({"extra": 1}, "extra"),
        ({"payer": "0x1234"}, "payer"),
    ],
)
def test_json_rejects_malformed_fields(change: dict[str, object], field_name: str) -> None:
    body = payment_to_json(TOKEN, PAYMENT, sign_payment(KEY, DOMAIN, PAYMENT)) | change
    with pytest.raises(RequestFormatError) as info:
        payment_from_json(body)
    assert info.value.field_name == field_name
