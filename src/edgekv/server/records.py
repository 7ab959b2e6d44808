"""What the server looks up on every request (tokens, accounts, namespaces), kept in memory.

`Records` is an in-process map of records that exist (never of misses, so a record created
anywhere is seen at once, and guessing tokens fills nothing). It is kept fresh the way the
edge's values are: it observes the edge the server runs (edge/observer.py), which tells it of
every change its change feed delivers and every write it makes itself. So a change made on
this server is seen by this server at once (read-your-writes); one made elsewhere, within the
feed's delay (milliseconds); and while the feed is cut, an item is trusted for at most `ttl`
seconds. When the feed falls behind its retention the edge flushes, and this map with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from edgekv.model import NamespaceInfo

_MAX_ITEMS = 100_000  # tokens and namespaces in use: far fewer; past it, start over


class Records:
    """Records by (namespace id, key), and namespaces by id, each trusted for `ttl` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.clock = clock
        self.records: dict[tuple[str, str], tuple[float, Any]] = {}
        self.namespaces: dict[str, tuple[float, NamespaceInfo]] = {}
        # Namespaces whose records are cached here (the system namespace): a change of any
        # other key touches nothing here, and costs one set lookup.
        self.record_namespaces: set[str] = set()
        # Bumped by every invalidation: a lookup that raced with one is not cached, since it
        # may have read the store before the change.
        self.generation = 0

    # records

    def record(self, namespace_id: str, key: str) -> Any:
        """The cached value, or None (never cached, invalidated, or older than ttl)."""
        self.record_namespaces.add(namespace_id)
        found = self.records.get((namespace_id, key))
        if found is None or self.clock() - found[0] >= self.ttl:
            return None
        return found[1]

    def keep_record(self, namespace_id: str, key: str, value: Any, generation: int) -> None:
        if generation != self.generation or value is None:
            return
        if len(self.records) >= _MAX_ITEMS:
            self.records.clear()
        self.records[(namespace_id, key)] = (self.clock(), value)

    # namespaces

    def namespace(self, namespace_id: str) -> NamespaceInfo | None:
        found = self.namespaces.get(namespace_id)
        if found is None or self.clock() - found[0] >= self.ttl:
            return None
        return found[1]

    def keep_namespace(self, info: NamespaceInfo, generation: int) -> None:
        if generation != self.generation:
            return
        if len(self.namespaces) >= _MAX_ITEMS:
            self.namespaces.clear()
        self.namespaces[info.id] = (self.clock(), info)

    # invalidation

    def changed(self, namespace_id: str, key: str | None, version: int = 0) -> None:
        """A key changed (or, with key None, the whole namespace: deleted)."""
        if key is not None:
            if namespace_id in self.record_namespaces:
                self.generation += 1
                self.records.pop((namespace_id, key), None)
            return
        self.generation += 1
        self.namespaces.pop(namespace_id, None)
        for found in [k for k in self.records if k[0] == namespace_id]:
            del self.records[found]

    def flushed(self) -> None:
        self.generation += 1
        self.records.clear()
        self.namespaces.clear()
