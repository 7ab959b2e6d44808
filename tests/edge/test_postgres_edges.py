"""Three edge processes in front of a PostgreSQL of their own, each through a TCP proxy.

The database is a private instance (tests/pg_instance.py) so it can be restarted; each edge
reaches it through its own loopback proxy (tests/tcpproxy.py), so one edge's link, and with
it its change feed (LISTEN and the feed queries), can be cut while the others stay connected.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from edgekv import KV
from tests import pg_instance
from tests.edge import scenarios
from tests.edge.nodes import EdgeNode, edge_nodes
from tests.services import require
from tests.tcpproxy import TcpProxy


@pytest.fixture(scope="module")
def pg() -> Iterator[pg_instance.PostgresInstance]:
    require(pg_instance.available(), "PostgreSQL server binaries (initdb, pg_ctl)")
    instance = pg_instance.PostgresInstance().start()
    try:
        yield instance
    finally:
        instance.destroy()


@pytest.fixture(scope="module")
def proxies(pg: pg_instance.PostgresInstance) -> Iterator[list[TcpProxy]]:
    started = [TcpProxy(pg.port).start() for _ in range(3)]
    try:
        yield started
    finally:
        for proxy in started:
            proxy.stop()


@pytest.fixture(scope="module")
def nodes(
    proxies: list[TcpProxy], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[EdgeNode]]:
    urls = [f"postgresql://postgres@127.0.0.1:{p.port}/postgres?schema=edgekv" for p in proxies]
    with edge_nodes(urls, tmp_path_factory.mktemp("pg-edges")) as running:
        yield running


@pytest.fixture
def ns(nodes: list[EdgeNode], request: pytest.FixtureRequest) -> str:
    return nodes[0].create_namespace(request.node.name)


def test_write_is_read_back_at_once_and_propagates(nodes: list[EdgeNode], ns: str) -> None:
    scenarios.write_and_propagate("postgres", nodes, ns)


def test_strong_reads_bypass_the_edge(nodes: list[EdgeNode], ns: str) -> None:
    scenarios.strong_reads_bypass(nodes, ns)


def test_feed_catches_up_after_its_connection_is_cut(
    nodes: list[EdgeNode], ns: str, proxies: list[TcpProxy]
) -> None:
    scenarios.feed_catches_up_after_cut(nodes, ns, proxies[1].cut, proxies[1].resume)


@pytest.mark.slow
def test_cut_edge_serves_old_value_no_longer_than_cache_ttl(
    nodes: list[EdgeNode], ns: str, proxies: list[TcpProxy]
) -> None:
    scenarios.staleness_bounded_by_cache_ttl(nodes, ns, proxies[1].cut, proxies[1].resume)


def test_postgres_restart_under_write_load(
    nodes: list[EdgeNode], ns: str, pg: pg_instance.PostgresInstance
) -> None:
    load = scenarios.survive_restart(nodes, ns, lambda: pg.restart(down_for=1.5))
    assert load.write_status[503] > 0, "the restart was not seen: the test proves nothing"
    assert scenarios.missing(nodes[2], ns, load.acknowledged) == []
    with KV(f"{pg.url}?schema=edgekv", account_id=nodes[0].account_id) as kv:
        direct = kv.namespace(ns)
        assert [k for k in sorted(load.acknowledged) if direct.get(k) != k] == []
    scenarios.write_and_propagate("postgres", nodes, ns, rounds=3)


def test_edges_report_their_feed(nodes: list[EdgeNode]) -> None:
    for node in nodes:
        health = node.health()
        assert health["feed_healthy"] is True
        assert health["cache_max_bytes"] == 64 << 20
