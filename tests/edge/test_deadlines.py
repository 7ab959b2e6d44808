"""An in-process edge over a Redis server frozen with SIGSTOP (`?timeout=1`): cached keys are
still served, an uncached read fails within the deadline, the change feed's follower notes the
cut without hanging and reads again once the server is thawed, and closing the edge while the
server is frozen ends in bounded time. (The same through `edgekv serve`, for every store:
tests/stores/*/test_deadlines.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

from edgekv import AsyncKV, StoreUnavailable
from edgekv.edge._async.edge_store import AsyncEdgeStore
from tests.edge.test_serve_stale import redis_server  # noqa: F401 (a fixture)

TIMEOUT = 1.0
SLACK = 3.0


async def _until(check: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_an_edge_over_a_frozen_server(
    redis_server: tuple[subprocess.Popen[bytes], str],  # noqa: F811
) -> None:
    process, url = redis_server
    url = url.split("?")[0] + f"?timeout={TIMEOUT:g}&connect_timeout=1"
    kv = AsyncKV(url, edge_cache=1 << 20)
    edge = kv.store
    assert isinstance(edge, AsyncEdgeStore)
    ns = await kv.create_namespace("frozen")
    await ns.put("cached", "kept")
    assert await ns.get("cached") == "kept"
    await _until(lambda: edge.feed_healthy, 10)
    os.kill(process.pid, signal.SIGSTOP)
    try:
        assert await ns.get("cached") == "kept"  # from memory
        started = time.monotonic()
        try:
            await ns.get("never-cached")
            raise AssertionError("a frozen store answered")
        except StoreUnavailable as e:
            assert e.message == "central store unavailable: timed out"
        assert time.monotonic() - started < TIMEOUT + SLACK
        await _until(lambda: not edge.feed_healthy, TIMEOUT + SLACK + 15)
        assert edge.feed_error == "timed out"
    finally:
        os.kill(process.pid, signal.SIGCONT)
    await _until(lambda: edge.feed_healthy, 30)  # the follower reads again, no restart
    await ns.put("after", "back")
    assert await ns.get("after") == "back"

    os.kill(process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        await kv.aclose()
        assert time.monotonic() - started < 10  # the edge's 5 s grace, and the store's close
    finally:
        os.kill(process.pid, signal.SIGCONT)
