"""The caching toolkit: cache-aside, policies, stale-while-revalidate, single-flight, tiers,
invalidation by key, prefix and tag, and stats, over any namespace (embedded, server, Cloudflare).

    cache = AsyncCache(namespace, policies="cache.toml")
    config = await cache.get_or_set(f"{tid}:tenant:config", load_config)

    @cache.cached("{tenant}:site:{site_id}:config", ttl="10m")
    async def site_config(tenant: str, site_id: int) -> dict: ...

`Cache` is the same over the sync `Namespace`.
"""

from edgekv.cache._async.cache import AsyncCache
from edgekv.cache._sync.cache import Cache
from edgekv.cache.durations import seconds
from edgekv.cache.kv_format import JSON, PICKLE, JSONSerializer, PickleSerializer, Serializer
from edgekv.cache.memory_tier import Entry, MemoryTier
from edgekv.cache.policy import Policies, Policy
from edgekv.cache.stats import PolicyStats, Stats

__all__ = [
    "JSON",
    "PICKLE",
    "AsyncCache",
    "Cache",
    "Entry",
    "JSONSerializer",
    "MemoryTier",
    "PickleSerializer",
    "Policies",
    "Policy",
    "PolicyStats",
    "Serializer",
    "Stats",
    "seconds",
]
