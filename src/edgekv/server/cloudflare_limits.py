"""`edgekv serve --limits cloudflare-free|cloudflare-paid`: Workers KV's limits, on demand.

For code headed to Workers KV: what Cloudflare refuses, refused here too, with Cloudflare's
errors (docs/emulation.md).

- Both plans: one write per second per key. A second write (a put, one pair of a bulk write,
  an incr) to a key within a second of the last is refused: 429 `TooManyWrites`, which a Worker
  sees as Cloudflare's `KV PUT failed: 429 Too Many Requests`. A refused write does not count as
  the key's last write. Deletes are not limited (Cloudflare documents the limit for writes).
- The Free plan: per account and UTC day, 100,000 reads (each key of a bulk read is one, as is
  a read an edge answers from memory), 1,000 writes (each pair of a bulk write), 1,000 deletes
  (each key of a bulk delete), 1,000 lists (each page); and 1 GB stored per account. Past a
  quota or the cap: 429, code 10048, Cloudflare's `your account has reached the free usage limit
  for this operation for today`. The quotas reset at 00:00 UTC.

It wraps the store the API, the workerd protocol and the dashboard use (requests count, as
Cloudflare counts its dashboard's); the server's own reads of accounts, tokens and namespace
records, the change feed and a relay's traffic are not Workers KV operations and pass beside it.
Everything is counted in this process's memory: per server (and `--limits` runs one worker),
reset when the server restarts. Several servers over one store each enforce their own limits.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from edgekv import errors
from edgekv.model import (
    EntryWrite,
    FeedPage,
    KeyPage,
    NamespaceInfo,
    NamespacePage,
    NamespaceUsage,
    StoredEntry,
)
from edgekv.stores._async.protocol import AsyncStore, Direction, NamespaceOrder
from edgekv.stores.capabilities import Capabilities

DAY = 86_400
WRITE_INTERVAL = 1.0  # seconds between two writes of one key
USAGE_FRESH = 1.0  # seconds an account's stored bytes, asked of the store, are trusted


@dataclass(frozen=True)
class Plan:
    """A plan's limits; None: unlimited."""

    name: str
    reads_per_day: int | None = None
    writes_per_day: int | None = None
    deletes_per_day: int | None = None
    lists_per_day: int | None = None
    storage_bytes: int | None = None


PLANS = {
    "cloudflare-free": Plan(
        "cloudflare-free",
        reads_per_day=100_000,
        writes_per_day=1_000,
        deletes_per_day=1_000,
        lists_per_day=1_000,
        storage_bytes=1_000_000_000,  # 1 GB, as Cloudflare's pricing counts it
    ),
    "cloudflare-paid": Plan("cloudflare-paid"),
}


class CloudflareLimits:
    """A store that refuses what a plan of Workers KV would, in front of `store`."""

    def __init__(
        self, store: AsyncStore, plan: Plan, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.plan = plan
        self.clock = clock
        self._last_write: dict[tuple[str, str], float] = {}
        self._accounts: dict[str, str] = {}  # namespace id -> account id
        self._day = -1
        self._used: dict[tuple[str, str], int] = {}  # (account, operation) -> count today
        self._stored: dict[str, tuple[float, int]] = {}  # account -> (asked at, bytes)

    @property
    def capabilities(self) -> Capabilities:
        return self.store.capabilities

    # the limits

    async def _account(self, namespace_id: str) -> str:
        account = self._accounts.get(namespace_id)
        if account is None:
            account = (await self.store.get_namespace(namespace_id)).account_id
            self._accounts[namespace_id] = account
        return account

    async def _spend(self, namespace_id: str, operation: str, n: int, quota: int | None) -> None:
        """Counts `n` operations of today's quota, or refuses them all if they would pass it."""
        if quota is None or n == 0:
            return
        day = int(self.clock() // DAY)
        if day != self._day:
            self._day = day
            self._used.clear()
        slot = (await self._account(namespace_id), operation)
        used = self._used.get(slot, 0)
        if used + n > quota:
            raise errors.FreeLimitExceeded()
        self._used[slot] = used + n

    def _throttled(self, namespace_id: str, keys: Sequence[str]) -> None:
        """Refuses the writes if any of their keys was written less than a second ago."""
        now = self.clock()
        last = self._last_write
        for key in keys:
            if now - last.get((namespace_id, key), -WRITE_INTERVAL) < WRITE_INTERVAL:
                raise errors.TooManyWrites()

    def _written(self, namespace_id: str, keys: Sequence[str]) -> None:
        """Notes the keys' last write (one that was let through)."""
        now = self.clock()
        last = self._last_write
        if len(last) > 10_000:  # forget what can no longer refuse anything
            for slot, at in list(last.items()):
                if now - at >= WRITE_INTERVAL:
                    del last[slot]
        for key in keys:
            last[(namespace_id, key)] = now

    async def _check_storage(self, namespace_id: str, adding: int) -> None:
        cap = self.plan.storage_bytes
        if cap is None:
            return
        account = await self._account(namespace_id)
        now = time.monotonic()
        known = self._stored.get(account)
        if known is None or now - known[0] > USAGE_FRESH:
            stored = 0
            offset = 0
            while True:
                page = await self.store.list_namespaces(account, offset=offset, limit=100)
                for info in page.namespaces:
                    stored += (await self.store.namespace_usage(info.id)).bytes
                offset += len(page.namespaces)
                if len(page.namespaces) < 100:
                    break
            known = (now, stored)
        if known[1] + adding > cap:
            raise errors.FreeLimitExceeded()
        # Counted until the store is asked again: the writes of the next second add up.
        self._stored[account] = (known[0], known[1] + adding)

    async def _writing(self, namespace_id: str, writes: Sequence[EntryWrite]) -> None:
        """Refuses writes a plan refuses; else counts them. Checked in this order, so a
        refused write spends nothing."""
        keys = [w.key for w in writes]
        self._throttled(namespace_id, keys)
        await self._check_storage(namespace_id, sum(w.size or _size(w) for w in writes))
        await self._spend(namespace_id, "write", len(writes), self.plan.writes_per_day)
        self._written(namespace_id, keys)

    # reads

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        await self._spend(namespace_id, "read", 1, self.plan.reads_per_day)
        return await self.store.get(namespace_id, key, cache_ttl=cache_ttl)

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        await self._spend(namespace_id, "read", 1, self.plan.reads_per_day)
        return await self.store.get_value(namespace_id, key, cache_ttl=cache_ttl)

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        await self._spend(namespace_id, "read", len(keys), self.plan.reads_per_day)
        return await self.store.get_many(namespace_id, keys, cache_ttl=cache_ttl)

    async def open_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None, chunk_size: int = 65536
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        await self._spend(namespace_id, "read", 1, self.plan.reads_per_day)
        return await self.store.open_value(
            namespace_id, key, cache_ttl=cache_ttl, chunk_size=chunk_size
        )

    async def list_keys(
        self,
        namespace_id: str,
        prefix: str,
        limit: int,
        start_after: str | None,
        *,
        cache_ttl: int | None = None,
    ) -> KeyPage:
        await self._spend(namespace_id, "list", 1, self.plan.lists_per_day)
        return await self.store.list_keys(
            namespace_id, prefix, limit, start_after, cache_ttl=cache_ttl
        )

    # writes

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        await self._writing(namespace_id, [write])
        return await self.store.put(
            namespace_id, write, only_if_absent=only_if_absent, if_version=if_version
        )

    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        await self._writing(namespace_id, writes)
        return await self.store.put_many(namespace_id, writes)

    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        await self._spend(namespace_id, "delete", len(keys), self.plan.deletes_per_day)
        await self.store.delete_many(namespace_id, keys)

    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        self._throttled(namespace_id, [key])
        await self._spend(namespace_id, "write", 1, self.plan.writes_per_day)
        self._written(namespace_id, [key])
        return await self.store.incr(namespace_id, key, by, expiration)

    # the rest passes through: namespaces, the feed, housekeeping

    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        return await self.store.create_namespace(title, account_id, namespace_id)

    async def list_namespaces(
        self,
        account_id: str | None,
        *,
        order: NamespaceOrder = "id",
        direction: Direction = "asc",
        offset: int = 0,
        limit: int = 20,
    ) -> NamespacePage:
        return await self.store.list_namespaces(
            account_id, order=order, direction=direction, offset=offset, limit=limit
        )

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        return await self.store.get_namespace(namespace_id)

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        return await self.store.find_namespace(account_id, title)

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        return await self.store.rename_namespace(namespace_id, title)

    async def delete_namespace(self, namespace_id: str) -> None:
        await self.store.delete_namespace(namespace_id)

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        return await self.store.namespace_usage(namespace_id)

    async def feed_position(self) -> str:
        return await self.store.feed_position()

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        return await self.store.changes(position, limit, exclude_own=exclude_own)

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        return await self.store.wait_for_changes(position, seconds)

    async def purge_expired(self, limit: int = 1000) -> int:
        return await self.store.purge_expired(limit)

    async def aclose(self) -> None:
        """The store is the server's to close, not this front's."""


def _size(write: EntryWrite) -> int:
    return len(write.value) if isinstance(write.value, bytes) else 0
