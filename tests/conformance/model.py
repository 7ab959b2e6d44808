"""What a namespace should hold, as plain Python: the model the stateful test checks stores against.

A dict of key to entry (value, metadata, expiration, version), read at a clock the test moves.
Expiry is Workers KV's: an entry whose expiration is at or before now is gone. Versions are
opaque: the model knows a key's current version when a write returned it (put), or learns it at
the next read when the write did not (bulk put, incr), and remembers every version a key ever
had, because a store must never give a key a version it had before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

INT64 = range(-(2**63), 2**63)
# What incr counts on: an integer written canonically ("7", "-3"; not "007", "-0", "1e3").
CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]*")


class NotAnInteger(Exception):
    """The model's incr refusal: the value is not a 64-bit integer, or the sum is not."""


@dataclass
class Entry:
    value: str
    metadata: Any = None
    expiration: int | None = None
    version: int | None = None  # None: written by a call that did not return it


@dataclass
class NamespaceModel:
    entries: dict[str, Entry] = field(default_factory=dict)
    versions: dict[str, set[int]] = field(default_factory=dict)

    def live(self, key: str, now: float) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.expiration is not None and entry.expiration <= now:
            del self.entries[key]
            return None
        return entry

    def live_keys(self, now: float, prefix: str = "") -> list[str]:
        """The live keys with `prefix`, in UTF-8 byte order (as every store lists them)."""
        keys = [k for k in list(self.entries) if k.startswith(prefix) and self.live(k, now)]
        return sorted(keys, key=lambda k: k.encode())

    def new_version(self, key: str, version: int) -> bool:
        """Records a version the store gave `key`; False if the key had it before."""
        seen = self.versions.setdefault(key, set())
        fresh = version not in seen
        seen.add(version)
        return fresh

    def put(self, key: str, value: str, metadata: Any, expiration: int | None) -> None:
        self.entries[key] = Entry(value, metadata, expiration)

    def delete(self, key: str) -> None:
        self.entries.pop(key, None)

    def incr(self, key: str, by: int, expiration: int | None, now: float) -> int:
        entry = self.live(key, now)
        if entry is None:
            total, metadata, kept = by, None, None
        else:
            if not CANONICAL_INT.fullmatch(entry.value) or int(entry.value) not in INT64:
                raise NotAnInteger(key)
            total, metadata, kept = int(entry.value) + by, entry.metadata, entry.expiration
        if total not in INT64:
            raise NotAnInteger(key)
        # A counter keeps its metadata, and its expiration unless the call names one.
        self.entries[key] = Entry(str(total), metadata, kept if expiration is None else expiration)
        return total
