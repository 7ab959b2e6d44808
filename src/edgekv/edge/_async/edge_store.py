"""An edge: a memory tier in front of a central store, kept fresh by the store's change feed.

Reads are answered from memory while younger than their cache_ttl; misses go to the central
store once per key at a time (single-flight) and are cached too. Writes go to the central store
and then into this edge's memory at once, so the edge that took a write reads it back
(read-your-writes). The change feed drops, or for hot keys refreshes, what other edges changed.
If the central store fails, reads of cached keys keep being answered, and up to `serve_stale`
seconds past their cache_ttl they are answered STALE; other calls fail with StoreUnavailable.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence

from edgekv import errors
from edgekv.concurrency import AsyncBackground, AsyncDeadline, AsyncSingleFlight
from edgekv.edge.memory import CacheKey, EdgeMemory, Item
from edgekv.edge.observer import EdgeObserver, FeedObserver
from edgekv.limits import DEFAULT_CACHE_TTL
from edgekv.model import (
    CacheStatus,
    Change,
    EntryWrite,
    FeedPage,
    KeyPage,
    NamespaceInfo,
    NamespacePage,
    NamespaceUsage,
    StoredEntry,
)
from edgekv.stores._async.protocol import (
    AsyncStore,
    AsyncWholeValue,
    Direction,
    NamespaceOrder,
    chunks_of,
)
from edgekv.stores.capabilities import Capabilities
from edgekv.stores.deadlines import Deadlines
from edgekv.stores.faults import reason_of, unavailable

log = logging.getLogger("edgekv.edge")

_Opened = tuple[StoredEntry, AsyncIterator[bytes]]

HOT_HITS = 8  # hits since its fetch that make a key hot: refreshed, not dropped, on change
# Seconds between feed reads while changes keep coming: 5 ms, or 10 ms once a page holds
# BUSY_PAGE changes or more (a write load of thousands per second, where each read costs every
# edge and the central store alike). Adds at most that much delay.
FEED_PAUSE = 0.005
BUSY_FEED_PAUSE = 0.010
BUSY_PAGE = 16
# A value read as a stream is cached on the way only up to this size: a stream is asked for so
# that a large value is never whole in memory.
_STREAM_CACHE_LIMIT = 1 << 20
# Seconds after a write failed in a way that may have applied it all the same (a timeout, a
# lost connection, a cancelled request) during which an `exclusive` edge reads its own
# changes too: the feed is what tells it whether the write landed.
UNSURE_WINDOW = 60.0
# Seconds one read of the change feed may take beyond its wait, whatever the store's own
# deadlines: a follower never hangs on a store that stopped answering; it reads again after.
FEED_READ_LIMIT = 15.0
# Seconds a shutdown waits for background work (the follower, refreshes) before cancelling it.
CLOSE_GRACE = 5.0


class AsyncEdgeStore:
    """`AsyncEdgeStore(central, cache_size=64 << 20)`: a Store, so it composes like any other."""

    def __init__(
        self,
        central: AsyncStore,
        *,
        cache_size: int = 64 << 20,
        default_cache_ttl: float = DEFAULT_CACHE_TTL,
        serve_stale: float = 0.0,
        follow_feed: bool = True,
        feed_wait: float = 0.5,
        exclusive: bool = False,
        clock: Callable[[], float] = time.time,
        propagation_delay: float = 0.0,
    ) -> None:
        """`propagation_delay` seconds: a change another edge made is applied here only that
        long after it was written (Workers KV's eventual consistency, on demand: what this
        edge holds in memory keeps being answered meanwhile; docs/emulation.md).

        `exclusive=True` says every write through `central` passes through this edge (it
        opened the store itself): the feed then leaves out the edge's own changes, which it
        has applied already. Under the edge's own write load they are most of the feed, and
        reading them cost it as much as a tenth of each write (Redis; other stores read all)."""
        self.central = central
        self.memory = EdgeMemory(cache_size)
        self.default_cache_ttl = default_cache_ttl
        self.serve_stale = serve_stale
        self._clock = clock
        self._flight = AsyncSingleFlight()
        self._background = AsyncBackground()
        self.stats = {"hit": 0, "miss": 0, "expired": 0, "stale": 0, "bypass": 0, "refresh": 0}
        # Caches beside the edge that must follow every change it learns of (edge/observer.py).
        self.observers: list[EdgeObserver] = []
        # What follows the feed through this edge (a relay's change log), page by page.
        self.feed_observers: list[FeedObserver] = []
        # The follower starts with the first call that reaches the central store (a hit can
        # only follow such a call), so constructing an edge needs no running event loop.
        # A store with no change feed (Cloudflare's API) leaves cache_ttl alone to bound
        # staleness; one that can leave this client's own changes out is asked to when every
        # write through it passes here (`exclusive`).
        capabilities = central.capabilities
        self._follow = follow_feed and capabilities.change_feed
        self._feed_wait = feed_wait
        self._following = False
        self._closing = False
        self._exclusive = exclusive and capabilities.exclude_own
        self._unsure_until = 0.0  # time.monotonic() until which own changes are read too
        self.feed_healthy = False
        self.feed_error = ""  # why the follower's last read failed, in edgekv's words
        self.feed_flushes = 0
        self.feed_reconnects = 0  # times the feed came back after a cut
        self.feed_applied: str | None = None  # the feed position applied up to
        self.propagation_delay = propagation_delay
        # Changes held until they are due: (due, change), in the feed's order.
        self._held: deque[tuple[float, Change]] = deque()
        self.feed_read_at = 0.0  # time.monotonic() when the page last applied was asked for

    @property
    def deadlines(self) -> Deadlines | None:
        """The central store's (edgekv.stores.deadlines), when it has them."""
        return getattr(self.central, "deadlines", None)

    @property
    def follows_feed(self) -> bool:
        """Whether this edge reads the central store's change feed itself."""
        return self._follow

    @property
    def capabilities(self) -> Capabilities:
        """The central store's: every call that needs one goes through to it."""
        return self.central.capabilities

    # reads: one door. `_hit` decides HIT for every read; `_read` decides the rest (MISS,
    # EXPIRED, BYPASS from the central store; STALE while it fails). Each read method asks
    # `_hit` first itself: a hit, most reads, costs no coroutine of the door's own.

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        item = self._hit(namespace_id, key, cache_ttl)
        if item is not None:
            return item.entry
        return await self._read(namespace_id, key, cache_ttl, 0)  # type: ignore[return-value]

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        item = self._hit(namespace_id, key, cache_ttl)
        entry = (
            item.entry if item is not None else await self._read(namespace_id, key, cache_ttl, 0)
        )
        return None if entry is None else entry.value  # type: ignore[union-attr]

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        return [await self.get(namespace_id, key, cache_ttl=cache_ttl) for key in keys]

    async def open_value(
        self,
        namespace_id: str,
        key: str,
        *,
        cache_ttl: int | None = None,
        chunk_size: int = 65536,
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        item = self._hit(namespace_id, key, cache_ttl)
        found = (
            item.entry
            if item is not None
            else await self._read(namespace_id, key, cache_ttl, chunk_size)
        )
        if found is None or isinstance(found, tuple):
            return found
        return found, chunks_of(found.value, chunk_size)

    def _hit(self, namespace_id: str, key: str, cache_ttl: int | None) -> Item | None:
        """The memory's item if it may answer this read (HIT): younger than cache_ttl (the
        edge's default when None; 0, a strong read, never) and not expired."""
        if cache_ttl == 0:
            return None
        item = self.memory.lookup(
            (namespace_id, key),
            self._clock(),
            self.default_cache_ttl if cache_ttl is None else cache_ttl,
        )
        if item is not None:
            self.stats["hit"] += 1
        return item

    async def _read(
        self, namespace_id: str, key: str, cache_ttl: int | None, stream: int
    ) -> StoredEntry | _Opened | None:
        """A read that memory could not answer (`_hit` said no): from the central store (MISS,
        EXPIRED; BYPASS for cache_ttl 0), or, while the central store fails, from memory up to
        `serve_stale` seconds past cache_ttl (STALE).

        `stream` (a chunk size) reads as `open_value` does: a value too large to cache passes
        through as chunks, never whole in memory. Entries in memory carry the status HIT.
        """
        ckey = (namespace_id, key)
        now = self._clock()
        ttl = self.default_cache_ttl if cache_ttl is None else float(cache_ttl)
        if cache_ttl == 0:
            self.stats["bypass"] += 1
            known = None
            status: CacheStatus = "BYPASS"
        else:
            item = self.memory.lookup(ckey, now, ttl)  # it may have come meanwhile
            if item is not None:
                self.stats["hit"] += 1
                return item.entry
            known = self.memory.peek(ckey)
            status = "MISS" if known is None else "EXPIRED"
        try:
            if stream:
                found = await self._open(namespace_id, key, stream, status)
            else:
                found = await self._fetch(namespace_id, key)
        except errors.StoreUnavailable:
            if known is not None and (
                now - known.fetched_at < ttl + self.serve_stale
                and (known.entry is None or not _expired(known.entry, now))
            ):
                self.stats["stale"] += 1
                return _with_status(known.entry, "STALE")
            raise
        if status != "BYPASS":
            self.stats["miss" if status == "MISS" else "expired"] += 1
        if found is None or isinstance(found, tuple):
            return found
        return _with_status(found, status)

    async def _fetch(self, namespace_id: str, key: str) -> StoredEntry | None:
        """One central read per key at a time; concurrent misses share it."""
        return await self._flight.do(
            (namespace_id, key), lambda: self._fetch_now(namespace_id, key)
        )

    async def _fetch_now(self, namespace_id: str, key: str) -> StoredEntry | None:
        if not self._following:
            await self.start_following()
        tick = self.memory.begin_fetch()
        try:
            with central_errors():
                entry = await self.central.get(namespace_id, key)
            return self._keep((namespace_id, key), entry, tick)
        finally:
            self.memory.end_fetch()

    async def _open(
        self, namespace_id: str, key: str, chunk_size: int, status: CacheStatus
    ) -> StoredEntry | _Opened | None:
        """Streamed from the central store: a value small enough to cache is kept on the way
        (and answered whole), a large one passes through without ever being whole in memory."""
        if not self._following:
            await self.start_following()
        ckey = (namespace_id, key)
        tick = self.memory.begin_fetch()
        try:
            with central_errors():
                opened = await self.central.open_value(namespace_id, key, chunk_size=chunk_size)
                if opened is None:
                    return self._keep(ckey, None, tick)
                entry, chunks = opened
                if isinstance(chunks, AsyncWholeValue):
                    whole = StoredEntry(
                        chunks.value,
                        entry.metadata_json,
                        entry.expiration,
                        entry.version,
                        None,
                        entry.written_at,
                    )
                    return self._keep(ckey, whole, tick)
                head: list[bytes] = []
                size = 0
                async for chunk in chunks:
                    head.append(chunk)
                    size += len(chunk)
                    if size > _STREAM_CACHE_LIMIT or size > self.memory.max_item_bytes:
                        break
                else:
                    whole = StoredEntry(
                        b"".join(head),
                        entry.metadata_json,
                        entry.expiration,
                        entry.version,
                        None,
                        entry.written_at,
                    )
                    return self._keep(ckey, whole, tick)
        finally:
            self.memory.end_fetch()
        return _with_status(entry, status), _chained(head, chunks)  # type: ignore[return-value]

    def _keep(
        self, ckey: CacheKey, entry: StoredEntry | None, tick: int | None
    ) -> StoredEntry | None:
        """Caches what the central store answered (as a HIT for the reads to come)."""
        self.memory.store(ckey, _with_status(entry, "HIT"), self._clock(), fetch_tick=tick)
        return entry

    async def list_keys(
        self,
        namespace_id: str,
        prefix: str,
        limit: int,
        start_after: str | None,
        *,
        cache_ttl: int | None = None,
    ) -> KeyPage:
        # Lists always come from the central store: Workers KV's stale lists are a complaint,
        # not a feature, and a page of a million keys is too much to invalidate by key.
        with central_errors():
            page = await self.central.list_keys(namespace_id, prefix, limit, start_after)
        page.cache_status = "BYPASS"
        return page

    # writes: through to the central store, then into memory at once (read-your-writes);
    # observers hear of every key a write touched, whether or not it succeeded (it may have)

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        if not self._following:
            await self.start_following()
        version = 0  # unknown, unless the write returns
        try:
            with central_errors():
                version = await self.central.put(
                    namespace_id, write, only_if_absent=only_if_absent, if_version=if_version
                )
        except BaseException as e:
            self._failed(e, namespace_id, (write.key,))
            raise
        finally:
            if self.observers:
                self._tell(namespace_id, (write.key,), (version,))
        ckey = (namespace_id, write.key)
        if isinstance(write.value, bytes):
            now = self._clock()
            entry = StoredEntry(
                write.value, write.metadata_json, write.expiration, version, "HIT", int(now)
            )
            self.memory.store(ckey, entry, now)
        else:
            self.memory.invalidate(ckey)
        return version

    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        if not self._following:
            await self.start_following()
        versions: list[int] = []
        try:
            with central_errors():
                versions = await self.central.put_many(namespace_id, writes)
        except BaseException as e:
            self._failed(e, namespace_id, [write.key for write in writes])
            raise
        finally:
            if self.observers:
                self._tell(namespace_id, [write.key for write in writes], versions)
        now = self._clock()
        for write, version in zip(writes, versions, strict=True):
            if isinstance(write.value, bytes):
                entry = StoredEntry(
                    write.value, write.metadata_json, write.expiration, version, "HIT", int(now)
                )
                self.memory.store((namespace_id, write.key), entry, now)
        return versions

    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        if not self._following:
            await self.start_following()
        try:
            with central_errors():
                await self.central.delete_many(namespace_id, keys)
        except BaseException as e:
            self._failed(e, namespace_id, keys)
            raise
        finally:
            if self.observers:
                self._tell(namespace_id, keys)
        now = self._clock()
        for key in keys:
            self.memory.invalidate((namespace_id, key))
            self.memory.store((namespace_id, key), None, now)

    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        try:
            with central_errors():
                value = await self.central.incr(namespace_id, key, by, expiration)
        except BaseException as e:
            self._failed(e, namespace_id, (key,))
            raise
        finally:
            if self.observers:
                self._tell(namespace_id, (key,))
        self.memory.invalidate((namespace_id, key))
        return value

    def _failed(self, e: BaseException, namespace_id: str, keys: Sequence[str]) -> None:
        """After a failed write: one that may have been applied all the same (anything but
        the store's own refusal: a lost connection, a timeout, a cancelled request) drops
        its keys from memory, and the feed is read with this edge's own changes for a while,
        to learn whether it landed."""
        if isinstance(e, errors.KVError) and not isinstance(e, errors.StoreUnavailable):
            return  # refused (a failed condition, a missing namespace): nothing was written
        self.unanswered(namespace_id, keys)

    def unanswered(self, namespace_id: str, keys: Sequence[str]) -> None:
        """Writes of `keys` that were not answered in time (they may land yet): their keys
        leave memory now, and the feed is read with this edge's own changes for a while."""
        for key in keys:
            self.memory.invalidate((namespace_id, key))
        self._unsure_until = time.monotonic() + UNSURE_WINDOW

    def _tell(
        self, namespace_id: str, keys: Sequence[str | None], versions: Sequence[int] = ()
    ) -> None:
        """Tells the observers of keys this edge wrote, with their new versions where known
        (0: unknown, as after a delete or a write that failed)."""
        known = len(versions) == len(keys)
        for observer in self.observers:
            for i, key in enumerate(keys):
                observer.changed(namespace_id, key, versions[i] if known else 0)

    # the change feed

    async def start_following(self) -> None:
        """Starts applying the central store's change feed to this edge's memory."""
        if self._following or not self._follow:
            self._following = True
            return
        self._following = True
        try:
            with central_errors():
                position = await self.central.feed_position()
        except BaseException:
            self._following = False  # the next call that reaches the store starts it again
            raise
        self.feed_healthy = True
        self._background.spawn("feed", functools.partial(self._follow_feed, position))

    async def _follow_feed(self, position: str) -> None:
        """Reads the feed from `position` until closed; on a cut, retries with backoff.

        While the feed is cut, cache_ttl alone bounds staleness. When it comes back, the
        changes since `position` are applied, or, if they fell out of retention, everything
        is flushed: the edge never serves what it cannot prove fresh.
        """
        backoff = 0.05
        while not self._closing:
            try:
                if self._held:
                    await self._apply_due()
                asked = time.monotonic()
                exclude_own = self._exclusive and asked >= self._unsure_until
                async with AsyncDeadline(FEED_READ_LIMIT):
                    page = await self.central.changes(position, 1000, exclude_own=exclude_own)
                self.feed_read_at = asked
                if page.behind:
                    self.flush()
                if self.propagation_delay > 0:
                    await self._hold(page.changes)
                else:
                    await self.apply_changes(page.changes)
                position = self.feed_applied = page.position
                if not self.feed_healthy:
                    self.feed_reconnects += 1
                self.feed_healthy = True
                self.feed_error = ""
                backoff = 0.05
                read = len(page.changes) + page.left_out
                if read and len(page.changes) < 1000:
                    # Caught up under a write load: pause a moment before the next read, so the
                    # feed is read in pages, not once per write (a PostgreSQL feed read briefly
                    # holds the write lock that orders the feed).
                    busy = read >= BUSY_PAGE
                    await asyncio.sleep(BUSY_FEED_PAUSE if busy else FEED_PAUSE)
                elif not read:
                    try:
                        async with AsyncDeadline(FEED_READ_LIMIT + self._feed_wait):
                            await self.central.wait_for_changes(position, self._next_wait())
                    except Exception:  # the push signal is down, not the feed: poll it
                        await asyncio.sleep(self._feed_wait)
            except Exception as e:  # the feed must outlive any failure of the central store
                if self._closing:
                    return
                if self.feed_healthy:
                    log.warning("change feed cut (%s); retrying, cache_ttl bounds staleness", e)
                self.feed_healthy = False
                self.feed_error = reason_of(e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _hold(self, changes: Sequence[Change]) -> None:
        """Holds other edges' changes until `propagation_delay` after they were written (when
        the store does not say, after they were read), then applies those that are due."""
        now = self._clock()
        delay = self.propagation_delay
        for change in changes:
            written = float(change.at or now)
            if written.is_integer():
                # Whole seconds (SQLite's clock): the write was within the second after, and
                # no later than now; never let it out early.
                written = min(written + 1.0, now)
            self._held.append((written + delay, change))
        await self._apply_due()

    async def _apply_due(self) -> None:
        held = self._held
        if not held:
            return
        now = self._clock()
        due = []
        while held and held[0][0] <= now:
            due.append(held.popleft()[1])
        if due:
            await self.apply_changes(due)

    def _next_wait(self) -> float:
        """How long the follower may wait for new changes: until the next held one is due."""
        if not self._held:
            return self._feed_wait
        until = self._held[0][0] - self._clock()
        return min(self._feed_wait, max(until, 0.005))

    async def apply_changes(self, changes: Sequence[Change]) -> None:
        """Drops what changed; refreshes hot keys in the background instead of dropping them.

        A change of unknown version (seq 0: a worker of the same node told of a write whose
        version it did not learn) drops whatever is cached. A read that starts after a change
        never joins a fetch that started before it (which may predate the change)."""
        observers = self.observers
        flight = self._flight
        for change in changes:
            for observer in observers:
                observer.changed(change.namespace_id, change.key, change.seq)
            if change.key is None:
                self.memory.invalidate_namespace(change.namespace_id)
                namespace_id = change.namespace_id
                flight.forget_if(lambda k, ns=namespace_id: k[0] == ns)  # type: ignore[misc]
                continue
            ckey = (change.namespace_id, change.key)
            flight.forget(ckey)
            dropped = self.memory.invalidate(ckey, change.seq or None)
            if dropped is not None and dropped.hits >= HOT_HITS:
                self.stats["refresh"] += 1
                self._background.spawn(f"refresh {ckey}", functools.partial(self._refresh, ckey))
        for feed_observer in self.feed_observers:
            feed_observer.applied(changes)

    async def _refresh(self, ckey: CacheKey) -> None:
        try:
            await self._fetch(*ckey)
        except errors.KVError as e:
            log.warning("background refresh of %r failed: %s", ckey, e)

    def flush(self) -> None:
        """Forgets everything: the feed cannot prove what is fresh (it fell behind retention)."""
        self.feed_flushes += 1
        self.memory.clear()
        for observer in self.observers:
            observer.flushed()
        for feed_observer in self.feed_observers:
            feed_observer.flushed()

    # namespaces and the rest pass through

    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        with central_errors():
            return await self.central.create_namespace(title, account_id, namespace_id)

    async def list_namespaces(
        self,
        account_id: str | None,
        *,
        order: NamespaceOrder = "id",
        direction: Direction = "asc",
        offset: int = 0,
        limit: int = 20,
    ) -> NamespacePage:
        with central_errors():
            return await self.central.list_namespaces(
                account_id, order=order, direction=direction, offset=offset, limit=limit
            )

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        with central_errors():
            return await self.central.get_namespace(namespace_id)

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        with central_errors():
            return await self.central.find_namespace(account_id, title)

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        try:
            with central_errors():
                return await self.central.rename_namespace(namespace_id, title)
        finally:
            self._tell(namespace_id, (None,))

    async def delete_namespace(self, namespace_id: str) -> None:
        try:
            with central_errors():
                await self.central.delete_namespace(namespace_id)
        finally:
            self._tell(namespace_id, (None,))
        self.memory.invalidate_namespace(namespace_id)

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        with central_errors():
            return await self.central.namespace_usage(namespace_id)

    async def feed_position(self) -> str:
        with central_errors():
            return await self.central.feed_position()

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        with central_errors():
            return await self.central.changes(position, limit, exclude_own=exclude_own)

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        with central_errors():
            return await self.central.wait_for_changes(position, seconds)

    async def purge_expired(self, limit: int = 1000) -> int:
        with central_errors():
            return await self.central.purge_expired(limit)

    async def stop_following(self) -> None:
        self._closing = True
        # The follower sees _closing within feed_wait, or its read's deadline; what still
        # waits on the store after CLOSE_GRACE is cancelled.
        await self._background.aclose(CLOSE_GRACE)

    def health(self) -> dict[str, object]:
        """What an operator wants to see of an edge: feed health, memory, hits and misses."""
        return {
            "feed_healthy": self.feed_healthy,
            "feed_error": self.feed_error,
            "feed_flushes": self.feed_flushes,
            "feed_reconnects": self.feed_reconnects,
            "cache_bytes": self.memory.bytes,
            "cache_max_bytes": self.memory.max_bytes,
            "cache_items": len(self.memory.items),
            "evictions": self.memory.evictions,
            # What this edge's follower cost the store it follows (when that store counts it).
            "central_feed_reads": getattr(self.central, "feed_reads", 0),
            **self.stats,
        }

    async def aclose(self) -> None:
        await self.stop_following()
        self.memory.clear()
        with central_errors():
            await self.central.aclose()


class _CentralErrors:
    """Python's own connection errors and timeouts, let through by a store of another's, as
    StoreUnavailable (503). edgekv's stores raise it themselves for their drivers' faults
    (edgekv.stores.faults); the edge knows no driver.

    A class, not @contextmanager: every write and every miss passes here, and a generator
    per call costs more than the write's own bookkeeping.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, e: BaseException | None, tb: object) -> None:
        if isinstance(e, TimeoutError):  # never suppresses
            raise unavailable("timed out") from e
        if isinstance(e, OSError):
            raise unavailable("connection lost") from e


_CENTRAL_ERRORS = _CentralErrors()


def central_errors() -> _CentralErrors:
    return _CENTRAL_ERRORS


def _expired(entry: StoredEntry, now: float) -> bool:
    return entry.expiration is not None and entry.expiration <= now


def _with_status(entry: StoredEntry | None, status: str) -> StoredEntry | None:
    if entry is None:
        return None
    return StoredEntry(
        entry.value,
        entry.metadata_json,
        entry.expiration,
        entry.version,
        status,  # type: ignore[arg-type]
        entry.written_at,
    )


async def _chained(head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in head:
        yield chunk
    async for chunk in rest:
        yield chunk
