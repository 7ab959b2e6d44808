"""An edge given `--cache-size 64MB` stays within it under 1 GiB of distinct values.

4,096 values of 256 KiB each are written to the central store straight through the Python
API, then each is read once through the edge over REST. The edge's own accounting must never
pass 64 MiB, and its resident memory (VmRSS) may grow by no more than 64 MiB + 10 % over a
baseline taken after a warm-up of 32 reads, plus `ALLOWANCE` for what a server holds besides
its cache (request buffers, allocator slack), stated here rather than hidden.

The central store is a private Redis: nothing of it lives in the edge's process. An edge over a
SQLite file also holds SQLite's own memory: a 64 MiB page cache (`cache_size`) and up to
256 MiB of the file mapped (`mmap_size`, counted in VmRSS as RssFile, the OS page cache that
every process on the file shares); that is the store's, not the edge cache's.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgekv import KV
from tests import redis_cluster
from tests.edge.nodes import EdgeNode
from tests.services import require

CACHE = 64 << 20
VALUE = 256 << 10
COUNT = 4096  # 1 GiB in all
ALLOWANCE = 16 << 20


@pytest.fixture
def redis_store() -> Iterator[str]:
    require(redis_cluster.available(), "redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0?prefix=memory"
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_cache_size_bounds_memory_under_a_gigabyte_of_values(
    redis_store: str, tmp_path: Path
) -> None:
    node = EdgeNode(redis_store, tmp_path / "edge", ("--cache-size", "64MB")).start()
    try:
        ns = node.create_namespace("memory")
        block = bytes(range(256)) * (VALUE // 256)
        with KV(redis_store, account_id=node.account_id) as kv:
            central = kv.namespace(ns)
            for i in range(COUNT):
                central.put(f"k{i:05}", f"{i:08}".encode() + block[8:])
        with httpx.Client(timeout=30) as client:

            def read(i: int) -> None:
                reply = client.get(node.value_url(ns, f"k{i:05}"))
                assert reply.status_code == 200 and reply.content[:8] == f"{i:08}".encode()
                assert reply.headers["cf-cache-status"] == "MISS"

            for i in range(32):  # warm-up: code paths, connections, a few cached values
                read(i)
            baseline = node.rss()
            peak_accounted = 0
            for i in range(32, COUNT):
                read(i)
                if i % 256 == 0:
                    peak_accounted = max(peak_accounted, node.health()["cache_bytes"])
            health = node.health()
            grown = node.rss() - baseline
        assert max(peak_accounted, health["cache_bytes"]) <= CACHE
        assert health["cache_bytes"] > CACHE * 0.9, "the cache was not used: proves nothing"
        assert health["evictions"] > COUNT - 300
        assert grown <= CACHE * 1.1 + ALLOWANCE, f"RSS grew by {grown / 2**20:.1f} MiB"
        print(f"edge RSS growth over 1 GiB of reads: {grown / 2**20:.1f} MiB (cache 64 MiB)")
    finally:
        node.stop()
