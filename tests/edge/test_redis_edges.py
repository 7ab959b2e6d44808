"""Three edge processes in front of a Redis Cluster of their own (3 masters, AOF on).

Each edge's first startup node, which also carries its pub/sub subscription (the feed's push
signal), is reached through a TCP proxy of its own. A cluster client learns every node's real
address from the cluster itself, so the proxy cuts an edge's notifications, not its reads:
the Redis tests cut the push signal and check that the feed still converges (by reading the
feed streams), and restart a master under a write load. The cache_ttl bound with the whole
link cut is tested on PostgreSQL, where one proxy carries every connection of an edge.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests import redis_cluster
from tests.edge import redis_nodes, scenarios
from tests.edge.nodes import EdgeNode, cached, edge_nodes, wait_until
from tests.services import require
from tests.tcpproxy import TcpProxy


@pytest.fixture(scope="module")
def cluster() -> Iterator[redis_nodes.PersistentCluster]:
    require(redis_cluster.available(), "redis-server and redis-cli (for a Redis Cluster)")
    started = redis_nodes.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def proxies(cluster: redis_nodes.PersistentCluster) -> Iterator[list[TcpProxy]]:
    started = [TcpProxy(cluster.ports[0]).start() for _ in range(3)]
    try:
        yield started
    finally:
        for proxy in started:
            proxy.stop()


@pytest.fixture(scope="module")
def nodes(
    cluster: redis_nodes.PersistentCluster,
    proxies: list[TcpProxy],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[EdgeNode]]:
    rest = ",".join(f"127.0.0.1:{p}" for p in cluster.ports[1:])
    urls = [f"redis+cluster://127.0.0.1:{p.port},{rest}?prefix=edges" for p in proxies]
    with edge_nodes(urls, tmp_path_factory.mktemp("redis-edges")) as running:
        yield running


@pytest.fixture
def ns(nodes: list[EdgeNode], request: pytest.FixtureRequest) -> str:
    return nodes[0].create_namespace(request.node.name)


def test_write_is_read_back_at_once_and_propagates(nodes: list[EdgeNode], ns: str) -> None:
    scenarios.write_and_propagate("redis-cluster", nodes, ns)


def test_strong_reads_bypass_the_edge(nodes: list[EdgeNode], ns: str) -> None:
    scenarios.strong_reads_bypass(nodes, ns)


def test_feed_converges_with_its_notifications_cut(
    nodes: list[EdgeNode], ns: str, proxies: list[TcpProxy]
) -> None:
    key = "signal-cut"
    nodes[0].put_ok(ns, key, b"v1:")
    assert wait_until(cached(nodes[1], ns, key, b"v1:"), 5) is not None
    proxies[1].cut()
    try:
        nodes[0].put_ok(ns, key, b"v2:")
        seen = [1]
        delay = scenarios.converge(nodes[1], ns, key, b"v2:", seen)
        scenarios.DELAYS["redis-cluster, notifications cut"].append(delay)
    finally:
        proxies[1].resume()
    nodes[2].put_ok(ns, key, b"v3:")
    scenarios.converge(nodes[1], ns, key, b"v3:", [2])


def test_master_restart_under_write_load(
    nodes: list[EdgeNode], ns: str, cluster: redis_nodes.PersistentCluster
) -> None:
    def restart() -> None:
        cluster.kill_master(1)
        time.sleep(1.5)
        cluster.start_master(1)

    load = scenarios.survive_restart(nodes, ns, restart)
    assert load.write_status[503] > 0, "the restart was not seen: the test proves nothing"
    assert scenarios.missing(nodes[2], ns, load.acknowledged) == []
    scenarios.write_and_propagate("redis-cluster", nodes, ns, rounds=3)
