"""The keys under one prefix of a namespace, seen as a store of their own: `ns.with_prefix()`.

Seed 003's `PREFIXES` pattern (`user:`, `session:`, `cache:` in one namespace) as a view:
`users = ns.with_prefix("user:")` gets, puts, lists and deletes `123` as `user:123`, and its
list shows `123`. The view is a Store wrapped around the namespace's store, so every verb of
`AsyncNamespace` (validation, bulk reads, cursors, conditional writes) works through it
unchanged, and a namespace without a prefix pays nothing on its reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from edgekv import limits
from edgekv.model import (
    EntryWrite,
    FeedPage,
    KeyInfo,
    KeyPage,
    NamespaceInfo,
    NamespacePage,
    NamespaceUsage,
    StoredEntry,
)
from edgekv.stores._async.protocol import AsyncStore, Direction, NamespaceOrder
from edgekv.stores.capabilities import Capabilities


class AsyncPrefixedStore:
    """`inner` with `prefix` put in front of every key read or written, and cut off every key
    listed. Namespaces and the change feed are the inner store's (the feed names full keys)."""

    inner: AsyncStore
    prefix: str

    def __init__(self, inner: AsyncStore, prefix: str) -> None:
        if isinstance(inner, AsyncPrefixedStore):  # a view of a view: one prefix, one hop
            prefix, inner = inner.prefix + prefix, inner.inner
        self.inner = inner
        self.prefix = limits.validate_prefix(prefix)

    def _key(self, key: str) -> str:
        # The caller checked the short key; the full one must fit too (KeyTooLong names its size).
        return limits.validate_key(self.prefix + key)

    # keys

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        return await self.inner.get(namespace_id, self._key(key), cache_ttl=cache_ttl)

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        return await self.inner.get_value(namespace_id, self._key(key), cache_ttl=cache_ttl)

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        full = [self._key(k) for k in keys]
        return await self.inner.get_many(namespace_id, full, cache_ttl=cache_ttl)

    async def open_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None, chunk_size: int = 65536
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        return await self.inner.open_value(
            namespace_id, self._key(key), cache_ttl=cache_ttl, chunk_size=chunk_size
        )

    def _write(self, write: EntryWrite) -> EntryWrite:
        return EntryWrite(
            self._key(write.key), write.value, write.metadata_json, write.expiration, write.size
        )

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        return await self.inner.put(
            namespace_id, self._write(write), only_if_absent=only_if_absent, if_version=if_version
        )

    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        return await self.inner.put_many(namespace_id, [self._write(w) for w in writes])

    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        await self.inner.delete_many(namespace_id, [self._key(k) for k in keys])

    async def list_keys(
        self,
        namespace_id: str,
        prefix: str,
        limit: int,
        start_after: str | None,
        *,
        cache_ttl: int | None = None,
    ) -> KeyPage:
        after = None if start_after is None else self.prefix + start_after
        full = limits.validate_prefix(self.prefix + prefix)
        page = await self.inner.list_keys(namespace_id, full, limit, after, cache_ttl=cache_ttl)
        cut = len(self.prefix)
        page.keys = [KeyInfo(k.name[cut:], k.expiration, k.metadata_json) for k in page.keys]
        return page

    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        return await self.inner.incr(namespace_id, self._key(key), by, expiration)

    # namespaces and the feed: the inner store's

    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        return await self.inner.create_namespace(title, account_id, namespace_id)

    async def list_namespaces(
        self,
        account_id: str | None,
        *,
        order: NamespaceOrder = "id",
        direction: Direction = "asc",
        offset: int = 0,
        limit: int = 20,
    ) -> NamespacePage:
        return await self.inner.list_namespaces(
            account_id, order=order, direction=direction, offset=offset, limit=limit
        )

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        return await self.inner.get_namespace(namespace_id)

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        return await self.inner.find_namespace(account_id, title)

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        return await self.inner.rename_namespace(namespace_id, title)

    async def delete_namespace(self, namespace_id: str) -> None:
        await self.inner.delete_namespace(namespace_id)

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        """The whole namespace's keys and bytes, not the prefix's: the store keeps totals per
        namespace only."""
        return await self.inner.namespace_usage(namespace_id)

    async def feed_position(self) -> str:
        return await self.inner.feed_position()

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        return await self.inner.changes(position, limit, exclude_own=exclude_own)

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        return await self.inner.wait_for_changes(position, seconds)

    async def purge_expired(self, limit: int = 1000) -> int:
        return await self.inner.purge_expired(limit)

    async def aclose(self) -> None:
        """Closes nothing: the view does not own the namespace's store."""
