"""EdgeKVCache through Django's own cache API (`django.core.cache.caches`), sync and async."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

django = pytest.importorskip("django")
from django.conf import settings  # noqa: E402

_DB = Path(tempfile.mkdtemp(prefix="edgekv-django-")) / "kv.db"
if not settings.configured:
    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "edgekv.contrib.django.EdgeKVCache",
                "LOCATION": f"sqlite:///{_DB}",
                "OPTIONS": {"NAMESPACE": "django-cache"},
                "KEY_PREFIX": "app",
            }
        },
        USE_TZ=True,
    )
    django.setup()

from django.core.cache import caches  # noqa: E402
from django.core.cache.backends.base import BaseCache, InvalidCacheKey  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from edgekv.contrib.django import EdgeKVCache  # noqa: E402


@pytest.fixture
def cache() -> Iterator[BaseCache]:
    c = caches["default"]
    c.clear()
    yield c
    c.clear()


def test_set_get_delete(cache: BaseCache) -> None:
    assert isinstance(cache, EdgeKVCache)
    for value in [0, "", False, None, [1, "a"], {"x": (1, 2)}, b"\x00\xff", 3.5, 10**30]:
        cache.set("k", value)
        assert cache.get("k", "default") == value
    assert cache.get("missing") is None and cache.get("missing", 7) == 7
    assert cache.delete("k") is True and cache.delete("k") is False
    assert cache.has_key("k") is False


def test_add_and_get_or_set(cache: BaseCache) -> None:
    assert cache.add("a", 1) is True
    assert cache.add("a", 2) is False
    assert cache.get("a") == 1
    assert cache.get_or_set("b", lambda: "made") == "made"
    assert cache.get_or_set("b", lambda: "again") == "made"


def test_timeouts_under_a_minute_and_zero(cache: BaseCache) -> None:
    cache.set("short", "v", timeout=1)
    assert cache.get("short") == "v"
    time.sleep(1.1)  # Django's API reads the wall clock; one short wait, no assertion on time
    assert cache.get("short") is None
    assert cache.add("short", "again", timeout=30) is True  # an expired entry can be added over
    cache.set("zero", "v", timeout=0)
    assert cache.get("zero") is None
    cache.set("forever", "v", timeout=None)
    assert cache.get("forever") == "v"


def test_many(cache: BaseCache) -> None:
    data = {f"k{i}": i if i % 2 else f"s{i}" for i in range(250)}
    assert cache.set_many(data) == []
    assert cache.get_many([*data, "nope"]) == data
    cache.delete_many(["k1", "k2"])
    assert "k1" not in cache.get_many(["k1", "k3"])


def test_incr_decr_are_atomic_on_integers(cache: BaseCache) -> None:
    cache.set("n", 10)
    assert cache.incr("n") == 11
    assert cache.incr("n", 5) == 16
    assert cache.decr("n", 20) == -4
    assert cache.get("n") == -4
    with pytest.raises(ValueError):
        cache.incr("absent")
    cache.set("s", "text")
    with pytest.raises(ValueError):
        cache.incr("s")


def test_touch_clear_versions_and_keys(cache: BaseCache) -> None:
    cache.set("t", 1, timeout=1)
    assert cache.touch("t", timeout=None) is True
    time.sleep(1.1)
    assert cache.get("t") == 1
    assert cache.touch("absent") is False
    cache.set("v", "one", version=1)
    cache.set("v", "two", version=2)
    assert (cache.get("v", version=1), cache.get("v", version=2)) == ("one", "two")
    with pytest.raises(InvalidCacheKey):
        cache.set("x" * 600, 1)
    cache.clear()
    assert cache.get("v", version=2) is None


async def test_async_api_natively(cache: BaseCache) -> None:
    await cache.aset("a", {"n": 1})
    assert await cache.aget("a") == {"n": 1}
    assert cache.get("a") == {"n": 1}  # one store behind both APIs
    assert await cache.aadd("a", 2) is False
    assert await cache.aadd("b", 2) is True
    assert await cache.aget_or_set("c", "made") == "made"
    await cache.aset_many({"x": 1, "y": 2})
    assert await cache.aget_many(["x", "y", "z"]) == {"x": 1, "y": 2}
    assert await cache.aincr("x", 10) == 11
    assert await cache.adecr("x") == 10
    assert await cache.atouch("x", None) is True
    assert await cache.ahas_key("x") is True
    await cache.adelete_many(["x", "y"])
    assert await cache.adelete("a") is True
    await cache.aclear()
    assert await cache.aget("b") is None
    # these are the backend's own coroutines, not Django's sync_to_async fallbacks
    assert type(cache).aget is not BaseCache.aget and type(cache).aincr is not BaseCache.aincr


def test_memory_location_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="shared store"):
        EdgeKVCache("memory://", {})
