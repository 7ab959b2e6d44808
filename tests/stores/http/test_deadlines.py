"""Deadlines over HTTP: an upstream edgekv server whose socket accepts and never answers, and
the same behind a link black-holed mid-use (tests/tcpproxy.py), through a real `edgekv serve`
edge with `?timeout=1` (checks in tests/server/faulted.py): 503 within the deadline, /healthz
at once, cached keys served, and everything back once the link is restored, without a restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekv import errors
from edgekv.stores.http._async.http_store import AsyncRestStore
from edgekv.testing.server import _EDGEKV, clean_env, spawn_serve, stop_process
from tests import redis_cluster
from tests.server.faulted import SLACK, FaultedEdge, check_fault, check_stop
from tests.services import require
from tests.stores.redis.test_faults import RedisServer
from tests.tcpproxy import TcpProxy

TIMEOUT = 1.0


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[int]:
    """An `edgekv serve` over SQLite, without auth (the edge's HTTP store sends no token)."""
    home = tmp_path / "upstream"
    home.mkdir()
    command = [*_EDGEKV, "serve", "--no-auth", "--port", "0", "--workers", "1"]
    command += ["--data-dir", str(home / "data")]
    process, found = spawn_serve(command, home / "serve.log", clean_env())
    try:
        yield int(found["url"].rsplit(":", 1)[1])
    finally:
        stop_process(process)


def test_a_black_holed_upstream(upstream: int, tmp_path: Path) -> None:
    with TcpProxy(upstream) as proxy:
        url = f"http://127.0.0.1:{proxy.port}?timeout={TIMEOUT:g}&connect_timeout=1"
        with FaultedEdge(url, tmp_path / "edge") as edge:
            check_fault(
                edge, TIMEOUT, proxy.blackhole, proxy.restore, down="unavailable: timed out"
            )
            check_stop(edge, proxy.blackhole, proxy.restore)


async def test_a_socket_that_accepts_and_never_answers() -> None:
    """Every call, the feed's long poll included, fails within its deadline: nothing hangs."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # accepted by the kernel, never read
        port = silent.getsockname()[1]
        store = AsyncRestStore(f"http://127.0.0.1:{port}?timeout={TIMEOUT:g}", token="t")
        try:
            for call in (
                lambda: store.get("0" * 32, "k"),
                lambda: store.list_namespaces(None),
                lambda: store.feed_position(),
            ):
                started = time.monotonic()
                async with asyncio.timeout(TIMEOUT + SLACK):
                    with pytest.raises(errors.StoreUnavailable) as caught:
                        await call()
                assert caught.value.message == "central store unavailable: timed out"
                assert time.monotonic() - started < TIMEOUT + SLACK
        finally:
            await store.aclose()


async def test_an_upstream_whose_store_timed_out_is_not_asked_again(tmp_path: Path) -> None:
    """A server that answered 503 `timed out` has waited its own deadline: the HTTP store
    passes that on at once instead of retrying (an edge over a relay over a frozen store would
    otherwise wait four deadlines)."""
    require(redis_cluster.available(), "redis-server")
    redis = RedisServer(tmp_path)
    redis.start()
    assert redis.process is not None
    home = tmp_path / "upstream"
    home.mkdir()
    command = [*_EDGEKV, "serve", "--no-auth", "--port", "0", "--workers", "1", "--cache-size", "0"]
    command += ["--store", f"redis://127.0.0.1:{redis.port}/0?timeout={TIMEOUT:g}"]
    process, found = spawn_serve(command, home / "serve.log", clean_env())
    store = AsyncRestStore(f"{found['url']}?timeout=10", token="t")
    try:
        ns = await store.create_namespace("upstream-frozen", found["account"])
        os.kill(redis.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(errors.StoreUnavailable) as caught:
            await store.get(ns.id, "k")
        assert caught.value.message == "central store unavailable: timed out"
        assert time.monotonic() - started < TIMEOUT + SLACK  # one deadline, not four
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
        await store.aclose()
        stop_process(process)
        redis.kill()
