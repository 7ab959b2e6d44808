"""A relay's change log: the change feed the relay follows, for the edges behind it.

The relay reads the central store's change feed once; its edges read this log instead, from
memory, by long poll (server/relay.py). The log follows the feed through the relay's edge
(`FeedObserver`, edge/observer.py): each page once the relay applied it, so an edge told of a
change and asking the relay for the key never gets the relay's older copy. The relay reads its
own writes in that feed too (its edge is not `exclusive`): the log is the feed, one change per
write with its version, in the feed's order. A write an edge made through the relay is in the
log before the relay answers that edge's next look at it (`fresh`): a look waits, briefly,
for the relay's next read of the feed.

Positions are `<epoch>.<n>`: the n-th change of this log, whose epoch is drawn when the
relay starts. A position of another epoch (the relay restarted), older than the log keeps, or
from before a flush (the relay's own feed fell behind its retention, so changes were lost)
is answered `behind`, and the edge flushes too: it never serves what it cannot prove fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Sequence

from edgekv.limits import plain_integer
from edgekv.model import Change, FeedPage

CAPACITY = 1 << 16  # changes kept: an edge further behind than this flushes
FRESH_WITHIN = 2.0  # seconds a look waits for the feed to show the relay's own writes


class RelayLog:
    """The last `capacity` changes, numbered from 1; a flush takes a number of its own."""

    def __init__(
        self, capacity: int = CAPACITY, read_at: Callable[[], float] = time.monotonic
    ) -> None:
        """`read_at()`: when the page the relay's edge last applied was asked for (its
        `feed_read_at`): what the log holds is the feed as of then."""
        self.epoch = secrets.token_hex(8)
        self._read_at = read_at
        self.fresh_as_of = 0.0  # time.monotonic(): the log holds every change made before
        self.acknowledged_at = 0.0  # time.monotonic() of the last write the relay answered
        self.capacity = capacity
        self._ring: list[Change | None] = [None] * capacity
        self.end = 0  # numbers given so far
        self.flushed_at = 0  # positions before this number predate a flush
        self.flushes = 0
        self._next: asyncio.Future[None] | None = None  # resolved by the next change

    # FeedObserver

    def applied(self, changes: Sequence[Change]) -> None:
        self.fresh_as_of = self._read_at()
        if not changes:
            self._wake()  # a look waiting for freshness
            return
        ring, capacity, end = self._ring, self.capacity, self.end
        for change in changes:
            end += 1
            ring[end % capacity] = change
        self.end = end
        self._wake()

    def flushed(self) -> None:
        self.end += 1
        self._ring[self.end % self.capacity] = None
        self.flushed_at = self.end
        self.flushes += 1
        self._wake()

    def _wake(self) -> None:
        waiting, self._next = self._next, None
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    # reading

    def position(self) -> str:
        return f"{self.epoch}.{self.end}"

    def _number(self, position: str | None) -> int | None:
        """The change number a position of this log names; None: not one of this log's."""
        oldest = max(self.end - self.capacity + 1, 1)
        if position is None:
            return max(oldest - 1, self.flushed_at)
        epoch, _, number = position.partition(".")
        n = plain_integer(number)
        if epoch != self.epoch or n is None:
            return None
        if n > self.end or n < self.flushed_at or n < oldest - 1:
            return None
        return n

    def page(self, position: str | None, limit: int) -> FeedPage:
        n = self._number(position)
        if n is None:
            return FeedPage([], self.position(), behind=True)
        last = min(self.end, n + limit)
        ring, capacity = self._ring, self.capacity
        changes = [c for i in range(n + 1, last + 1) if (c := ring[i % capacity]) is not None]
        return FeedPage(changes, f"{self.epoch}.{last}")

    def acknowledged(self) -> None:
        """The relay answered a write: the next looks wait until the log holds it."""
        self.acknowledged_at = time.monotonic()

    async def fresh(self) -> None:
        """Returns once the log holds every write the relay answered before this call (or
        after FRESH_WITHIN seconds: the feed is slow or cut, and the look answers as is)."""
        needed = self.acknowledged_at
        deadline = time.monotonic() + FRESH_WITHIN
        while self.fresh_as_of < needed and (left := deadline - time.monotonic()) > 0:
            await self._next_change(left)

    async def wait(self, position: str | None, seconds: float) -> None:
        """Returns once there is a change after `position` (or it is not this log's), or
        after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            n = self._number(position)
            if n is None or n < self.end or (left := deadline - time.monotonic()) <= 0:
                return
            await self._next_change(left)

    async def _next_change(self, seconds: float) -> None:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._next), seconds)
