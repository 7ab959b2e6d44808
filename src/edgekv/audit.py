"""An audit of a namespace, from one pass over its keys: what a team checks by hand before a
bill or a limit surprises it.

- keys without an expiration (count, bytes, top prefixes): writes that never go away;
- the largest values, and prefixes by keys and by bytes;
- keys, metadata and values near Workers KV's limits (key 512 bytes, metadata 1024 bytes,
  value 25 MiB; "near": above `NEAR` of the limit);
- keys not written for N days (from each key's last write, edgekv's `written_at`), and how many
  keys have no known last write (a store that does not keep it, an entry older than it).

Sizes and last writes come from the list itself (`KeyInfo.size`, `KeyInfo.written_at`): no
value is read. `audit(ns)` is the Python API; `edgekv audit` prints it (cli/audit.py).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Any

from edgekv import limits
from edgekv.api._sync.kv import Namespace
from edgekv.model import KeyInfo

NEAR = 0.8  # a key, metadata or value above this share of its limit is near it
TOP = 10  # prefixes, largest values and oldest keys shown
LISTED = 20  # keys shown per limit
SEPARATORS = (":", "/")
DEPTH = 3  # prefix levels at most
DAY = 86_400


def prefix_of(key: str) -> str:
    """The key's prefix: its leading segments (up to DEPTH, each ending in `:` or `/`) that
    hold no digit, so ids stay out of it: `cache:temp:0042` -> `cache:temp:`, `user:42:profile`
    -> `user:`, `assets/img/logo.png` -> `assets/img/`, `config` -> `` (none)."""
    end = 0
    for _ in range(DEPTH):
        cut = min((i for i in (key.find(s, end) for s in SEPARATORS) if i >= 0), default=-1)
        if cut < 0 or any(c.isdigit() for c in key[end:cut]):
            break
        end = cut + 1
    return key[:end]


@dataclass
class _Tally:
    keys: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.keys += 1
        self.bytes += size


@dataclass
class _ByPrefix:
    tallies: dict[str, _Tally] = field(default_factory=dict)

    def add(self, key: str, size: int) -> None:
        prefix = prefix_of(key)
        tally = self.tallies.get(prefix)
        if tally is None:
            tally = self.tallies[prefix] = _Tally()
        tally.add(size)

    def top(self, by: str) -> list[dict[str, Any]]:
        # Ties in prefix order, so a report is the same from run to run.
        ranked = heapq.nsmallest(
            TOP, self.tallies.items(), key=lambda p: (-getattr(p[1], by), p[0])
        )
        return [{"prefix": p, "keys": t.keys, "bytes": t.bytes} for p, t in ranked]


@dataclass
class _Near:
    limit: int
    count: int = 0
    listed: list[dict[str, Any]] = field(default_factory=list)

    def check(self, name: str, size: int) -> None:
        if size > self.limit * NEAR:
            self.count += 1
            if len(self.listed) < LISTED:
                self.listed.append({"name": name, "bytes": size})

    def as_json(self) -> dict[str, Any]:
        return {"limit": self.limit, "count": self.count, "keys": self.listed}


class _Audit:
    def __init__(self, now: float, stale_days: int) -> None:
        self.stale_before = now - stale_days * DAY
        self.stale_days = stale_days
        self.total = _Tally()
        self.unknown_size = 0
        self.prefixes = _ByPrefix()
        self.forever = _Tally()
        self.forever_prefixes = _ByPrefix()
        self.largest: list[tuple[int, str]] = []  # a min-heap of the TOP largest
        self.names = _Near(limits.MAX_KEY_BYTES)
        self.metadata = _Near(limits.MAX_METADATA_BYTES)
        self.values = _Near(limits.MAX_VALUE_BYTES)
        self.stale = _Tally()
        self.stale_prefixes = _ByPrefix()
        self.oldest: list[tuple[int, str]] = []  # a max-heap (negated) of the TOP oldest
        self.unknown_write = 0

    def add(self, key: KeyInfo) -> None:
        name = key.name
        size = key.size or 0
        if key.size is None:
            self.unknown_size += 1
        self.total.add(size)
        self.prefixes.add(name, size)
        if key.expiration is None:
            self.forever.add(size)
            self.forever_prefixes.add(name, size)
        if len(self.largest) < TOP:
            heapq.heappush(self.largest, (size, name))
        elif size > self.largest[0][0]:
            heapq.heapreplace(self.largest, (size, name))
        self.names.check(name, len(name.encode()))
        if key.metadata_json is not None:
            self.metadata.check(name, len(key.metadata_json.encode()))
        self.values.check(name, size)
        if key.written_at is None:
            self.unknown_write += 1
        elif key.written_at < self.stale_before:
            self.stale.add(size)
            self.stale_prefixes.add(name, size)
            if len(self.oldest) < TOP:
                heapq.heappush(self.oldest, (-key.written_at, name))
            elif -key.written_at > self.oldest[0][0]:
                heapq.heapreplace(self.oldest, (-key.written_at, name))

    def report(self, namespace_id: str, title: str) -> dict[str, Any]:
        return {
            "namespace": {"id": namespace_id, "title": title},
            "keys": self.total.keys,
            "bytes": self.total.bytes,
            "keys_of_unknown_size": self.unknown_size,
            "without_expiration": {
                "keys": self.forever.keys,
                "bytes": self.forever.bytes,
                "top_prefixes": self.forever_prefixes.top("keys"),
            },
            "largest_values": [
                {"name": n, "bytes": s}
                for s, n in sorted(self.largest, key=lambda x: (-x[0], x[1]))
                if s
            ],
            "prefixes_by_keys": self.prefixes.top("keys"),
            "prefixes_by_bytes": self.prefixes.top("bytes"),
            "near_limits": {
                "share": NEAR,
                "key_names": self.names.as_json(),
                "metadata": self.metadata.as_json(),
                "values": self.values.as_json(),
            },
            "not_written_for_days": {
                "days": self.stale_days,
                "keys": self.stale.keys,
                "bytes": self.stale.bytes,
                "top_prefixes": self.stale_prefixes.top("keys"),
                "oldest": [{"name": n, "written_at": -w} for w, n in sorted(self.oldest)],
                "keys_of_unknown_last_write": self.unknown_write,
            },
        }


def audit(ns: Namespace, *, stale_days: int = 30, now: float | None = None) -> dict[str, Any]:
    """The audit of a namespace as a JSON-ready dict (`edgekv audit --json` prints a list
    of these)."""
    tally = _Audit(time.time() if now is None else now, stale_days)
    cursor = None
    while True:
        page = ns.list(limit=limits.MAX_LIST_LIMIT, cursor=cursor)
        for key in page.keys:
            tally.add(key)
        if page.list_complete:
            break
        cursor = page.cursor
    return tally.report(ns.id, ns.title)
