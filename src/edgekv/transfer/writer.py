"""Writing entries into one namespace in atomic batches, as `kv bulk put` does.

A batch holds at most 10,000 pairs and about 100 MB (the REST API's limits), and goes to the
store's `put_many`: all of it or none. One batch is in flight while the next is filled, so a
copy between two remote stores reads and writes at once. Expirations are kept exactly; a key
that expired on the way is left out, and so is one that expires within the minute when the
target is a server (its API refuses such writes), both counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from edgekv import limits
from edgekv.model import EntryWrite
from edgekv.stores._async.protocol import AsyncStore
from edgekv.transfer.entries import Entry


def takes_any_expiration(store: object) -> bool:
    """False for a store behind the REST API (an edgekv server, Cloudflare; async or sync): it
    refuses an expiration under 60 s away, as Workers KV does. Stores in process keep any."""
    from edgekv.stores.http._async.http_store import AsyncRestStore
    from edgekv.stores.http._sync.http_store import RestStore

    return not isinstance(store, AsyncRestStore | RestStore)


class Writer:
    """`await writer.add(entry)` ... `await writer.finish()`; `written` and `left_out` count."""

    def __init__(
        self,
        store: AsyncStore,
        namespace_id: str,
        *,
        batch_pairs: int = limits.MAX_BULK_WRITE_PAIRS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.namespace_id = namespace_id
        self.batch_pairs = max(1, min(batch_pairs, limits.MAX_BULK_WRITE_PAIRS))
        self._clock = clock
        self._min_ttl = 0 if takes_any_expiration(store) else limits.MIN_EXPIRATION_TTL
        self._pending: list[EntryWrite] = []
        self._size = 0
        self._in_flight: asyncio.Task[int] | None = None
        self.written = 0
        self.left_out = 0

    async def add(self, entry: Entry) -> None:
        if entry.expiration is not None and entry.expiration <= self._clock() + self._min_ttl:
            self.left_out += 1
            return
        size = len(entry.value)
        if self._pending and (
            len(self._pending) >= self.batch_pairs or self._size + size > limits.MAX_BULK_BODY_BYTES
        ):
            await self.flush()
        self._pending.append(
            EntryWrite(entry.key, entry.value, entry.metadata_json, entry.expiration, size)
        )
        self._size += size

    async def flush(self) -> None:
        """Sends what is pending (after the batch in flight has landed)."""
        await self._land()
        if self._pending:
            batch, self._pending, self._size = self._pending, [], 0
            self._in_flight = asyncio.ensure_future(self._put(batch))

    async def _put(self, batch: list[EntryWrite]) -> int:
        await self.store.put_many(self.namespace_id, batch)
        return len(batch)

    async def _land(self) -> None:
        if self._in_flight is not None:
            task, self._in_flight = self._in_flight, None
            self.written += await task

    async def finish(self) -> None:
        """Writes everything added; raises what a batch's write raised."""
        await self.flush()
        await self._land()

    async def abandon(self) -> None:
        """Drops what is pending and waits out the batch in flight (interrupted)."""
        self._pending, self._size = [], 0
        if self._in_flight is not None:
            self._in_flight.cancel()
            await asyncio.gather(self._in_flight, return_exceptions=True)
            self._in_flight = None
