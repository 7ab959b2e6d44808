"""Issue 5 figures: the cache toolkit's hit paths and flag checks against cashews, aiocache,
functools.lru_cache and a dict lookup, measured side by side in one run.

100-byte values, one process. Anchors: cashews 7.6 (`mem://`) `cache.get` and its `@cache`
decorator, aiocache 0.12 `SimpleMemoryCache.get`, `functools.lru_cache`, a plain dict lookup.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

from aiocache import SimpleMemoryCache
from cashews import Cache as CashewsCache

import edgekv
from benchmarks.harness import interleaved, report
from edgekv.cache import AsyncCache, Cache
from edgekv.recipes import Flag, Flags

VALUE = "v" * 100
OPS = 20_000
USERS = [f"user-{i}" for i in range(10_000)]


def main() -> bool:
    ok = True
    loop = asyncio.new_event_loop()
    run: Callable[[Any], Any] = loop.run_until_complete

    # subjects: a cache over a KV namespace, hits answered by the memory tier
    kv = edgekv.AsyncKV("memory://")
    ns = run(kv.create_namespace("BENCH"))
    cache = AsyncCache(ns, ttl="10m")
    sync_kv = edgekv.KV("memory://")
    sync_cache = Cache(sync_kv.create_namespace("BENCH"), ttl="10m")

    async def load() -> str:
        return VALUE

    run(cache.get_or_set("item:1", load))

    @cache.cached("item:{item_id}", ttl="10m")
    async def item(item_id: int) -> str:
        return VALUE

    @sync_cache.cached("item:{item_id}", ttl="10m")
    def sync_item(item_id: int) -> str:
        return VALUE

    # anchors
    cashews = CashewsCache()
    cashews.setup("mem://")
    run(cashews.set("item:1", VALUE))

    @cashews(ttl="10m")
    async def cashews_item(item_id: int) -> str:
        return VALUE

    aio = SimpleMemoryCache()
    run(aio.set("item:1", VALUE))

    @functools.lru_cache(maxsize=1024)
    def lru_item(item_id: int) -> str:
        return VALUE

    run(item(1))
    run(cashews_item(1))
    sync_item(1)
    lru_item(1)

    def in_loop(fn: Callable[[], Any]) -> Callable[[], None]:
        async def many() -> None:
            for _ in range(OPS):
                await fn()

        return lambda: run(many())

    gets = interleaved(
        {
            "cashews cache.get": in_loop(lambda: cashews.get("item:1")),
            "aiocache get": in_loop(lambda: aio.get("item:1")),
            "get_or_set": in_loop(lambda: cache.get_or_set("item:1", load)),
        },
        OPS,
    )
    ok &= report(
        "await cache.get_or_set(key, loader) memory-tier hit",
        gets["get_or_set"],
        [(gets["cashews cache.get"], 0.3), (gets["aiocache get"], 0.1)],
    )

    def lru_calls() -> None:
        for _ in range(OPS):
            lru_item(1)

    def sync_decorated() -> None:
        for _ in range(OPS):
            sync_item(1)

    async def cashews_calls() -> None:
        for _ in range(OPS):
            await cashews_item(1)

    async def decorated_calls() -> None:
        for _ in range(OPS):
            await item(1)

    decorated = interleaved(
        {
            "cashews @cache": lambda: run(cashews_calls()),
            "lru_cache": lru_calls,
            "@cached": lambda: run(decorated_calls()),
            "sync @cached": sync_decorated,
        },
        OPS,
    )
    ok &= report(
        "@cache.cached(...) decorator hit",
        decorated["@cached"],
        [(decorated["cashews @cache"], 0.05), (decorated["lru_cache"], 25)],
    )
    print(
        f"  (sync Cache.cached hit: {decorated['sync @cached'].us:.2f} us, "
        f"{decorated['sync @cached'].seconds / decorated['lru_cache'].seconds:.1f} x lru_cache)"
    )

    # flag checks: 10,000 users against a 25% rollout, from the in-memory snapshot
    flags = Flags(sync_kv.create_namespace("FLAGS"), refresh_interval="1h")
    flags.set("new-checkout", enabled=True, rollout=25, deny=["user-3"])
    by_user = {u: True for u in USERS}
    for u in USERS:
        flags.is_enabled("new-checkout", u)

    def flag_checks() -> None:
        check = flags.is_enabled
        for u in USERS:
            check("new-checkout", u)

    def dict_lookups() -> None:
        for u in USERS:
            by_user[u]

    def first_sight() -> None:
        flag = Flag("cold", enabled=True, rollout=25)  # a new definition: nothing memoised
        for u in USERS:
            flag.check(u)

    checks = interleaved(
        {"dict lookup": dict_lookups, "flag check": flag_checks, "first sight": first_sight},
        len(USERS),
    )
    ok &= report(
        "flags.is_enabled(flag, user)", checks["flag check"], [(checks["dict lookup"], 20)]
    )
    print(
        f"  (a user's first check of a definition hashes BLAKE2b: {checks['first sight'].us:.2f} us,"
        f" {checks['first sight'].seconds / checks['dict lookup'].seconds:.1f} x a dict lookup)"
    )

    run(kv.aclose())
    sync_kv.close()
    loop.close()
    return ok


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
