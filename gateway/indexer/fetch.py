"""Reads one range of blocks from the node: headers, the network's logs, block times.

A range may be asked in several ``eth_getLogs`` requests. The hashes of each request's first
and last blocks are read *before* its logs. If a reorg lands while the range is read, the
stored checkpoint then carries a hash the chain no longer has, and the next sync walks back and
indexes again; read after the logs, the checkpoint could carry the new fork's hash over logs of
the old one, and the mismatch would go unnoticed. Logs whose block hash differs from a header
read in the same request abort the range; the follower checks that each request's first block
follows the block written before it (its header's parent), so two requests of one range never
mix forks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from chain.rpc import RpcClient
from gateway.indexer.decode import (
    MUNICIPALITY_DEPLOYED_TOPIC,
    DecodedEvent,
    EventDecoder,
    RawLog,
)
from gateway.indexer.store import REORG_WINDOW, BlockRef

__all__ = ["ChainMovedError", "FetchedRange", "Header", "RangeFetcher"]


class ChainMovedError(Exception):
    """The chain changed while a range was read; the next sync sorts it out."""


@dataclass(frozen=True, slots=True)
class Header:
    hash: str
    parent: str
    timestamp: int


@dataclass(slots=True)
class FetchedRange:
    """Blocks ``first``..``last`` read and decoded: everything needed to write them.

    A range is asked in one or more requests and each answer cut into parts after a block with
    logs (see ``RangeFetcher.fetch``), so that writing starts while the rest is read and
    decoded. A part carries its own logs' count, the tokens its request found
    (``new_tokens``), the range's last block (``range_last``), and, on the range's last part,
    the range's size: ``span`` blocks, ``range_logs`` logs (``span`` is 0 on other parts).
    """

    first: int
    last: int
    head: int
    headers: dict[int, Header]  # the headers read for blocks first..last
    range_last: int = 0
    blocks: dict[str, tuple[int, int]] = field(default_factory=dict)  # hash -> (number, time)
    new_tokens: list[str] = field(default_factory=list)
    events: list[DecodedEvent] = field(default_factory=list)
    log_count: int = 0
    span: int = 0
    range_logs: int = 0
    end_hash: str = ""

    @property
    def end(self) -> BlockRef:
        return BlockRef(self.last, self.end_hash)

    @property
    def hashes(self) -> dict[int, str]:
        """Block hashes to keep for reorg detection: every header read, every block with logs."""
        kept = {number: header.hash for number, header in self.headers.items()}
        kept.update((number, block_hash) for block_hash, (number, _) in self.blocks.items())
        return kept


Emit = Callable[[FetchedRange], None]


class RangeFetcher:
    """Fetches ranges of the forwarder's, registry's, factory's and tokens' logs, decoded.

    Decoding happens here, in the fetching thread, so that the writing thread's database work
    (which releases the GIL) overlaps with it.
    """

    def __init__(
        self,
        rpc: RpcClient,
        decoder: EventDecoder,
        network: Sequence[str],
        factory: str,
        part_logs: int = 5_000,
    ) -> None:
        self.rpc = rpc
        self.decoder = decoder
        self._network = [address.lower() for address in network]
        self._factory = factory.lower()
        self.part_logs = max(1, part_logs)

    def fetch(
        self,
        first: int,
        last: int,
        head: int,
        tokens: Sequence[str],
        emit: Emit,
        split: bool = True,
    ) -> None:
        """Reads blocks ``first``..``last`` and hands them to ``emit`` decoded, in parts, in
        chain order.

        With ``split`` (a span sized from quiet ranges) the first request asks a quarter of the
        range: after a quiet stretch a range is large, and if its blocks turn busy the writer
        waits for a quarter of it rather than all of it. The next requests are sized from the
        answers' density (the rest in one request if it was quiet). Each answer is handed over
        as its own parts (see ``_answer``).
        """
        tokens = list(tokens)  # tokens found in one request are asked in the next ones
        span = last - first + 1
        start, step, logs = first, max(1, span // 4) if split else span, 0
        while start <= last:
            end = min(last, start + step - 1)
            quarter = split and start == first  # the range's first part: cut small
            count, found, final = self._answer(start, end, head, tokens, last, quarter, emit)
            tokens.extend(found)
            logs += count
            if end == last:  # the range's last part: its size, for the next ranges' spans
                final.span, final.range_logs = last - first + 1, logs
            emit(final)
            step = max(1, (end - start + 1) * self.part_logs // max(count, 1))
            start = end + 1

    def _answer(
        self,
        first: int,
        last: int,
        head: int,
        tokens: Sequence[str],
        range_last: int,
        quarter: bool,
        emit: Emit,
    ) -> tuple[int, list[str], FetchedRange]:
        """One ``eth_getLogs`` request, handed to ``emit`` in parts: a part ends after a block
        with logs once it holds ``part_logs`` logs (a block is never split), the last part at
        ``last``. With ``quarter`` the first part is cut at a quarter of that, so the writer
        waits for a quarter's decoding only; the others are larger, as each part costs a commit
        (and SQLite's WAL writes the pages a commit touched again at each commit). Returns the
        answer's log count, the tokens it found and its last part, not yet handed over."""
        # Near the head every block's hash is kept, so a walk back finds the exact ancestor.
        wanted = {first, last, *range(max(first, head - REORG_WINDOW + 1), last + 1)}
        headers = self.headers(wanted)
        logs, new_tokens = self._logs(first, last, tokens)
        blocks = self._blocks(logs, headers)
        decode = self.decoder.decode
        part = FetchedRange(first, last, head, {}, range_last, new_tokens=new_tokens)
        in_part, cut_at = 0, max(1, self.part_logs // 4) if quarter else self.part_logs
        previous, number, stamp = "", 0, 0
        for entry in logs:
            block_hash = entry["blockHash"]
            if block_hash != previous:
                if in_part >= cut_at:  # cut after the previous block, as one follows
                    part.last, part.end_hash, part.log_count = number, previous, in_part
                    emit(self._close(part, headers))
                    part = FetchedRange(number + 1, last, head, {}, range_last)
                    in_part, cut_at = 0, self.part_logs
                previous = block_hash
                number, stamp = blocks[block_hash]
                part.blocks[block_hash] = (number, stamp)
            event = decode(entry, number, stamp)
            if event is not None:
                part.events.append(event)
            in_part += 1
        part.end_hash, part.log_count = headers[last].hash, in_part
        return len(logs), new_tokens, self._close(part, headers)

    @staticmethod
    def _close(part: FetchedRange, headers: dict[int, Header]) -> FetchedRange:
        part.headers = {n: h for n, h in headers.items() if part.first <= n <= part.last}
        return part

    def _logs(self, first: int, last: int, tokens: Sequence[str]) -> tuple[list[RawLog], list[str]]:
        """The range's logs in chain order, including those of tokens deployed inside it."""
        logs = self._get_logs(first, last, [*self._network, *tokens])
        known = set(tokens)
        found: list[str] = []
        while True:
            new: dict[str, int] = {}
            for entry in logs:
                topics = entry["topics"]
                if (
                    topics
                    and topics[0] == MUNICIPALITY_DEPLOYED_TOPIC
                    and entry["address"].lower() == self._factory
                ):
                    token = "0x" + topics[2][-40:]
                    if token not in known:
                        new.setdefault(token, int(entry["blockNumber"], 16))
            if not new:
                return logs, found
            # The rest of the range must be read for the new tokens too.
            known.update(new)
            found.extend(new)
            logs = logs + self._get_logs(min(new.values()), last, list(new))
            logs.sort(key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16)))

    def _get_logs(self, first: int, last: int, addresses: list[str]) -> list[RawLog]:
        query = {"fromBlock": hex(first), "toBlock": hex(last), "address": addresses}
        logs = cast(list[RawLog], self.rpc.get_logs(query))
        return [entry for entry in logs if not entry.get("removed")]

    def _blocks(self, logs: list[RawLog], headers: dict[int, Header]) -> dict[str, tuple[int, int]]:
        """Number and time of every block with logs (hash -> (number, time)); times from the
        logs where the node includes them (``blockTimestamp``), else from headers."""
        blocks: dict[str, tuple[int, int]] = {}
        missing: dict[str, int] = {}
        previous = ""
        for entry in logs:
            block_hash = entry["blockHash"]
            if block_hash == previous:
                continue  # logs come grouped by block
            previous = block_hash
            number = int(entry["blockNumber"], 16)
            header = headers.get(number)
            if header is not None and header.hash != block_hash:
                raise ChainMovedError(f"block {number} changed while its logs were read")
            stamp = entry.get("blockTimestamp")
            if header is not None:
                blocks[block_hash] = (number, header.timestamp)
            elif stamp is not None:
                blocks[block_hash] = (number, int(stamp, 16))
            else:
                missing[block_hash] = number
        if missing:
            read = self.headers(missing.values())
            for block_hash, number in missing.items():
                if read[number].hash != block_hash:
                    raise ChainMovedError(f"block {number} changed while its logs were read")
                blocks[block_hash] = (number, read[number].timestamp)
        if len({number for number, _ in blocks.values()}) != len(blocks):
            raise ChainMovedError("two forks' logs in one answer")
        return blocks

    def headers(self, numbers: Iterable[int]) -> dict[int, Header]:
        """Headers by number, in one batch; a missing block means the chain moved."""
        ordered = sorted(set(numbers))
        replies = self.rpc.batch(("eth_getBlockByNumber", [hex(n), False]) for n in ordered)
        headers: dict[int, Header] = {}
        for number, reply in zip(ordered, replies, strict=True):
            if not isinstance(reply, dict):
                raise ChainMovedError(f"block {number} is gone")
            headers[number] = Header(
                str(reply["hash"]), str(reply["parentHash"]), int(str(reply["timestamp"]), 16)
            )
        return headers

    def hashes(self, numbers: Iterable[int]) -> dict[int, str]:
        """The chain's current hash of each block that exists."""
        ordered = sorted(set(numbers))
        replies = self.rpc.batch(("eth_getBlockByNumber", [hex(n), False]) for n in ordered)
        return {
            n: str(reply["hash"])
            for n, reply in zip(ordered, replies, strict=True)
            if isinstance(reply, dict)
        }
