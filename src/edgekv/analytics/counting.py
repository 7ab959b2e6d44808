"""Operations counted the way Cloudflare bills Workers KV, in memory, at each server.

Cloudflare's rules (docs/analytics.md cites them): every key read is a read, whether found or
not (a bulk read of N keys is N reads); every key written is a write (a bulk write of N pairs
is N writes); every key deleted is a delete; every list request is one list. Operations of the
dashboard and of wrangler count like any other. `objectBytes` are the bytes of the values read
or written.

`Usage` is what the request paths call: one dict increment per operation (O(1), no I/O), keyed
by account, namespace, hour and action. `UsageLog` (log.py) takes what it counted every few
seconds and writes it to the central store in one batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from edgekv.compact import compact_json
from edgekv.model import NamespaceInfo

Action = Literal["read", "write", "delete", "list"]
ACTIONS: tuple[Action, ...] = ("read", "write", "delete", "list")
HOUR = 3600

# (account id, namespace id, action) -> [requests, object bytes, edge hits]
Counts = dict[tuple[str, str, str], list[int]]


class Usage:
    """Counts of one server since its last flush: requests, bytes and edge hits by namespace
    and action.

    The hot path (`read`) is one dict lookup by the namespace id (a str, whose hash Python
    keeps) and in-place increments: no clock, no tuple, no allocation once a namespace was
    seen. The hour a count belongs to is the hour its period started in: the flusher
    (log.py) ends a period at every hour's start, so no period spans two hours.
    """

    __slots__ = ("_reads", "accounts", "before_take", "clock", "counts", "since")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        # action -> namespace id -> [requests, object bytes, edge hits] (lists: in place)
        self.counts: dict[str, dict[str, list[int]]] = {a: {} for a in ACTIONS}
        self._reads = self.counts["read"]
        self.accounts: dict[str, str] = {}  # namespace id -> its account id
        self.since = clock()
        # Called first by `take`: counters kept elsewhere for speed add what they counted
        # (the value routes' tallies of reads answered with kept headers).
        self.before_take: list[Callable[[], None]] = []

    def add(
        self, info: NamespaceInfo, action: str, requests: int = 1, size: int = 0, hits: int = 0
    ) -> None:
        """Counts `requests` operations of `action` on the namespace, `size` bytes of values
        and, of the reads, `hits` the edge answered from memory."""
        # Reads are kept as [reads not from memory, bytes, hits] (see `read`).
        misses = requests - hits if action == "read" else requests
        found = self.counts[action].get(info.id)
        if found is None:
            self.accounts[info.id] = info.account_id
            self.counts[action][info.id] = [misses, size, hits]
        else:
            found[0] += misses
            found[1] += size
            found[2] += hits

    def read(self, info: NamespaceInfo, size: int, hit: bool) -> None:
        """One key read (found or not): every value read's path, so `add` made lean. A read's
        counts are [reads not answered from memory, bytes, edge hits]: one increment fewer
        for a hit than [reads, bytes, hits] (`take` adds the hits back into the reads)."""
        found = self._reads.get(info.id)
        if found is None:
            self.accounts[info.id] = info.account_id
            self._reads[info.id] = [0, size, 1] if hit else [1, size, 0]
        elif hit:
            found[2] += 1
            found[1] += size
        else:
            found[0] += 1
            found[1] += size

    def take(self) -> tuple[float, Counts]:
        """When the period began and what was counted in it; starts a new period."""
        for count in self.before_take:
            count()
        since, self.since = self.since, self.clock()
        out: Counts = {}
        for action, by_namespace in self.counts.items():
            for namespace, counts in by_namespace.items():
                if action == "read":
                    counts[0] += counts[2]  # reads: every one, from memory or not
                out[(self.accounts[namespace], namespace, action)] = counts
            by_namespace.clear()  # the same dicts: `_reads` stays bound to its own
        return since, out


def is_edge_hit(cache_status: str | None) -> bool:
    """An answer from the edge's memory: a fresh HIT, or STALE while the store is away."""
    return cache_status == "HIT" or cache_status == "STALE"


def value_size(value: Any) -> int:
    """The bytes of a value as read (text, decoded JSON or bytes): what Cloudflare counts as
    a read's object bytes, for the reads that hand out values already decoded."""
    if value is None:
        return 0
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    return len(compact_json(value).encode("utf-8", "surrogatepass"))
