"""The edge's memory tier, I/O-free: a byte-bounded LRU of entries and misses.

An item remembers when it was fetched; a read may use it while it is younger than the read's
cache_ttl and the entry has not expired. The feed drops items when their key changes, so
cache_ttl only bounds staleness when the feed is cut.

Reads stay monotonic: an item is never replaced by an older version, and a fetch that started
before an invalidation of its key is not cached (it may predate the change).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from edgekv.model import StoredEntry

# What a cached item costs beyond its key and value: the item, the dict slot, the tuple key.
ITEM_OVERHEAD = 240

CacheKey = tuple[str, str]


@dataclass(slots=True)
class Item:
    entry: StoredEntry | None  # None: the key is known to be missing
    fetched_at: float
    size: int
    hits: int = 0


class EdgeMemory:
    """Entries by (namespace id, key), at most `max_bytes` of them, least recently used out first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_item_bytes = max_bytes // 8
        self.bytes = 0
        self.items: OrderedDict[CacheKey, Item] = OrderedDict()
        self.evictions = 0
        # Invalidation ticks, to refuse caching a fetch that raced with a change of its key.
        self._tick = 0
        self._changed: dict[CacheKey, int] = {}
        self._namespace_changed: dict[str, int] = {}
        self._cleared = -1
        self._fetching = 0
        # The sync edge follows its feed on a thread of its own; uncontended, this costs the
        # async edge a few tens of nanoseconds a read.
        self.lock = threading.Lock()

    def lookup(self, key: CacheKey, now: float, cache_ttl: float) -> Item | None:
        """The item if it may answer a read now; None if the read must go to the central store."""
        item = self.items.get(key)
        if item is None or now - item.fetched_at >= cache_ttl:
            return None
        entry = item.entry
        if entry is not None and entry.expiration is not None and entry.expiration <= now:
            return None
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
        item.hits += 1
        return item

    def peek(self, key: CacheKey) -> Item | None:
        return self.items.get(key)

    def _begin_fetch_locked(self) -> int:
        self._fetching += 1
        return self._tick

    def _end_fetch_locked(self) -> None:
        self._fetching -= 1
        if self._fetching == 0:
            self._changed.clear()  # no fetch in flight can race with what is recorded
            self._namespace_changed.clear()

    def _store_locked(
        self, key: CacheKey, entry: StoredEntry | None, now: float, fetch_tick: int | None = None
    ) -> None:
        """Caches a fetched or written entry unless that would go back in time."""
        if fetch_tick is not None and (
            self._changed.get(key, -1) >= fetch_tick
            or self._namespace_changed.get(key[0], -1) >= fetch_tick
            or self._cleared >= fetch_tick
        ):
            return
        old = self.items.get(key)
        if old is not None:
            if old.entry is not None and entry is not None and old.entry.version > entry.version:
                return
            self._remove(key, old)
        size = ITEM_OVERHEAD + len(key[0]) + len(key[1])
        if entry is not None:
            size += len(entry.value) + len(entry.metadata_json or "")
        if size > self.max_item_bytes:
            return  # one item may not crowd out the rest
        self.items[key] = Item(entry, now, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, evicted = self.items.popitem(last=False)
            self.bytes -= evicted.size
            self.evictions += 1

    def _invalidate_locked(self, key: CacheKey, version: int | None = None) -> Item | None:
        """Drops a key after a change (unless the cached item is already that new); returns it."""
        self._tick += 1
        if self._fetching:
            self._changed[key] = self._tick
        item = self.items.get(key)
        if item is None:
            return None
        if version is not None and item.entry is not None and item.entry.version >= version:
            return None  # our own write, already cached
        self._remove(key, item)
        return item

    def _invalidate_namespace_locked(self, namespace_id: str) -> None:
        self._tick += 1
        if self._fetching:
            self._namespace_changed[namespace_id] = self._tick
        for key in [k for k in self.items if k[0] == namespace_id]:
            self._remove(key, self.items[key])

    def _clear_locked(self) -> None:
        self._tick += 1
        self._cleared = self._tick
        self.items.clear()
        self.bytes = 0

    def _remove(self, key: CacheKey, item: Item) -> None:
        del self.items[key]
        self.bytes -= item.size

    def begin_fetch(self) -> int:
        with self.lock:
            return self._begin_fetch_locked()

    def end_fetch(self) -> None:
        with self.lock:
            self._end_fetch_locked()

    def store(
        self, key: CacheKey, entry: StoredEntry | None, now: float, fetch_tick: int | None = None
    ) -> None:
        """Caches a fetched or written entry unless that would go back in time."""
        with self.lock:
            self._store_locked(key, entry, now, fetch_tick)

    def invalidate(self, key: CacheKey, version: int | None = None) -> Item | None:
        """Drops a key after a change (unless the cached item is already that new); returns it."""
        with self.lock:
            return self._invalidate_locked(key, version)

    def invalidate_namespace(self, namespace_id: str) -> None:
        with self.lock:
            self._invalidate_namespace_locked(namespace_id)

    def clear(self) -> None:
        with self.lock:
            self._clear_locked()
