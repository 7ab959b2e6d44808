"""How a cached value is kept in KV: the value's own bytes, and its times in the metadata.

The value stays what a Worker or `wrangler kv key get` would expect to read (JSON by default);
the logical expiry, the time it was stored and its tags ride in the key's metadata, so a TTL
under Workers KV's 60 s minimum is honoured at read time while the entry itself is stored with
a legal expiration.
"""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import dataclass
from typing import Any, Protocol

from edgekv.compact import compact_json
from edgekv.limits import MIN_EXPIRATION_TTL


class Serializer(Protocol):
    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class JSONSerializer:
    """JSON, compact: readable by any client of the namespace. Tuples come back as lists."""

    def dumps(self, value: Any) -> bytes:
        return compact_json(value).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


class PickleSerializer:
    """Any picklable Python object; only for namespaces that only trusted code writes."""

    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)  # trusted writers only (documented)


JSON = JSONSerializer()
PICKLE = PickleSerializer()


@dataclass(slots=True)
class Stored:
    """A cache entry as read back from KV."""

    value: Any
    stored_at: float
    expires_at: float  # math.inf: never
    tags: tuple[str, ...]
    size: int


def metadata(
    stored_at: float, expires_at: float, tags: tuple[str, ...], negative: bool
) -> dict[str, Any]:
    meta: dict[str, Any] = {"t": round(stored_at, 6)}
    if expires_at != math.inf:
        meta["e"] = round(expires_at, 6)
    if tags:
        meta["g"] = list(tags)
    if negative:
        meta["n"] = 1
    return meta


def decode(raw: bytes, meta: Any, serializer: Serializer) -> Stored | None:
    """The entry, or None when the key holds something the cache did not write."""
    if not isinstance(meta, dict) or "t" not in meta:
        return None
    try:
        value = None if meta.get("n") else serializer.loads(raw)
        return Stored(
            value,
            float(meta["t"]),
            float(meta.get("e", math.inf)),
            tuple(str(t) for t in meta.get("g", ())),
            len(raw),
        )
    except (ValueError, TypeError, pickle.UnpicklingError):
        return None


def kv_ttl(now: float, keep_until: float) -> int | None:
    """A legal expiration_ttl for an entry needed until `keep_until` (None: keep forever)."""
    if keep_until == math.inf:
        return None
    return max(MIN_EXPIRATION_TTL, math.ceil(keep_until - now))
