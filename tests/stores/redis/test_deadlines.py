"""Deadlines over Redis: a server frozen with SIGSTOP (it accepts connections, in the kernel,
and answers nothing), the link to it black-holed (tests/tcpproxy.py), and one master of a
Redis Cluster frozen. Each through a real `edgekv serve` edge with `?timeout=1` (checks in
tests/server/faulted.py): 503 within the deadline, /healthz at once, cached keys served, and
everything back once the server is thawed or the link restored, without a restart. SIGCONT is
sent in a `finally`: a test never leaves a frozen server behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from edgekv.stores.redis import scripts as lua
from tests import redis_cluster
from tests.server.faulted import FaultedEdge, check_fault, check_stop
from tests.services import require
from tests.stores.redis.test_faults import RedisServer
from tests.tcpproxy import TcpProxy

TIMEOUT = 1.0
BOUNDS = f"timeout={TIMEOUT:g}&connect_timeout=1"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    require(redis_cluster.available(), "redis-server")
    started = RedisServer(tmp_path)
    started.start()
    try:
        yield started
    finally:
        if started.process is not None:
            os.kill(started.process.pid, signal.SIGCONT)
        started.kill()


class Frozen:
    """SIGSTOP from `start()` to `end()`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def start(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def end(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


def test_a_frozen_server(server: RedisServer, tmp_path: Path) -> None:
    assert server.process is not None
    frozen = Frozen(server.process.pid)
    url = f"redis://127.0.0.1:{server.port}/0?{BOUNDS}"
    with FaultedEdge(url, tmp_path / "edge") as edge:
        check_fault(edge, TIMEOUT, frozen.start, frozen.end, down="unavailable: timed out")
        check_stop(edge, frozen.start, frozen.end)


def test_a_black_holed_link(server: RedisServer, tmp_path: Path) -> None:
    with TcpProxy(server.port) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0?{BOUNDS}"
        with FaultedEdge(url, tmp_path / "edge") as edge:
            check_fault(
                edge, TIMEOUT, proxy.blackhole, proxy.restore, down="unavailable: timed out"
            )
            check_stop(edge, proxy.blackhole, proxy.restore)


def _keys_on(cluster: redis_cluster.Cluster, port: int, count: int) -> list[str]:
    """Keys whose bucket (16, the default) a given master holds."""
    client = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    try:
        found: list[str] = []
        n = 0
        while len(found) < count:
            key = f"key-{n}"
            n += 1
            tag = "{" + f"edgekv:{lua.bucket_of(key, 16)}" + "}"
            if client.get_node_from_key(tag).port == port:  # type: ignore[no-untyped-call]
                found.append(key)
        return found
    finally:
        client.close()


def test_a_frozen_cluster_master(tmp_path: Path) -> None:
    require(redis_cluster.available(), "redis-server")
    cluster = redis_cluster.start()
    try:
        victim = cluster.processes[1]
        frozen = Frozen(victim.pid)
        keys = _keys_on(cluster, cluster.ports[1], 3)
        with FaultedEdge(f"{cluster.url}?{BOUNDS}", tmp_path / "edge") as edge:
            try:
                check_fault(
                    edge, TIMEOUT, frozen.start, frozen.end, keys=(keys[0], keys[1], keys[2])
                )
                check_stop(edge, frozen.start, frozen.end)
            finally:
                frozen.end()
    finally:
        cluster.stop()
