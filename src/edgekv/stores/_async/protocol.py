"""The Store protocol: what every layer below the Namespace API provides.

Keys and values arrive validated (see `edgekv.limits`); a store only stores. Every store passes
the same conformance suite (tests/conformance), so any composition of them behaves the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Literal, Protocol, runtime_checkable

from edgekv.model import (
    EntryWrite,
    FeedPage,
    KeyPage,
    NamespaceInfo,
    NamespacePage,
    NamespaceUsage,
    StoredEntry,
)
from edgekv.stores.capabilities import Capabilities

NamespaceOrder = Literal["id", "title"]
Direction = Literal["asc", "desc"]


@runtime_checkable
class AsyncStore(Protocol):
    """A central store (SQLite, PostgreSQL, Redis, HTTP) or a tier in front of one.

    Reads take `cache_ttl`: how many seconds a cache in front of the central store may answer
    from memory (None: its default; 0: a strong read that no cache may answer). Central stores
    always answer fresh and ignore it.

    Every store answers every call; what it can do beyond that it declares in `capabilities`.
    """

    @property
    def capabilities(self) -> Capabilities:
        """What this store can do (edgekv.stores.capabilities): a put_many the server may group
        commit, a change feed (in version order or per key), changes(exclude_own=True),
        conditional writes, incr, versions. A class attribute for most stores; a tier in front
        of a store declares the store's."""
        ...

    # namespaces

    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        """A new namespace; DuplicateNamespaceTitle if the account has one of that title.

        `namespace_id` (validated: 32 lowercase hex) chooses its id, as a wrangler.toml names
        it; NamespaceIdTaken if any namespace has that id, or had it and the store still
        remembers the deletion (its feed names it). Otherwise the store makes a random one.
        """
        ...

    async def list_namespaces(
        self,
        account_id: str | None,
        *,
        order: NamespaceOrder = "id",
        direction: Direction = "asc",
        offset: int = 0,
        limit: int = 20,
    ) -> NamespacePage:
        """A page of an account's namespaces (every account's when account_id is None)."""
        ...

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        """NamespaceNotFound if there is none."""
        ...

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        """The namespace of that title in the account; NamespaceNotFound if there is none."""
        ...

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo: ...

    async def delete_namespace(self, namespace_id: str) -> None:
        """Deletes the namespace and every key in it."""
        ...

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        """The keys the namespace holds and the bytes of their values (edgekv's extension).

        Kept as running totals that every write updates in its own transaction or script, so
        this costs the same on a namespace of a million keys as on one of ten; NamespaceNotFound
        if there is none.
        """
        ...

    # entries

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        """The live (unexpired) entry of a key, or None; its `written_at` says when it was
        last written (epoch seconds)."""
        ...

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        """The live value of a key alone, or None: the lean read behind `get`."""
        ...

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        """Live entries in the order of `keys`."""
        ...

    async def open_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None, chunk_size: int = 65536
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        """The entry (its `value` empty) and its value as chunks, a large one never whole in
        memory; a value the store holds whole anyway comes as an AsyncWholeValue (`chunks_of`)."""
        ...

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        """Writes one entry and returns its new version; PreconditionFailed if a condition fails."""
        ...

    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        """Writes every entry atomically; returns their versions."""
        ...

    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        """Deletes the keys; missing ones are no error."""
        ...

    async def list_keys(
        self,
        namespace_id: str,
        prefix: str,
        limit: int,
        start_after: str | None,
        *,
        cache_ttl: int | None = None,
    ) -> KeyPage:
        """Up to `limit` live keys with the prefix, after `start_after`, in UTF-8 byte order,
        each with its value's size and last write (edgekv's extensions)."""
        ...

    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        """Adds `by` to the integer stored at key (absent: 0), atomically; returns the new value."""
        ...

    # change feed

    async def feed_position(self) -> str:
        """The feed's current end: reading from it yields only changes made after this call."""
        ...

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        """Up to `limit` changes after `position` (None: the oldest retained), in order.

        Positions are opaque strings of the store's own (docs/stores.md). The page says where
        to continue, and whether `position` fell behind the feed's retention (changes lost).
        `exclude_own` asks to leave out changes of keys written through this very object,
        where the store can tell them (Redis: `left_out` counts them); other stores return
        every change, which is as correct for an edge (its own write is cached already).
        """
        ...

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        """True as soon as there may be changes after `position`, False after `seconds` with
        none: the push signal (LISTEN/NOTIFY in PostgreSQL, pub/sub in Redis, a cheap poll in
        SQLite). A True may be spurious, and a signal may be lost: read `changes` to know.
        """
        ...

    async def purge_expired(self, limit: int = 1000) -> int:
        """Deletes up to `limit` expired entries and old feed entries; returns how many."""
        ...

    async def aclose(self) -> None: ...


class AsyncWholeValue:
    """A value already whole in memory, as the chunks `open_value` promises.

    `value` holds it all, so a reader that wants it whole (an HTTP answer with a
    Content-Length, a value cached at the edge) takes it without iterating.
    """

    __slots__ = ("_chunk_size", "_start", "value")

    def __init__(self, value: bytes, chunk_size: int) -> None:
        self.value = value
        self._chunk_size = chunk_size
        self._start = 0

    def __aiter__(self) -> AsyncWholeValue:
        return self

    async def __anext__(self) -> bytes:
        start = self._start
        if start >= len(self.value):
            raise StopAsyncIteration
        self._start = start + self._chunk_size
        if start == 0 and len(self.value) <= self._chunk_size:
            return self.value
        return self.value[start : start + self._chunk_size]


def chunks_of(value: bytes, chunk_size: int) -> AsyncWholeValue:
    """An in-memory value as the chunks `open_value` promises (see AsyncWholeValue)."""
    return AsyncWholeValue(value, chunk_size)
