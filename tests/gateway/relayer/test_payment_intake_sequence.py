"""PaymentIntake.expected against the nonce book: a sequence read before the intake's lock
never moves the payer's next payment sequence backwards (review of branch sigwire, finding 4)."""

from __future__ import annotations

import asyncio
from typing import cast

from gateway.relayer.intake import Intake, NonceBook
from gateway.relayer.payment_intake import PaymentIntake, payment_key

TOKEN = "0x" + "11" * 20
PAYER = "0x" + "22" * 20


class _Holder:
    """The one part of an Intake that ``expected`` reads for a payer this replica relays,
    given the sequence already read (no chain is asked)."""

    def __init__(self) -> None:
        self.nonces = NonceBook()


async def _expected(book_next: int, read: int) -> int:
    holder = _Holder()
    holder.nonces.see(payment_key(TOKEN, PAYER), book_next)
    payments = PaymentIntake(cast(Intake, holder))

    async def stale() -> int:
        return read

    return await payments.expected(TOKEN, PAYER, held=True, seq=asyncio.create_task(stale()))


def test_a_sequence_read_before_a_settled_batch_does_not_move_it_back() -> None:
    # The batcher saw sequence 5 (a batch settled); the read asked before the lock said 3.
    assert asyncio.run(_expected(5, 3)) == 5


def test_a_newer_read_moves_it_forward() -> None:
    # A payment made directly moved the sequence past what memory holds.
    assert asyncio.run(_expected(2, 4)) == 4
