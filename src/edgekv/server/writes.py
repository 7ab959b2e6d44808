"""The server's one path for value writes (REST and workerd alike): group commit.

A durable write costs the store one transaction (SQLite: about 50 us of commit work for a
100-byte value), and under concurrent load that commit, not the write, sets the pace. So over a
store that commits a `put_many` as one transaction answering each write's own version
(`Capabilities.group_commit`: SQLite, PostgreSQL) every value write is queued here (an
`AsyncBatch`, one commit in flight): the writes queued while a commit runs are committed by one
`put_many` per namespace after it, and each is acknowledged only once its transaction
committed. Redis batches concurrent puts itself, per master; the HTTP store's bulk write learns
no versions: over those, `put` goes straight to the store.

A transaction never holds one key twice (a repeated key goes in the next one), so every write
gets the version the store gave it, in the order the writes arrived. A conditional write (and a
value spooled to disk) is committed alone, in its place in that order: its condition is the
store's to check against what the writes before it left. If a transaction fails, every write in
it fails with that error, as each would have alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import IO

from edgekv.api._async.kv import spool
from edgekv.concurrency import AsyncBatch
from edgekv.model import EntryWrite
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores.faults import unavailable

MAX_BATCH = 512  # writes per transaction: bounds the latency one commit adds to the others
IN_MEMORY = 1 << 20  # values up to this size stay in memory; larger ones spill to disk


# A queued write: (namespace id, write, only_if_absent, if_version, committed alone?). A plain
# tuple: one is made per value write, and a named tuple's constructor costs a microsecond.
_Queued = tuple[str, EntryWrite, bool, "int | None", bool]


class Writes:
    """`await writes.put(namespace_id, write, ...)`: the version, once the write is committed."""

    def __init__(self, store: AsyncStore, *, group_commit: bool) -> None:
        self.store = store
        # A write queued behind a commit the store does not answer is answered at the store's
        # deadline all the same (503), not after that commit's deadline and then its own.
        deadlines = getattr(store, "deadlines", None)
        self._batch: AsyncBatch[_Queued, int] | None = (
            AsyncBatch(self._commit, in_flight=1, deadline=getattr(deadlines, "timeout", None))
            if group_commit
            else None
        )
        self.transactions = 0  # commits made (tests and benchmarks look)

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        if self._batch is None:
            return await self.store.put(
                namespace_id, write, only_if_absent=only_if_absent, if_version=if_version
            )
        alone = only_if_absent or if_version is not None or not isinstance(write.value, bytes)
        try:
            return await self._batch.submit(
                (namespace_id, write, only_if_absent, if_version, alone)
            )
        except TimeoutError as e:  # unanswered: it may still be committed (docs/stores.md)
            # An edge forgets the key now, as it does for a write the store left unanswered:
            # the commit under way tells it nothing until it ends.
            unanswered = getattr(self.store, "unanswered", None)
            if unanswered is not None:
                unanswered(namespace_id, (write.key,))
            raise unavailable("timed out") from e

    async def _commit(self, items: list[_Queued]) -> list[int | Exception]:
        # Per namespace, the n-th write of a key goes in transaction n (a full one, or one
        # that holds a write committed alone, starts the next): arrival order per key.
        transactions: dict[str, list[list[int]]] = {}
        alone: set[tuple[str, int]] = set()
        seen: dict[tuple[str, str], int] = {}
        for i, (namespace_id, write, _, _, alone_) in enumerate(items):
            parts = transactions.setdefault(namespace_id, [])
            after = seen.get((namespace_id, write.key), -1)
            if alone_:
                n = len(parts)
                alone.add((namespace_id, n))
            else:
                n = after + 1
                while n < len(parts) and (len(parts[n]) >= MAX_BATCH or (namespace_id, n) in alone):
                    n += 1
            seen[(namespace_id, write.key)] = n
            if n == len(parts):
                parts.append([])
            parts[n].append(i)
        out: list[int | Exception] = [0] * len(items)
        for namespace_id, parts in transactions.items():
            for part in parts:
                self.transactions += 1
                try:
                    if len(part) == 1:
                        _, write, only_if_absent, if_version, _ = items[part[0]]
                        versions = [
                            await self.store.put(
                                namespace_id,
                                write,
                                only_if_absent=only_if_absent,
                                if_version=if_version,
                            )
                        ]
                    else:
                        writes = [items[i][1] for i in part]
                        versions = await self.store.put_many(namespace_id, writes)
                except Exception as e:
                    for i in part:
                        out[i] = e
                    continue
                for i, version in zip(part, versions, strict=True):
                    out[i] = version
        return out


async def entry_write(
    key: str,
    value: bytes | IO[bytes] | AsyncIterator[bytes],
    metadata_json: str | None,
    expiration: int | None,
) -> EntryWrite:
    """A validated write of a value given whole, as a file, or as a stream: a value past
    1 MiB is spooled to disk (refused past 25 MiB while it streams), never whole in memory."""
    if isinstance(value, bytes):
        return EntryWrite(key, value, metadata_json, expiration, len(value))
    file, size = await spool(value)
    if size <= IN_MEMORY:
        with file:
            data = file.read()
        return EntryWrite(key, data, metadata_json, expiration, size)
    return EntryWrite(key, file, metadata_json, expiration, size)
