"""The memory tier: entries in an LRU bounded in bytes, I/O-free and shared by both shells."""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from edgekv.cache.stats import PolicyStats, Stats

# What an entry costs beyond its value and key: the Entry object, its OrderedDict node.
ENTRY_OVERHEAD = 200


class Entry:
    """A cached value and its times (seconds on the cache's clock).

    fresh_until: this tier may answer without asking anyone. expires_at: the value's own
    logical expiry (the KV tier's). stale_until / error_until: how long past expiry the value
    may be served while refreshing, or when the loader or store fail.
    """

    __slots__ = (
        "error_until",
        "expires_at",
        "fresh_until",
        "key",
        "size",
        "stale_until",
        "stats",
        "stored_at",
        "tags",
        "value",
    )

    def __init__(
        self,
        key: str,
        value: Any,
        *,
        stored_at: float,
        expires_at: float,
        fresh_until: float,
        stale_until: float,
        error_until: float,
        tags: tuple[str, ...],
        size: int,
        stats: PolicyStats,
    ) -> None:
        self.key = key
        self.value = value
        self.stored_at = stored_at
        self.expires_at = expires_at
        self.fresh_until = fresh_until
        self.stale_until = stale_until
        self.error_until = error_until
        self.tags = tags
        self.size = size
        self.stats = stats

    @property
    def keep_until(self) -> float:
        return max(self.stale_until, self.error_until, self.fresh_until)

    def __repr__(self) -> str:
        return f"<Entry {self.key!r} fresh_until={self.fresh_until} value={self.value!r}>"


def size_of(value: Any, encoded: int | None = None) -> int:
    """Bytes a value holds: exact for text and bytes, its encoded size when known, else an estimate."""
    if encoded is not None:
        return encoded
    if isinstance(value, bytes | bytearray | str):
        return len(value)
    return sys.getsizeof(value)


class MemoryTier:
    """An LRU of entries whose keys, values and overhead stay within `max_bytes`."""

    __slots__ = ("bytes", "data", "max_bytes", "stats")

    def __init__(self, max_bytes: int, stats: Stats) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be at least 0")
        self.max_bytes = max_bytes
        self.data: OrderedDict[str, Entry] = OrderedDict()
        self.bytes = 0
        self.stats = stats

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.data))

    def get(self, key: str) -> Entry | None:
        return self.data.get(key)

    def put(self, entry: Entry) -> None:
        cost = entry.size + len(entry.key) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            self.pop(entry.key)  # too big to keep: drop any older copy rather than serve it
            return
        entry.size = cost
        old = self.data.pop(entry.key, None)
        if old is not None:
            self.bytes -= old.size
        self.data[entry.key] = entry
        self.bytes += cost
        data = self.data
        while self.bytes > self.max_bytes:
            _, evicted = data.popitem(last=False)
            self.bytes -= evicted.size
            self.stats.memory_evictions += 1
        self.stats.memory_bytes = self.bytes
        self.stats.memory_entries = len(data)

    def pop(self, key: str) -> Entry | None:
        entry = self.data.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size
            self.stats.memory_bytes = self.bytes
            self.stats.memory_entries = len(self.data)
        return entry

    def pop_prefix(self, prefix: str) -> int:
        """Drops every entry whose key starts with prefix (a scan of this process's memory)."""
        doomed = [k for k in self.data if k.startswith(prefix)]
        for key in doomed:
            self.pop(key)
        return len(doomed)

    def clear(self) -> None:
        self.data.clear()
        self.bytes = 0
        self.stats.memory_bytes = 0
        self.stats.memory_entries = 0
