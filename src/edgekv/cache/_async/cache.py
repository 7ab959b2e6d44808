"""AsyncCache: cache-aside over memory -> KV namespace -> loader.

Policies by key pattern, stale-while-revalidate, stale-if-error, single-flight (in-process, and
across processes with a lease taken by a conditional write), tag invalidation by timestamps, and
stats. This file is the source of the sync `Cache` too (scripts/unasync.py).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import math
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from edgekv import errors
from edgekv.api._async.kv import AsyncNamespace
from edgekv.cache.durations import Duration, seconds
from edgekv.cache.keys import compile_key
from edgekv.cache.kv_format import JSON, Serializer, Stored, decode, kv_ttl, metadata
from edgekv.cache.memory_tier import Entry, MemoryTier, size_of
from edgekv.cache.policy import Policies, Policy
from edgekv.cache.stats import PolicyStats, Stats
from edgekv.concurrency import (
    AsyncBackground,
    AsyncFunction,
    AsyncLoader,
    AsyncSingleFlight,
    P,
)

T = TypeVar("T")
log = logging.getLogger("edgekv.cache")

_MISSING: Any = object()
_MAX_TAGS = 100


class AsyncCache:
    """`await cache.get_or_set(key, loader)`, `@cache.cached("{tenant}:site:{site_id}")`.

    namespace: the KV tier (None: memory only). policies: a `Policies`, a TOML file path or
    TOML text (None: one default policy of `ttl`). memory_bytes: the memory tier's bound.
    prefix: where in the namespace the cache keeps its entries. tag_ttl: how long a tag's
    invalidation time is trusted before it is read again (how soon other processes see it).
    """

    def __init__(
        self,
        namespace: AsyncNamespace | None = None,
        *,
        policies: Policies | str | Path | None = None,
        ttl: Duration | None = "5m",
        memory_bytes: int = 64 << 20,
        prefix: str = "cache:",
        serializer: Serializer = JSON,
        clock: Callable[[], float] = time.time,
        tag_ttl: Duration = 1.0,
        name: str = "default",
    ) -> None:
        self.namespace = namespace
        if policies is None:
            policies = Policies(default=Policy.of(ttl=ttl))
        elif not isinstance(policies, Policies):
            policies = Policies.from_toml(policies)
        self.policies = policies
        self.stats = Stats(name)
        self.memory = MemoryTier(memory_bytes, self.stats)
        self.prefix = prefix
        self.serializer = serializer
        self._clock = clock
        self._tag_ttl = seconds(tag_ttl, "tag_ttl") or 0.0
        self._tag_times: dict[str, float] = {}
        self._tag_checked: dict[str, float] = {}
        self._flights = AsyncSingleFlight()
        self._background = AsyncBackground()

    # the hot path

    async def get_or_set(
        self,
        key: str,
        loader: AsyncLoader[T],
        ttl: Duration | None = None,
        *,
        stale: Duration | None = None,
        stale_if_error: Duration | None = None,
        negative_ttl: Duration | None = None,
        memory_ttl: Duration | None = None,
        lease: Duration | None = None,
        tags: Sequence[str] = (),
    ) -> T:
        """The cached value of key, else `await loader()`, stored by the key's policy.

        A cached falsy value (0, "", [], False) is a hit. None is cached only when the policy
        or `negative_ttl` says so. Options given here override the key's policy.
        """
        entry = self.memory.data.get(key)
        if entry is not None:
            now = self._clock()
            if entry.fresh_until > now and (not entry.tags or self._tags_fresh(entry, now)):
                self.memory.data.move_to_end(key)
                entry.stats.memory_hits += 1
                return entry.value  # type: ignore[no-any-return]
        policy = self.policies.lookup(key)
        if not (ttl is stale is stale_if_error is negative_ttl is memory_ttl is lease is None):
            policy = policy.with_overrides(
                ttl=ttl,
                stale=stale,
                stale_if_error=stale_if_error,
                negative_ttl=negative_ttl,
                memory_ttl=memory_ttl,
                lease=lease,
            )
        return await self._miss(key, loader, policy, tuple(tags))  # type: ignore[no-any-return]

    def cached(
        self,
        key: str | Callable[..., str],
        ttl: Duration | None = None,
        *,
        stale: Duration | None = None,
        stale_if_error: Duration | None = None,
        negative_ttl: Duration | None = None,
        memory_ttl: Duration | None = None,
        lease: Duration | None = None,
        tags: Sequence[str] = (),
    ) -> Callable[[AsyncFunction[P, T]], AsyncFunction[P, T]]:
        """Caches a function's results under a key template of its arguments.

        `@cache.cached("{tenant}:site:{site_id}:config", ttl="10m", tags=["tenant:{tenant}"])`.
        The template is compiled once; the wrapper has `.key(*args, **kwargs)` and
        `.invalidate(*args, **kwargs)`.
        """
        options = {
            "ttl": ttl,
            "stale": stale,
            "stale_if_error": stale_if_error,
            "negative_ttl": negative_ttl,
            "memory_ttl": memory_ttl,
            "lease": lease,
        }
        Policy.of(**{k: v for k, v in options.items() if v is not None})  # fail at decoration

        def decorate(fn: AsyncFunction[P, T]) -> AsyncFunction[P, T]:
            if not inspect.iscoroutinefunction(fn):  # unasync: remove
                raise TypeError("AsyncCache.cached takes async functions")  # unasync: remove
            make_key = key if callable(key) else compile_key(key, fn)
            tag_keys = [compile_key(t, fn) for t in tags]
            data = self.memory.data
            clock = self._clock
            overrides = {k: v for k, v in options.items() if v is not None}
            resolved: dict[str, Policy] = {}

            @functools.wraps(fn)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
                k = make_key(*args, **kwargs)
                entry = data.get(k)
                if entry is not None and entry.fresh_until > clock() and not entry.tags:
                    data.move_to_end(k)
                    entry.stats.memory_hits += 1
                    return entry.value  # type: ignore[no-any-return]
                policy = self.policies.lookup(k)
                if overrides:
                    found = resolved.get(policy.pattern)
                    if found is None:
                        found = resolved[policy.pattern] = policy.with_overrides(**overrides)
                    policy = found
                tag_values = tuple(t(*args, **kwargs) for t in tag_keys)
                return await self._miss(k, lambda: fn(*args, **kwargs), policy, tag_values)  # type: ignore[no-any-return]

            async def invalidate(*args: Any, **kwargs: Any) -> None:
                await self.delete(make_key(*args, **kwargs))

            wrapper.key = make_key  # type: ignore[attr-defined]
            wrapper.invalidate = invalidate  # type: ignore[attr-defined]
            return wrapper

        return decorate

    # plain reads and writes

    async def get(self, key: str, default: Any = None, *, fallback_on_error: bool = True) -> Any:
        """The fresh cached value of key (memory, then KV), else default. Never loads.

        A KV tier that is unavailable (StoreUnavailable) is a miss: default is returned and
        the error counted (stats `kv_errors`); `fallback_on_error=False` raises it instead.
        """
        entry = self.memory.data.get(key)
        if entry is not None and entry.tags:
            try:
                await self._load_tag_times(entry.tags)
            except errors.StoreUnavailable:
                if not fallback_on_error:
                    raise
                entry.stats.kv_errors += 1  # tags unknown: the entry may be invalidated
                entry.stats.misses += 1
                log.warning("cache: reading the tags of %r from KV failed", key)
                return default
            if self._invalidated(entry.stored_at, entry.tags):
                self.memory.pop(key)
                entry = None
        if entry is not None and entry.fresh_until > self._clock():
            self.memory.data.move_to_end(key)
            entry.stats.memory_hits += 1
            return entry.value
        stats = self.stats.of(self.policies.lookup(key).pattern)
        stats.memory_misses += 1
        if self.namespace is not None:
            try:
                found = await self._kv_read(key)
            except errors.StoreUnavailable as exc:
                if not fallback_on_error:
                    raise
                stats.kv_errors += 1
                stats.misses += 1
                log.warning("cache: reading %r from KV failed: %s", key, exc)
                return default
            if found is not None and found.expires_at > self._clock():
                stats.kv_hits += 1
                self.memory.put(self._entry(key, found, self.policies.lookup(key), stats))
                return found.value
            stats.kv_misses += 1
        stats.misses += 1
        return default

    async def set(
        self,
        key: str,
        value: Any,
        ttl: Duration | None = None,
        *,
        tags: Sequence[str] = (),
        **options: Duration | None,
    ) -> None:
        """Stores value under key by its policy (options override it), in every tier."""
        policy = self.policies.lookup(key).with_overrides(ttl=ttl, **options)
        await self._store(key, value, policy, tuple(tags), self.stats.of(policy.pattern))

    async def delete(self, key: str) -> None:
        """Invalidates one key in this process's memory and in KV."""
        self.memory.pop(key)
        if self.namespace is not None:
            await self.namespace.delete(self.prefix + key)

    async def invalidate_prefix(self, prefix: str) -> int:
        """Invalidates every key starting with prefix: all list pages, deleted in bulk.

        Returns how many KV entries were deleted. Other processes' memory tiers keep their
        copies until their memory_ttl; use tags when that matters.
        """
        self.memory.pop_prefix(prefix)
        if self.namespace is None:
            return 0
        deleted, cursor = 0, None
        start = len(self.prefix)
        while True:
            page = await self.namespace.list(
                prefix=self.prefix + prefix, cursor=cursor, consistency="strong"
            )
            # The cache's own bookkeeping (tags, leases) lives under "!": never swept here.
            names = [k.name for k in page.keys if not k.name.startswith("!", start)]
            if names:
                await self.namespace.bulk_delete(names)
                deleted += len(names)
            if page.list_complete:
                return deleted
            cursor = page.cursor

    async def invalidate_tag(self, tag: str) -> None:
        """Invalidates every entry carrying the tag, without scanning: entries stored before
        the tag's invalidation time are treated as absent when read (other processes see it
        within tag_ttl)."""
        now = self._clock()
        if self.namespace is not None:
            await self.namespace.put(self._tag_key(tag), repr(now))
        self._tag_times[tag] = now
        self._tag_checked[tag] = now + self._tag_ttl if self.namespace is not None else math.inf

    async def clear(self) -> int:
        """Drops the memory tier and every cache entry in KV (tags and leases stay)."""
        self.memory.clear()
        return await self.invalidate_prefix("")

    async def drain(self) -> None:
        """Waits for background refreshes (tests, and a clean shutdown)."""
        await self._background.drain()

    async def aclose(self) -> None:
        await self._background.aclose()

    async def __aenter__(self) -> AsyncCache:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # the miss path

    async def _miss(
        self, key: str, loader: AsyncLoader[Any], policy: Policy, tags: tuple[str, ...]
    ) -> Any:
        stats = self.stats.of(policy.pattern)
        if not policy.cache:
            stats.bypasses += 1
            return await self._call_loader(loader, stats)
        if len(tags) > _MAX_TAGS:
            raise errors.BadRequest(f"An entry can carry at most {_MAX_TAGS} tags.")
        return await self._flights.do(key, lambda: self._fill(key, loader, policy, tags, stats))

    async def _fill(
        self,
        key: str,
        loader: AsyncLoader[Any],
        policy: Policy,
        tags: tuple[str, ...],
        stats: PolicyStats,
    ) -> Any:
        best = self.memory.get(key)
        if best is not None and best.tags:
            await self._load_tag_times(best.tags)
            if self._invalidated(best.stored_at, best.tags):
                self.memory.pop(key)
                best = None
        if best is not None and best.fresh_until > self._clock():
            stats.memory_hits += 1  # a follower of a flight that just filled it
            return best.value
        stats.memory_misses += 1
        store_failed = False
        if self.namespace is not None:
            try:
                found = await self._kv_read(key)
            except errors.CALLER_ERRORS:
                raise
            except Exception as exc:
                stats.kv_errors += 1
                store_failed = True
                log.warning("cache: reading %r from KV failed: %r", key, exc)
            else:
                if found is None:
                    stats.kv_misses += 1
                    best = None  # KV is the shared truth: an invalidated key is gone
                else:
                    entry = self._entry(key, found, policy, stats)
                    if entry.expires_at > self._clock():
                        stats.kv_hits += 1
                        self.memory.put(entry)
                        return entry.value
                    stats.kv_misses += 1
                    best = entry
        now = self._clock()
        if best is not None:
            if store_failed and now < best.expires_at:
                stats.error_serves += 1
                return best.value
            if best.expires_at <= now < best.stale_until:
                stats.stale_serves += 1
                if self._background.spawn(
                    key, lambda: self._refresh(key, loader, policy, tags, stats)
                ):
                    stats.refreshes += 1
                return best.value
        stats.misses += 1
        try:
            return await self._load(key, loader, policy, tags, stats)
        except Exception as exc:
            if best is not None and self._clock() < best.error_until:
                stats.error_serves += 1
                log.warning(
                    "cache: loading %r failed (%r); serving the value stored at %s",
                    key,
                    exc,
                    best.stored_at,
                )
                return best.value
            raise

    async def _refresh(
        self,
        key: str,
        loader: AsyncLoader[Any],
        policy: Policy,
        tags: tuple[str, ...],
        stats: PolicyStats,
    ) -> None:
        try:
            await self._load(key, loader, policy, tags, stats)
        except Exception as exc:
            stats.refresh_errors += 1
            log.warning("cache: refreshing %r failed: %r", key, exc)

    async def _load(
        self,
        key: str,
        loader: AsyncLoader[Any],
        policy: Policy,
        tags: tuple[str, ...],
        stats: PolicyStats,
    ) -> Any:
        if policy.lease is not None and self.namespace is not None:
            return await self._load_leased(key, loader, policy, tags, stats)
        value = await self._call_loader(loader, stats)
        await self._store(key, value, policy, tags, stats)
        return value

    async def _call_loader(self, loader: AsyncLoader[Any], stats: PolicyStats) -> Any:
        stats.loader_calls += 1
        started = time.perf_counter()
        try:
            return await loader()
        except Exception:
            stats.loader_errors += 1
            raise
        finally:
            stats.loader_seconds += time.perf_counter() - started

    async def _load_leased(
        self,
        key: str,
        loader: AsyncLoader[Any],
        policy: Policy,
        tags: tuple[str, ...],
        stats: PolicyStats,
    ) -> Any:
        """Across processes, one loader call per lease: take the lease with a conditional
        write, or wait for its holder's value; a lease whose holder died expires."""
        ns = self.namespace
        assert ns is not None and policy.lease is not None
        lease_key = f"{self.prefix}!lease:{key}"
        delay = 0.002
        while True:
            now = self._clock()
            token = secrets.token_hex(8)
            body = json.dumps({"owner": token, "until": now + policy.lease})
            legal_ttl = kv_ttl(now, now + policy.lease)
            won = True
            try:
                await ns.put(lease_key, body, expiration_ttl=legal_ttl, only_if_absent=True)
            except errors.PreconditionFailed:
                won = False
                held = await ns.get_with_metadata(lease_key, "json", consistency="strong")
                if held.value is None:
                    continue  # released meanwhile: try again
                if float(held.value.get("until", 0)) <= now:
                    try:
                        await ns.put(
                            lease_key, body, expiration_ttl=legal_ttl, if_version=held.version
                        )
                        won = True
                    except errors.PreconditionFailed:
                        pass
            if won:
                try:
                    value = await self._call_loader(loader, stats)
                    await self._store(key, value, policy, tags, stats)
                    return value
                finally:
                    await self._release(lease_key, token)
            stats.lease_waits += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
            found = await self._kv_read(key, strong=True)
            if found is not None and found.expires_at > self._clock():
                stats.kv_hits += 1
                self.memory.put(self._entry(key, found, policy, stats))
                return found.value

    async def _release(self, lease_key: str, token: str) -> None:
        assert self.namespace is not None
        try:
            held = await self.namespace.get(lease_key, "json", consistency="strong")
            if held is not None and held.get("owner") == token:
                await self.namespace.delete(lease_key)
        except Exception as exc:  # the lease expires on its own
            log.warning("cache: releasing %r failed: %r", lease_key, exc)

    # tiers

    async def _kv_read(self, key: str, strong: bool = False) -> Stored | None:
        assert self.namespace is not None
        found = await self.namespace.get_with_metadata(
            self.prefix + key, "bytes", consistency="strong" if strong else "eventual"
        )
        if found.value is None:
            return None
        stored = decode(found.value, found.metadata, self.serializer)
        if stored is not None and stored.tags:
            await self._load_tag_times(stored.tags)
            if self._invalidated(stored.stored_at, stored.tags):
                return None
        return stored

    async def _store(
        self, key: str, value: Any, policy: Policy, tags: tuple[str, ...], stats: PolicyStats
    ) -> None:
        negative = value is None
        ttl = policy.negative_ttl if negative else policy.ttl
        if negative and ttl is None:
            return  # None is cached only when asked
        now = self._clock()
        expires = math.inf if ttl is None else now + ttl
        encoded: int | None = None
        if self.namespace is not None:
            raw = b"" if negative else self.serializer.dumps(value)
            encoded = len(raw)
            try:
                await self.namespace.put(
                    self.prefix + key,
                    raw,
                    metadata=metadata(now, expires, tags, negative),
                    expiration_ttl=kv_ttl(now, expires + policy.keep_for),
                )
            except errors.CALLER_ERRORS:
                raise
            except Exception as exc:
                stats.kv_errors += 1
                log.warning("cache: writing %r to KV failed: %r", key, exc)
        stored = Stored(value, now, expires, tags, size_of(value, encoded))
        self.memory.put(self._entry(key, stored, policy, stats))

    def _entry(self, key: str, stored: Stored, policy: Policy, stats: PolicyStats) -> Entry:
        fresh = stored.expires_at
        if policy.memory_ttl is not None and self.namespace is not None:
            fresh = min(fresh, self._clock() + policy.memory_ttl)
        return Entry(
            key,
            stored.value,
            stored_at=stored.stored_at,
            expires_at=stored.expires_at,
            fresh_until=fresh,
            stale_until=stored.expires_at + policy.stale,
            error_until=stored.expires_at + policy.stale_if_error,
            tags=stored.tags,
            size=stored.size,
            stats=stats,
        )

    # tags

    def _tag_key(self, tag: str) -> str:
        return f"{self.prefix}!tag:{tag}"

    def _tags_fresh(self, entry: Entry, now: float) -> bool:
        """True when every tag's time is known and none invalidates the entry."""
        checked, times = self._tag_checked, self._tag_times
        for tag in entry.tags:
            if checked.get(tag, 0.0) <= now:
                return False
            if entry.stored_at <= times.get(tag, -math.inf):
                return False
        return True

    def _invalidated(self, stored_at: float, tags: tuple[str, ...]) -> bool:
        times = self._tag_times
        return any(stored_at <= times.get(tag, -math.inf) for tag in tags)

    async def _load_tag_times(self, tags: tuple[str, ...]) -> None:
        now = self._clock()
        due = [t for t in tags if self._tag_checked.get(t, 0.0) <= now]
        if not due:
            return
        if self.namespace is None:
            for tag in due:
                self._tag_checked[tag] = math.inf
            return
        found = await self.namespace.get(
            [self._tag_key(t) for t in due], "text", consistency="strong"
        )
        for tag in due:
            text = found.get(self._tag_key(tag))
            if text is None:
                self._tag_times.pop(tag, None)
            else:
                self._tag_times[tag] = float(text)
            self._tag_checked[tag] = now + self._tag_ttl
