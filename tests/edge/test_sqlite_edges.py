"""Three edge processes sharing one SQLite file on one machine.

The SQLite change feed is the shared file itself (each edge polls its newest sequence number),
so there is no connection to cut: a process that can read the file can read the feed, and one
that cannot read it cannot answer an uncached read either. Staleness with the feed cut is
therefore tested on the stores that have a network link (PostgreSQL, Redis), and the memory
tier's cache_ttl bound itself in process with a fake clock (tests/edge/test_edge_store.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.edge import scenarios
from tests.edge.nodes import EdgeNode, edge_nodes, reads, wait_until


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[EdgeNode]]:
    home = tmp_path_factory.mktemp("sqlite-edges")
    with edge_nodes(f"sqlite:///{home / 'kv.db'}", home) as running:
        yield running


@pytest.fixture
def ns(nodes: list[EdgeNode], request: pytest.FixtureRequest) -> str:
    return nodes[0].create_namespace(request.node.name)


def test_write_is_read_back_at_once_and_propagates(nodes: list[EdgeNode], ns: str) -> None:
    scenarios.write_and_propagate("sqlite", nodes, ns)


def test_strong_reads_bypass_the_edge(nodes: list[EdgeNode], ns: str) -> None:
    scenarios.strong_reads_bypass(nodes, ns)


def test_deletes_propagate(nodes: list[EdgeNode], ns: str) -> None:
    nodes[0].put_ok(ns, "gone", b"v1:")
    for node in nodes:
        assert wait_until(reads(node, ns, "gone", b"v1:"), 5) is not None
    reply = nodes[2].client.delete(nodes[2].value_url(ns, "gone"))
    assert reply.status_code == 200, reply.text
    assert nodes[2].get(ns, "gone").status == 404  # read-your-writes for a delete too
    for node in nodes[:2]:
        assert wait_until(reads(node, ns, "gone", None), 10) is not None
