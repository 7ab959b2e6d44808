from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import edgekv
from edgekv.cache import AsyncCache, Policies, Policy
from tests.clock import FakeClock


class Loader:
    """A loader that counts its calls and returns whatever `value` is set to."""

    def __init__(self, value: Any = "v1") -> None:
        self.value = value
        self.calls = 0
        self.fail: Exception | None = None

    async def __call__(self) -> Any:
        self.calls += 1
        await asyncio.sleep(0)  # a real suspension, as I/O would have
        if self.fail is not None:
            raise self.fail
        return self.value


def make(namespace: edgekv.AsyncNamespace | None, clock: FakeClock, **kw: Any) -> AsyncCache:
    return AsyncCache(namespace, clock=clock, **kw)


@pytest.mark.parametrize("falsy", [0, "", False, [], {}, 0.0])
async def test_a_cached_falsy_value_is_a_hit(
    namespace: edgekv.AsyncNamespace, clock: FakeClock, falsy: Any
) -> None:
    cache, load = make(namespace, clock), Loader(falsy)
    assert await cache.get_or_set("k", load) == falsy
    assert await cache.get_or_set("k", load) == falsy
    # and from the KV tier, in a cache with an empty memory tier
    assert await make(namespace, clock).get_or_set("k", load) == falsy
    assert load.calls == 1


async def test_none_is_cached_only_when_asked(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    cache, load = make(namespace, clock), Loader(None)
    await cache.get_or_set("k", load)
    await cache.get_or_set("k", load)
    assert load.calls == 2
    await cache.get_or_set("n", load, ttl="1h", negative_ttl=20)
    await cache.get_or_set("n", load, ttl="1h", negative_ttl=20)
    assert await make(namespace, clock).get_or_set("n", load, negative_ttl=20) is None
    assert load.calls == 3
    clock.advance(21)  # the negative entry has its own, shorter TTL
    await cache.get_or_set("n", load, ttl="1h", negative_ttl=20)
    assert load.calls == 4


async def test_ttl_under_the_kv_minimum(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    cache, load = make(namespace, clock), Loader()
    await cache.get_or_set("dash:stat", load, ttl=10)
    stored = await namespace.get_with_metadata("cache:dash:stat")
    assert stored.value == '"v1"'  # the value stays plain JSON for any other reader
    assert stored.expiration is not None and stored.expiration >= clock() + 60
    other = make(namespace, clock)  # another process: empty memory tier
    clock.advance(9)
    assert await other.get_or_set("dash:stat", load, ttl=10) == "v1"
    assert load.calls == 1
    clock.advance(2)  # logically expired, though KV still holds the entry
    load.value = "v2"
    assert await other.get_or_set("dash:stat", load, ttl=10) == "v2"
    assert await cache.get_or_set("dash:stat", load, ttl=10) == "v2"
    assert load.calls == 2


async def test_each_tier_has_its_own_ttl(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    cache, load = make(namespace, clock), Loader()
    await cache.get_or_set("k", load, ttl=600, memory_ttl=5)
    clock.advance(6)
    assert await cache.get_or_set("k", load, ttl=600, memory_ttl=5) == "v1"
    stats = cache.stats.as_dict()["tiers"]
    assert (stats["kv"]["hits"], load.calls) == (1, 1)  # read through KV, back-filled
    assert await cache.get_or_set("k", load, ttl=600, memory_ttl=5) == "v1"
    assert cache.stats.as_dict()["tiers"]["memory"]["hits"] == 1


async def test_memory_tier_stays_within_its_bytes(clock: FakeClock) -> None:
    cache = make(None, clock, memory_bytes=20_000)
    for i in range(100):
        await cache.set(f"k{i}", "x" * 1000)
        await cache.get(f"k{0}")  # keeps k0 recently used
    assert cache.memory.bytes <= 20_000
    assert cache.stats.memory_evictions > 0
    assert await cache.get("k0") == "x" * 1000
    assert await cache.get("k1") is None
    assert await cache.get("k99") == "x" * 1000


async def test_single_flight_1000_concurrent_misses(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    cache, load = make(namespace, clock), Loader()
    results = await asyncio.gather(*(cache.get_or_set("cold", load) for _ in range(1000)))
    assert results == ["v1"] * 1000
    assert load.calls == 1


async def test_a_failed_load_reaches_every_waiter_and_is_not_cached(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    cache, load = make(namespace, clock), Loader()
    load.fail = RuntimeError("db down")
    results = await asyncio.gather(
        *(cache.get_or_set("k", load) for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert load.calls == 1
    load.fail = None
    assert await cache.get_or_set("k", load) == "v1"


async def test_stale_while_revalidate(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    cache, load = make(namespace, clock), Loader()
    await cache.get_or_set("k", load, ttl=10, stale=30)
    clock.advance(15)
    load.value = "v2"
    # within `stale` after expiry: the old value at once, and one refresh for all readers
    served = await asyncio.gather(
        *(cache.get_or_set("k", load, ttl=10, stale=30) for _ in range(50))
    )
    assert served == ["v1"] * 50
    await cache.drain()
    assert load.calls == 2
    assert await cache.get_or_set("k", load, ttl=10, stale=30) == "v2"
    totals = cache.stats.totals()
    assert (totals["stale_serves"], totals["refreshes"]) == (50, 1)
    clock.advance(10 + 31)  # past the stale window: a blocking load
    load.value = "v3"
    assert await cache.get_or_set("k", load, ttl=10, stale=30) == "v3"


async def test_stale_if_error_serves_the_last_value_within_its_limit(
    namespace: edgekv.AsyncNamespace, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    cache, load = make(namespace, clock), Loader()
    await cache.get_or_set("k", load, ttl=10, stale_if_error=60)
    clock.advance(20)
    load.fail = ConnectionError("origin down")
    with caplog.at_level(logging.WARNING, logger="edgekv.cache"):
        assert await cache.get_or_set("k", load, ttl=10, stale_if_error=60) == "v1"
    assert "origin down" in caplog.text
    totals = cache.stats.totals()
    assert (totals["error_serves"], totals["loader_errors"]) == (1, 1)
    clock.advance(60)  # past the limit
    with pytest.raises(ConnectionError):
        await cache.get_or_set("k", load, ttl=10, stale_if_error=60)


async def test_stale_if_error_when_the_store_fails(clock: FakeClock) -> None:
    store = edgekv.AsyncSQLiteStore(None, clock=clock)
    ns = await edgekv.AsyncKV(store, clock=clock).create_namespace("C")
    cache, load = make(ns, clock), Loader()
    await cache.get_or_set("k", load, ttl=10, stale_if_error=60)
    await store.aclose()  # the KV store is gone from now on
    clock.advance(20)
    load.fail = ConnectionError("origin down too")
    assert await cache.get_or_set("k", load, ttl=10, stale_if_error=60) == "v1"
    assert cache.stats.totals()["kv_errors"] >= 1
    load.fail = None
    load.value = "v2"  # the loader works but the store does not: the value is still served
    assert await cache.get_or_set("other", load, ttl=10) == "v2"
    assert await cache.get_or_set("other", load, ttl=10) == "v2"
    assert load.calls == 3  # the second read came from memory


async def test_never_cache_policy(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    policies = Policies([Policy.of("secret:**", cache=False)])
    cache, load = make(namespace, clock, policies=policies), Loader()
    for _ in range(3):
        assert await cache.get_or_set("secret:a:b", load) == "v1"
    assert load.calls == 3
    assert cache.stats.as_dict()["policies"]["secret:**"]["bypasses"] == 3
    assert await namespace.get("cache:secret:a:b") is None


async def test_policy_file_drives_ttls(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    toml = '[default]\nttl = "1h"\n[[policy]]\npattern = "{tid}:rl:*"\nttl = "30s"\n'
    cache, load = make(namespace, clock, policies=toml), Loader()
    await cache.get_or_set("t:rl:ip", load)
    await cache.get_or_set("t:page", load)
    clock.advance(31)
    await cache.get_or_set("t:rl:ip", load)
    await cache.get_or_set("t:page", load)
    assert load.calls == 3
    assert set(cache.stats.as_dict()["policies"]) == {"{tid}:rl:*", "default"}


async def test_invalidate_key(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    cache, load = make(namespace, clock), Loader()
    await cache.get_or_set("k", load)
    await cache.delete("k")
    assert await namespace.get("cache:k") is None
    await cache.get_or_set("k", load)
    assert load.calls == 2


async def test_invalidate_prefix_deletes_every_page(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    cache = make(namespace, clock)
    await namespace.bulk_put(
        [{"key": f"cache:t1:p:{i:05d}", "value": "1"} for i in range(2500)]
        + [{"key": f"cache:t2:p:{i}", "value": "1"} for i in range(3)]
    )
    await cache.set("t1:p:mem", 5)
    await cache.invalidate_tag("tag-bookkeeping-survives")
    assert await cache.invalidate_prefix("t1:") == 2501
    assert await cache.get("t1:p:mem") is None
    left = await namespace.list(prefix="cache:")
    assert [k.name for k in left.keys] == [
        "cache:!tag:tag-bookkeeping-survives",
        "cache:t2:p:0",
        "cache:t2:p:1",
        "cache:t2:p:2",
    ]


async def test_invalidate_by_tag_without_scanning(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    a, b, load = make(namespace, clock, tag_ttl=1), make(namespace, clock, tag_ttl=1), Loader()
    await a.get_or_set("t1:site:1", load, tags=["tenant:t1"])
    await a.get_or_set("t1:site:2", load, tags=["tenant:t1", "site:2"])
    await a.get_or_set("t2:site:1", load, tags=["tenant:t2"])
    await b.get_or_set("t1:site:1", load, tags=["tenant:t1"])  # b: KV hit, now in b's memory
    assert load.calls == 3
    clock.advance(0.5)
    await a.invalidate_tag("tenant:t1")
    clock.advance(0.1)
    load.value = "v2"
    assert await a.get_or_set("t1:site:1", load) == "v2"
    assert await a.get_or_set("t1:site:2", load) == "v2"
    assert await a.get_or_set("t2:site:1", load) == "v1"
    # b trusts its copy of the tag's time for tag_ttl, then reads it again
    assert await b.get_or_set("t1:site:1", load) == "v1"
    clock.advance(1)
    assert await b.get_or_set("t1:site:1", load) == "v2"  # a's reload, read through KV
    assert load.calls == 5


async def test_decorator(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    cache = make(namespace, clock)
    calls: list[tuple[str, int]] = []

    @cache.cached("{tenant}:site:{site_id}:config", ttl="10m", tags=["tenant:{tenant}"])
    async def site_config(tenant: str, site_id: int, verbose: bool = False) -> dict[str, Any]:
        calls.append((tenant, site_id))
        return {"tenant": tenant, "site": site_id, "flags": []}

    first = await site_config("acme", 5)
    assert await site_config("acme", site_id=5) == first
    assert await site_config(tenant="acme", site_id=5, verbose=True) == first
    assert await site_config("acme", 6) != first
    assert calls == [("acme", 5), ("acme", 6)]
    assert site_config.key("acme", 5) == "acme:site:5:config"  # type: ignore[attr-defined]
    assert await namespace.get("cache:acme:site:5:config", "json") == first
    await site_config.invalidate("acme", 5)  # type: ignore[attr-defined]
    await site_config("acme", 5)
    assert len(calls) == 3
    clock.advance(1)
    await cache.invalidate_tag("tenant:acme")
    clock.advance(1)
    await site_config("acme", 6)
    assert len(calls) == 4


async def test_decorator_refuses_what_it_cannot_cache(clock: FakeClock) -> None:
    cache = make(None, clock)
    with pytest.raises(TypeError):

        @cache.cached("k")  # type: ignore[arg-type]
        def not_async() -> int:
            return 1

    with pytest.raises(ValueError, match="not a parameter"):

        @cache.cached("{missing}")
        async def f(present: int) -> int:
            return present

    with pytest.raises(edgekv.BadRequest):
        cache.cached("k", ttl="whenever")


async def test_lease_across_caches(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    # Two caches over one namespace stand for two processes; the lease is a conditional write.
    a, b = make(namespace, clock), make(namespace, clock)
    release = asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "loaded"

    first = asyncio.create_task(a.get_or_set("k", slow, lease=30))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(b.get_or_set("k", slow, lease=30))
    await asyncio.sleep(0.05)
    assert calls == 1 and not second.done()
    release.set()
    assert await first == await second == "loaded"
    assert calls == 1
    assert b.stats.totals()["lease_waits"] >= 1
    assert await namespace.get("cache:!lease:k") is None  # released


async def test_a_dead_holders_lease_expires(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await namespace.put(
        "cache:!lease:k", '{"owner": "dead", "until": %f}' % (clock() + 10), expiration_ttl=60
    )
    cache, load = make(namespace, clock), Loader()
    waiting = asyncio.create_task(cache.get_or_set("k", load, lease=10))
    await asyncio.sleep(0.02)
    assert not waiting.done() and load.calls == 0
    clock.advance(11)
    assert await asyncio.wait_for(waiting, 5) == "v1"
    assert load.calls == 1


async def test_stats_as_dict_and_prometheus(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    cache, load = make(namespace, clock, name="web"), Loader()
    await cache.get_or_set("a", load)
    await cache.get_or_set("a", load)
    await cache.get_or_set("a", load)
    stats = cache.stats.as_dict()
    assert stats["total"]["hits"] == 2 and stats["total"]["misses"] == 1
    assert stats["total"]["hit_rate"] == pytest.approx(2 / 3)
    assert stats["policies"]["default"]["loader_calls"] == 1
    assert stats["tiers"]["memory"]["entries"] == 1
    text = cache.stats.prometheus()
    assert "# TYPE edgekv_cache_hits_total counter" in text
    assert 'edgekv_cache_hits_total{cache="web",tier="memory",policy="default"} 2' in text
    assert 'edgekv_cache_misses_total{cache="web",tier="kv",policy="default"} 1' in text
    assert 'edgekv_cache_hit_ratio{cache="web",policy="default"} 0.666667' in text


async def test_memory_only_cache(clock: FakeClock) -> None:
    cache, load = make(None, clock), Loader()
    await cache.get_or_set("k", load, ttl=5)
    await cache.get_or_set("k", load, ttl=5)
    clock.advance(6)
    await cache.get_or_set("k", load, ttl=5)
    assert load.calls == 2
    await cache.set("t", 1, tags=["x"])
    assert await cache.get("t") == 1
    clock.advance(1)
    await cache.invalidate_tag("x")
    assert await cache.get("t") is None


async def test_get_returns_the_default_while_the_store_is_unavailable(clock: FakeClock) -> None:
    # A real Redis behind a proxy the test cuts: the KV tier becomes unreachable.
    from edgekv.stores.redis._async.redis_store import AsyncRedisStore
    from tests.stores.backends import REDIS_PREFIX, redis_url
    from tests.tcpproxy import TcpProxy

    port = urlsplit(redis_url()).port or 6379
    with TcpProxy(port) as proxy:
        store = AsyncRedisStore(
            f"redis://127.0.0.1:{proxy.port}/0?prefix={REDIS_PREFIX}", clock=clock
        )
        try:
            ns = await edgekv.AsyncKV(store, clock=clock).create_namespace(uuid.uuid4().hex)
            await make(ns, clock).set("k", "v1", ttl="1h")
            cache = make(ns, clock)  # its memory tier empty: a get reads KV
            proxy.cut()
            assert await cache.get("k", "fallback") == "fallback"
            assert await cache.get("k") is None
            totals = cache.stats.totals()
            assert (totals["kv_errors"], totals["misses"]) == (2, 2)
            with pytest.raises(edgekv.errors.StoreUnavailable):
                await cache.get("k", "fallback", fallback_on_error=False)
            proxy.resume()
            assert await cache.get("k", "fallback") == "v1"
        finally:
            await store.aclose()


def test_a_missing_policy_file_is_not_found(tmp_path: Path) -> None:
    for missing in ("missing.toml", str(tmp_path / "policies.toml"), "conf/cache-policies"):
        with pytest.raises(edgekv.errors.BadRequest, match="not found") as caught:
            AsyncCache(None, policies=missing)
        assert caught.value.message == f"policy file {missing!r} not found"
    with pytest.raises(edgekv.errors.BadRequest, match="not found"):
        AsyncCache(None, policies=tmp_path / "absent.toml")
    # One line of TOML text is still TOML text.
    cache = AsyncCache(None, policies='default = { ttl = "1h" }')
    assert cache.policies.default.ttl == 3600
