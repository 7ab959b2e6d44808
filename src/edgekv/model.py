"""The plain data that crosses layers: namespaces, stored entries, list pages, feed changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any, Literal, NamedTuple

DEFAULT_ACCOUNT = "0" * 31 + "1"
"""The account every namespace belongs to until accounts are created (32 hex digits, as Cloudflare's)."""

CacheStatus = Literal["HIT", "MISS", "EXPIRED", "STALE", "BYPASS"]


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    """A namespace as Cloudflare's API describes it."""

    id: str
    title: str
    account_id: str = DEFAULT_ACCOUNT
    supports_url_encoding: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "supports_url_encoding": True}


@dataclass(frozen=True, slots=True)
class NamespacePage:
    namespaces: list[NamespaceInfo]
    total_count: int


@dataclass(slots=True)
class StoredEntry:
    """What a store returns for a key: the value, its metadata as stored JSON text, expiry,
    version, and (edgekv's extension) when it was last written, in epoch seconds (None: the
    store does not know, as Cloudflare's API does not say)."""

    value: bytes
    metadata_json: str | None
    expiration: int | None
    version: int
    cache_status: CacheStatus | None = None
    written_at: int | None = None

    @property
    def metadata(self) -> Any:
        return None if self.metadata_json is None else json.loads(self.metadata_json)


@dataclass(slots=True)
class EntryWrite:
    """One validated write. `value` is bytes, or a binary file of `size` bytes for large streamed values."""

    key: str
    value: bytes | IO[bytes]
    metadata_json: str | None = None
    expiration: int | None = None
    size: int = 0


@dataclass(slots=True)
class KeyInfo:
    """One key of a list page; `expiration` and `metadata` are present only when set.

    `size` (bytes of the value) and `written_at` (epoch seconds of its last write) are edgekv's
    extensions: None where the store does not know them (Cloudflare's API, or an entry written
    before the store kept them).
    """

    name: str
    expiration: int | None = None
    metadata_json: str | None = None
    size: int | None = None
    written_at: int | None = None

    @property
    def metadata(self) -> Any:
        return None if self.metadata_json is None else json.loads(self.metadata_json)

    def as_json(self, extensions: bool = False) -> dict[str, Any]:
        """The key as Cloudflare lists it; with `extensions`, also `size` and `written_at`
        where known (the REST API's list adds them; a Worker's list() does not)."""
        out: dict[str, Any] = {"name": self.name}
        if self.expiration is not None:
            out["expiration"] = self.expiration
        if self.metadata_json is not None:
            out["metadata"] = self.metadata
        if extensions:
            if self.size is not None:
                out["size"] = self.size
            if self.written_at is not None:
                out["written_at"] = self.written_at
        return out


@dataclass(slots=True)
class KeyPage:
    """A page of keys as a store returns it; the cursor is built by the caller."""

    keys: list[KeyInfo]
    complete: bool
    cache_status: CacheStatus | None = None


@dataclass(slots=True)
class ListResult:
    """The binding's list answer: `keys`, `list_complete`, `cursor` (None on the last page)."""

    keys: list[KeyInfo]
    list_complete: bool
    cursor: str | None = None
    cache_status: CacheStatus | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "keys": [k.as_json() for k in self.keys],
            "list_complete": self.list_complete,
            "cacheStatus": self.cache_status,
        }
        if self.cursor is not None:
            out["cursor"] = self.cursor
        return out


@dataclass(slots=True)
class ValueWithMetadata:
    """The answer of get_with_metadata: the value, its metadata, and where the read came from."""

    value: Any
    metadata: Any = None
    cache_status: CacheStatus | None = None
    version: int | None = None
    expiration: int | None = None
    written_at: int | None = None  # edgekv's extension: epoch seconds of the last write


class Change(NamedTuple):
    """One entry of the change feed: sequence, namespace id, key (None: the whole namespace).

    A named tuple, not a frozen dataclass: every edge builds one per change it reads, and a
    frozen dataclass costs 0.86 us to build against 0.24 us (measured).
    """

    seq: int
    namespace_id: str
    key: str | None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class NamespaceUsage:
    """What a namespace holds in its central store: keys and the bytes of their values.

    An expired entry counts until the store reclaims it (SQLite and PostgreSQL: their sweep;
    Redis: its expiry, a grace period after the expiration), as storage is billed while held.
    """

    keys: int
    bytes: int


@dataclass(slots=True)
class BulkResult:
    """What a bulk write or delete reports, as Cloudflare's API does."""

    successful_key_count: int
    unsuccessful_keys: list[str] = field(default_factory=list)
    # of the values a bulk write wrote (usage counts them); not part of what the API reports
    value_bytes: int = field(default=0, compare=False, repr=False)


@dataclass(slots=True)
class FeedPage:
    """A page of the change feed: the changes after a position, and where to read on from.

    `position` is opaque (a store's own encoding); `behind` is True when the position asked
    for is older than the feed retains, so changes were lost and a consumer must flush what it
    cached rather than serve what it cannot prove fresh. `left_out` counts the changes read
    past but not returned: the reader's own, when it asked to exclude them.
    """

    changes: list[Change]
    position: str
    behind: bool = False
    left_out: int = 0
