"""The blocking client: :class:`DongneClient` drives the shared operations with
``httpx.Client``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self, TypeVar, cast

import httpx

from chain.protocol.calls import (
    PaymentRecord,
    Reward,
    encode_cancel_invoice,
    encode_cancel_payment,
    encode_cancel_recovery,
    encode_claim,
    encode_claim_reward,
    encode_create_invoice,
    encode_gift,
    encode_pay_as_employee,
    encode_recover_wallet,
    encode_redeem,
    encode_refund,
    encode_set_employee,
    encode_set_extra_discount,
)
from chain.protocol.forwarder import SignedRequest
from chain.protocol.hashing import ZERO_ADDRESS
from wallet_sdk.client.models import (
    Balances,
    HistoryPage,
    Invoice,
    InvoiceStatus,
    NetworkInfo,
    PaymentSubmission,
    PocketChoice,
    ProgramInfo,
    RequestState,
    SignedPaymentSubmission,
    Submission,
)
from wallet_sdk.client.operations import (
    DEFAULT_DEADLINE_S,
    DEFAULT_GAS,
    ClientBase,
    Op,
    Sleep,
    directory_search,
    invoice_bytes,
    new_invoice_id,
    request_id_of,
    transport_error,
)
from wallet_sdk.client.purchases import PurchaseOrder
from wallet_sdk.client.registry import DirectoryPage, MerchantApplication, MerchantProfile
from wallet_sdk.exceptions.base import TransportError
from wallet_sdk.keys import LocalKey
from wallet_sdk.qr import PaymentRequest

__all__ = ["DongneClient"]

_T = TypeVar("_T")


class DongneClient(ClientBase):
    """Blocking client for one wallet (``key``) against the gateway at ``gateway_url``.

    Thread-safe: calls from several threads pipeline their requests with distinct nonces.
    ``network`` skips the ``/v1/network`` request (e.g. when cached by the app); ``chain_id``
    refuses a gateway serving another chain. ``transport`` is passed to ``httpx.Client``.
    Retryable answers (503 ``Overloaded`` and other unavailable codes, 429 ``RateLimited``,
    transport errors) are retried up to ``retries`` times, never sooner than Retry-After, with
    jittered exponential backoff from ``backoff_s`` capped at ``max_backoff_s``; a submission
    is resent as the same signed request, so it runs at most once.
    """

    def __init__(
        self,
        gateway_url: str,
        key: LocalKey,
        *,
        gas: int = DEFAULT_GAS,
        deadline_s: int = DEFAULT_DEADLINE_S,
        timeout: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        poll_interval_s: float = 0.2,
        network: NetworkInfo | None = None,
        chain_id: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            key,
            gas=gas,
            deadline_s=deadline_s,
            retries=retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            poll_interval_s=poll_interval_s,
            network=network,
            chain_id=chain_id,
        )
        self._http = httpx.Client(base_url=gateway_url, timeout=timeout, transport=transport)

    def _run(self, op: Op[_T]) -> _T:
        try:
            return self._drive(op)
        finally:
            op.close()  # on an interruption, lets the operation give back its nonce

    def _drive(self, op: Op[_T]) -> _T:
        reply: httpx.Response | None = None
        error: TransportError | None = None
        while True:
            effect, result = self._step(op, reply, error)
            reply, error = None, None
            if effect is None:
                return cast(_T, result)
            if isinstance(effect, Sleep):
                time.sleep(effect.seconds)
                continue
            try:
                reply = self._http.request(
                    effect.method,
                    effect.path,
                    params=effect.params,
                    content=effect.body,
                    headers=effect.headers(),
                )
            except httpx.HTTPError as exc:
                error = transport_error(exc)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the wallet's operations (documented on AsyncDongneClient too) ----------------------

    def network(self) -> NetworkInfo:
        """The chain, forwarder domain and tokens (fetched once, then cached)."""
        return self._run(self._ops.network())

    def login(self) -> str:
        """Sign in with the wallet's key (SIWE) to read its own data; reads of balances and
        history do it on first use. Returns the signed-in address."""
        return self._run(self._ops.login())

    def logout(self) -> None:
        """End the session: its tokens stop working at once."""
        self._run(self._ops.logout())

    def next_nonce(self) -> int:
        """The gateway's next nonce for this wallet, counting requests in flight."""
        return self._run(self._ops.next_nonce())

    def prepare(
        self,
        to: str,
        data: bytes,
        *,
        nonce: int | None = None,
        deadline: int | None = None,
        gas: int | None = None,
    ) -> SignedRequest:
        """Sign a request to call ``to`` with ``data`` (without sending it); by default with
        the next nonce of the local counter, which then counts it as used."""
        return self._run(self._ops.prepare(to, data, nonce=nonce, deadline=deadline, gas=gas))

    def submit_signed(self, signed: SignedRequest) -> Submission:
        """Send a signed request as is (no nonce replacement, no pocket retry)."""
        return self._run(self._ops.submit_signed(signed))

    def pay(
        self,
        token: str,
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None = None,
        pockets: PocketChoice = "auto",
    ) -> PaymentSubmission:
        """Pay ``amount`` won to ``merchant``. ``pockets="auto"`` spends program pockets
        soonest-expiring first (as the index reports them), then general balance."""
        return self._run(
            self._ops.pay(token, merchant, amount, payment_id=payment_id, pockets=pockets)
        )

    def pay_signed(
        self,
        token: str,
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None = None,
        program_ids: Sequence[int] = (),
        deadline: int | None = None,
    ) -> SignedPaymentSubmission:
        """Pay ``amount`` won to ``merchant`` with a token-native signed payment
        (``payBySig``): what wallets should use for payments, relayed in a
        ``payBySigBatch`` at about 56k gas a payment against 84k forwarded (README "Signed
        payments"). ``program_ids``: the program pockets to spend first, in order (none:
        general balance). Follow it with ``status``/``wait``; a refusal raises the token's
        typed error (VoucherInvalidPaymentSignature, VoucherInvalidPaymentNonce, ...)."""
        return self._run(
            self._ops.pay_signed(
                token, merchant, amount, payment_id=payment_id, program_ids=program_ids,
                deadline=deadline,
            )
        )  # fmt: skip

    def pay_invoice(
        self, invoice: PaymentRequest, *, amount: int | None = None, pockets: PocketChoice = "auto"
    ) -> PaymentSubmission:
        """Pay a scanned code: an invoice (its id becomes the payment id, and the request
        expires with it) or a merchant's static code with ``amount``."""
        return self._run(self._ops.pay_invoice(invoice, amount=amount, pockets=pockets))

    def gift(self, token: str, to: str, amount: int) -> Submission:
        return self._run(self._ops.send(token, encode_gift(to, amount)))

    def claim(
        self, token: str, program_id: int, index: int, amount: int, proof: Sequence[bytes | str]
    ) -> Submission:
        """Pull one's own grant (leaf ``index`` of the program's list) into its pocket."""
        data = encode_claim(program_id, index, amount, proof)
        return self._run(self._ops.send(token, data))

    def claim_and_pay(
        self,
        token: str,
        program_id: int,
        index: int,
        grant_amount: int,
        proof: Sequence[bytes | str],
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None = None,
        pockets: PocketChoice = "auto",
    ) -> PaymentSubmission:
        """Pull a grant and pay with it in one request (the grant's pocket is included)."""
        return self._run(
            self._ops.claim_and_pay(
                token,
                program_id,
                index,
                grant_amount,
                proof,
                merchant,
                amount,
                payment_id=payment_id,
                pockets=pockets,
            )
        )

    def redeem(self, token: str, amount: int, ref: bytes | str) -> Submission:
        """Merchant: burn general balance for cash; ``ref`` (32 bytes) names the settlement."""
        return self._run(self._ops.send(token, encode_redeem(amount, ref)))

    def cancel_payment(
        self, token: str, record: PaymentRecord, amount: int | None = None
    ) -> Submission:
        """Merchant: cancel ``amount`` of a recorded payment (default: all that is left); the
        payer gets that part back. Partial cancellations may repeat up to the whole amount;
        ``record.cancelled`` must be what was cancelled before (the history entry has it)."""
        return self._run(self._ops.send(token, encode_cancel_payment(record, amount)))

    def pay_through_platform(
        self,
        token: str,
        platform: str,
        shop: str,
        amount: int,
        *,
        payment_id: bytes | str | None = None,
        pockets: PocketChoice = "auto",
    ) -> PaymentSubmission:
        """Pay ``shop`` through a platform (a delivery app), which keeps its brokerage."""
        return self._run(
            self._ops.pay_through_platform(
                token, platform, shop, amount, payment_id=payment_id, pockets=pockets
            )
        )

    def payment_requests(
        self, status: InvoiceStatus | None = None, *, token: str | None = None
    ) -> tuple[Invoice, ...]:
        """Remote payment requests merchants addressed to this wallet."""
        return self._run(self._ops.payment_requests(status, token))

    def pay_request(
        self, request: Invoice, *, amount: int | None = None, pockets: PocketChoice = "auto"
    ) -> PaymentSubmission:
        """Pay a remote payment request; its id makes it payable once."""
        return self._run(self._ops.pay_request(request, amount=amount, pockets=pockets))

    def create_invoice(
        self,
        token: str,
        *,
        invoice_id: bytes | str | None = None,
        payer: str | None = None,
        amount: int = 0,
        expiry: int = 0,
    ) -> tuple[Submission, bytes]:
        """Merchant: open a single-use invoice (``payer`` set: a remote payment request).
        Returns the submission and the invoice id (random unless given)."""
        iid = new_invoice_id() if invoice_id is None else invoice_bytes(invoice_id)
        data = encode_create_invoice(iid, payer or ZERO_ADDRESS, amount, expiry)
        return self._run(self._ops.send(token, data)), iid

    def cancel_invoice(self, token: str, invoice_id: bytes | str) -> Submission:
        return self._run(self._ops.send(token, encode_cancel_invoice(invoice_id)))

    def invoices(
        self, status: InvoiceStatus | None = None, *, token: str | None = None
    ) -> tuple[Invoice, ...]:
        """Merchant: its own invoices and payment requests."""
        return self._run(self._ops.invoices(status, token))

    def set_extra_discount(self, token: str, extra_bps: int) -> Submission:
        """Merchant: a discount it funds itself on every payment (0 ends it)."""
        return self._run(self._ops.send(token, encode_set_extra_discount(extra_bps)))

    def set_employee(self, token: str, employee: str, monthly_limit: int) -> Submission:
        """Institution: let ``employee`` spend its balance up to ``monthly_limit`` a month."""
        return self._run(self._ops.send(token, encode_set_employee(employee, monthly_limit)))

    def pay_as_employee(
        self,
        token: str,
        institution: str,
        merchant: str,
        amount: int,
        *,
        payment_id: bytes | str | None = None,
    ) -> Submission:
        """Employee: pay from the institution's balance, within one's own monthly limit."""
        pid = bytes(32) if payment_id is None else invoice_bytes(payment_id)
        data = encode_pay_as_employee(institution, merchant, amount, pid)
        return self._run(self._ops.send(token, data))

    def claim_reward(
        self, token: str, program_id: int, reward: Reward, signature: bytes
    ) -> Submission:
        """Claim a reward the city's reward service signed (walking points, a prize)."""
        data = encode_claim_reward(program_id, reward, signature)
        return self._run(self._ops.send(token, data))

    def recover_wallet(self, token: str, lost: str, program_ids: Sequence[int] = ()) -> Submission:
        """Move a finalised recovery's money (and the named pockets) to the new wallet."""
        return self._run(self._ops.send(token, encode_recover_wallet(lost, program_ids)))

    def cancel_recovery(self) -> Submission:
        """Veto a recovery of this wallet that its owner did not ask for (relayed to the
        identity registry even though the recovery froze the wallet)."""
        registry = self.network().registry
        return self._run(self._ops.send(registry, encode_cancel_recovery(self.address)))

    def refund(self, token: str) -> Submission:
        """Cash refund of the remaining purchased balance (once enough of it is spent)."""
        return self._run(self._ops.send(token, encode_refund()))

    def balances(self, token: str | None = None) -> Balances:
        return self._run(self._ops.balances(token))

    def history(
        self, cursor: str | None = None, limit: int = 50, *, token: str | None = None
    ) -> HistoryPage:
        return self._run(self._ops.history(cursor, limit, token))

    def apply_as_merchant(self, token: str, profile: MerchantApplication) -> MerchantProfile:
        """Apply to be a merchant of ``token``'s municipality with this wallet."""
        return self._run(self._ops.apply_as_merchant(token, profile))

    def merchant_application(self, token: str) -> MerchantProfile:
        """This wallet's merchant profile in ``token``'s municipality and its state."""
        return self._run(self._ops.merchant_application(token))

    def directory(
        self,
        token: str,
        *,
        q: str | None = None,
        category: int | None = None,
        dong: str | None = None,
        near: tuple[float, float] | None = None,
        radius_m: int | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> DirectoryPage:
        """Registered, active shops (public fields only): by name, or by distance ``near``
        (lat, lng); pass ``next_cursor`` back as ``cursor`` for the next page."""
        search = directory_search(q, category, dong, near, radius_m, cursor, limit)
        return self._run(self._ops.directory(token, search))

    def program(self, token: str, program_id: int) -> ProgramInfo:
        return self._run(self._ops.program(token, program_id))

    def status(self, request: str | Submission | SignedPaymentSubmission) -> RequestState:
        return self._run(self._ops.status(request_id_of(request)))

    def wait(
        self, request: str | Submission | SignedPaymentSubmission, timeout: float = 60.0
    ) -> RequestState:
        """The request's final state once it succeeded; if it failed, raises its typed
        exception (e.g. VoucherInsufficientBalance); WaitTimeoutError after ``timeout``."""
        return self._run(self._ops.wait(request_id_of(request), timeout))

    # -- in-app purchases --------------------------------------------------------------------

    def buy(self, token: str, face: int, *, idempotency_key: str | None = None) -> PurchaseOrder:
        """Orders ``face`` won of ``token``'s vouchers at the city's discount: the order names
        the virtual account to pay ``price`` into. The caps are checked first (e.g.
        VoucherMonthlyPurchaseCapExceeded); pass ``idempotency_key`` to retry safely."""
        return self._run(self._ops.buy(token, face, idempotency_key))

    def purchase_order(self, order_id: str) -> PurchaseOrder:
        return self._run(self._ops.purchase_order(order_id))

    def purchase_orders(
        self, token: str | None = None, limit: int = 50
    ) -> tuple[PurchaseOrder, ...]:
        """This wallet's purchase orders, newest first."""
        return self._run(self._ops.purchase_orders(token, limit))

    def cancel_purchase(self, order: str | PurchaseOrder) -> PurchaseOrder:
        """Gives up an order not paid yet (PurchaseOrderState once paid)."""
        order_id = order if isinstance(order, str) else order.id
        return self._run(self._ops.cancel_purchase(order_id))

    def wait_purchase(self, order: str | PurchaseOrder, timeout: float = 120.0) -> PurchaseOrder:
        """The order once its vouchers are issued on chain; if it ended otherwise (refunded,
        expired, cancelled), raises its typed exception; WaitTimeoutError after ``timeout``."""
        order_id = order if isinstance(order, str) else order.id
        return self._run(self._ops.wait_purchase(order_id, timeout))
