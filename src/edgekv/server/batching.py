"""Group commit for value writes: those that arrive together are committed together.

A durable write costs the store one transaction (SQLite: about 50 us of commit work for a
100-byte value), and under concurrent load that commit, not the write, sets the pace. So over
a store whose put_many is one transaction (`atomic_put_many`: SQLite, PostgreSQL) the fast
path queues its plain value writes here (an `AsyncBatch`, one commit in flight): the writes
queued while a commit runs are committed by one `put_many` per namespace after it, and each
is acknowledged only once its transaction committed. A lone write goes through `put`. A
transaction never holds one key twice (a repeated key goes in the next one), so every write
gets the version the store gave it, in the order the writes arrived; if a transaction fails,
every write in it fails with that error, as each would have alone.
"""

from __future__ import annotations

from edgekv.concurrency import AsyncBatch
from edgekv.model import EntryWrite
from edgekv.stores._async.protocol import AsyncStore

MAX_BATCH = 512  # writes per transaction: bounds the latency one commit adds to the others


class WriteBatcher:
    """`await batcher.put(namespace_id, write)`: the version, once the write is committed."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store
        self._batch: AsyncBatch[tuple[str, EntryWrite], int] = AsyncBatch(self._commit, in_flight=1)
        self.transactions = 0  # commits made (tests and benchmarks look)

    async def put(self, namespace_id: str, write: EntryWrite) -> int:
        return await self._batch.submit((namespace_id, write))

    async def _commit(self, items: list[tuple[str, EntryWrite]]) -> list[int | Exception]:
        # Per namespace, the n-th write of a key goes in transaction n (and a full one
        # starts the next): arrival order per key, each write its own version.
        transactions: dict[str, list[list[int]]] = {}
        seen: dict[tuple[str, str], int] = {}
        for i, (namespace_id, write) in enumerate(items):
            parts = transactions.setdefault(namespace_id, [])
            n = seen.get((namespace_id, write.key), -1) + 1
            while n < len(parts) and len(parts[n]) >= MAX_BATCH:
                n += 1
            seen[(namespace_id, write.key)] = n
            if n == len(parts):
                parts.append([])
            parts[n].append(i)
        out: list[int | Exception] = [0] * len(items)
        for namespace_id, parts in transactions.items():
            for part in parts:
                writes = [items[i][1] for i in part]
                self.transactions += 1
                try:
                    if len(writes) == 1:
                        versions = [await self.store.put(namespace_id, writes[0])]
                    else:
                        versions = await self.store.put_many(namespace_id, writes)
                except Exception as e:
                    for i in part:
                        out[i] = e
                    continue
                for i, version in zip(part, versions, strict=True):
                    out[i] = version
        return out
