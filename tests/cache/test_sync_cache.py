"""The generated sync `Cache`: the same logic over threads instead of tasks."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import edgekv
from edgekv.cache import Cache
from tests.clock import FakeClock


def test_get_or_set_and_falsy_hits(sync_namespace: edgekv.Namespace, clock: FakeClock) -> None:
    cache = Cache(sync_namespace, clock=clock)
    calls = []

    def load() -> int:
        calls.append(1)
        return 0

    assert cache.get_or_set("k", load) == 0
    assert cache.get_or_set("k", load) == 0
    assert Cache(sync_namespace, clock=clock).get_or_set("k", load) == 0
    assert len(calls) == 1


def test_single_flight_across_threads(sync_namespace: edgekv.Namespace, clock: FakeClock) -> None:
    cache = Cache(sync_namespace, clock=clock)
    calls = 0
    lock = threading.Lock()

    def slow() -> str:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.2)
        return "v"

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: cache.get_or_set("cold", slow), range(32)))
    assert results == ["v"] * 32
    assert calls == 1


def test_decorator_and_swr_in_a_thread(sync_namespace: edgekv.Namespace, clock: FakeClock) -> None:
    cache = Cache(sync_namespace, clock=clock)
    version = {"n": 1}

    @cache.cached("user:{user_id}", ttl=10, stale=60)
    def profile(user_id: int) -> dict[str, int]:
        return {"id": user_id, "v": version["n"]}

    assert profile(1) == {"id": 1, "v": 1}
    clock.advance(11)
    version["n"] = 2
    assert profile(1) == {"id": 1, "v": 1}  # stale at once
    cache.drain()  # the refresh ran on a background thread
    assert profile(1) == {"id": 1, "v": 2}
    assert cache.stats.totals()["refreshes"] == 1
    cache.close()


def test_sync_decorator_refuses_nothing_async_specific(clock: FakeClock) -> None:
    cache = Cache(None, clock=clock)
    with pytest.raises(ValueError):

        @cache.cached("{nope}")
        def f(x: int) -> int:
            return x
