"""Edges behind a relay (`edgekv serve --relay-secret`), as users run them: every node a real
`edgekv serve` process, edges started with `--store relay://:SECRET@host:port`.

The relay reads the central store's change feed; the edges read the relay's change log. What
must hold is what holds for edges over the central store (read-your-writes at the writing
edge, propagation, strong reads, deletes), for every account and its tokens, through a relay
restart, through a relay that fell behind its feed's retention (it flushes, and its edges
with it), and through tiers of relays.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgekv import KV
from tests.e2e.live import EDGEKV, _clean_env, spawn_serve, stop_process
from tests.edge import scenarios
from tests.edge.nodes import EdgeNode, cached, edge_nodes, reads, wait_until
from tests.stores.backends import redis_url

SECRET = "relay-test-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def relay(store_url: str, home: Path, port: int = 0, secret: str = SECRET) -> EdgeNode:
    return EdgeNode(store_url, home, ("--relay-secret", secret), port).start()


def behind(node: EdgeNode, secret: str = SECRET) -> str:
    """The store URL of an edge behind `node`."""
    return f"relay://:{secret}@{node.url.removeprefix('http://')}"


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('central') / 'kv.db'}"


@pytest.fixture(scope="module")
def relayed(central: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[EdgeNode]]:
    """A relay over the central store and three edges behind it: [relay, edge, edge, edge]."""
    home = tmp_path_factory.mktemp("relayed")
    first = relay(central, home / "relay")
    try:
        with edge_nodes(behind(first), home, 3) as edges:
            yield [first, *edges]
    finally:
        first.stop()


@pytest.fixture
def ns(relayed: list[EdgeNode], request: pytest.FixtureRequest) -> str:
    return relayed[1].create_namespace(request.node.name)


def test_writes_are_read_back_at_once_and_propagate(relayed: list[EdgeNode], ns: str) -> None:
    scenarios.write_and_propagate("relay", relayed[1:], ns)


def test_strong_reads_bypass_every_tier(relayed: list[EdgeNode], ns: str) -> None:
    scenarios.strong_reads_bypass(relayed[1:], ns)


def test_deletes_propagate(relayed: list[EdgeNode], ns: str) -> None:
    edges = relayed[1:]
    edges[0].put_ok(ns, "gone", b"v1:")
    for edge in edges:
        assert wait_until(cached(edge, ns, "gone", b"v1:"), 5) is not None
    assert edges[2].client.delete(edges[2].value_url(ns, "gone")).status_code == 200
    assert edges[2].get(ns, "gone").status == 404  # read-your-writes for a delete too
    for edge in edges[:2]:
        assert wait_until(reads(edge, ns, "gone", None), 5) is not None


def test_a_write_at_the_central_store_reaches_the_edges(
    central: str, relayed: list[EdgeNode], ns: str
) -> None:
    edges = relayed[1:]
    edges[0].put_ok(ns, "k", b"v1:")
    for edge in edges:
        assert wait_until(cached(edge, ns, "k", b"v1:"), 5) is not None
    with KV(central) as kv:
        kv.namespace(ns).put("k", "v2:")
    for edge in edges:
        assert wait_until(reads(edge, ns, "k", b"v2:"), 5) is not None


def test_the_edges_read_the_relay_not_the_central_store(relayed: list[EdgeNode], ns: str) -> None:
    """Central feed reads follow the relays: the edges' feed reads are the relay's log."""
    first, *edges = relayed
    before = [edge.health()["central_feed_reads"] for edge in edges]
    for i in range(20):
        edges[i % 3].put_ok(ns, "k", f"v{i}:".encode())
    for edge in edges:
        assert wait_until(reads(edge, ns, "k", b"v19:"), 5) is not None

    # The edges asked the relay (a long poll each, no central store behind it); a poll is
    # counted when it is answered, which a loaded machine may take a moment to do.
    def asked() -> bool:
        return all(e.health()["central_feed_reads"] > b for e, b in zip(edges, before, strict=True))

    assert wait_until(asked, 10) is not None
    assert first.health()["central_feed_reads"] > 0  # the relay, of the central store


def test_the_relay_routes_need_the_secret(relayed: list[EdgeNode]) -> None:
    first, edge = relayed[0], relayed[1]
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        reply = httpx.get(f"{first.url}/relay/v1/changes", headers=headers)
        assert reply.status_code == 401, reply.text
    good = httpx.get(f"{first.url}/relay/v1/changes", headers={"Authorization": f"Bearer {SECRET}"})
    assert good.status_code == 200 and "position" in good.json()["result"]
    # A server without a relay secret has no relay routes.
    assert httpx.get(f"{edge.url}/relay/v1/changes").status_code == 404


def test_an_edge_with_a_wrong_secret_does_not_start(
    relayed: list[EdgeNode], tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        EdgeNode(behind(relayed[0], "wrong"), tmp_path / "edge").start()


def test_every_account_and_its_tokens_work_through_a_relay(tmp_path: Path) -> None:
    data = tmp_path / "central"

    def admin(*args: str) -> str:
        done = subprocess.run(
            [EDGEKV, *args, "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=_clean_env(tmp_path),
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    other = admin("account", "create", "other")
    mine, theirs = admin("token", "create"), admin("token", "create", "--account", other)
    first = relay(f"sqlite:///{data / 'kv.db'}", tmp_path / "relay")
    command = [EDGEKV, "serve", "--port", "0", "--workers", "1", "--store", behind(first)]
    edge, url, account = spawn_serve(command, tmp_path, tmp_path / "edge.log")  # with auth
    try:
        base = f"{url}/client/v4/accounts"
        me, them = ({"Authorization": f"Bearer {t}"} for t in (mine, theirs))
        with httpx.Client(timeout=30) as client:
            created = client.post(
                f"{base}/{account}/storage/kv/namespaces", json={"title": "mine"}, headers=me
            )
            ns = created.json()["result"]["id"]
            value = f"{base}/{account}/storage/kv/namespaces/{ns}/values/k"
            assert client.put(value, content=b"v", headers=me).status_code == 200
            assert client.get(value, headers=me).content == b"v"
            assert client.get(value, headers=them).status_code == 403  # another account's
            theirs_ns = client.post(
                f"{base}/{other}/storage/kv/namespaces", json={"title": "theirs"}, headers=them
            ).json()["result"]["id"]
            listed = client.get(f"{base}/{other}/storage/kv/namespaces", headers=them).json()
            assert [n["id"] for n in listed["result"]] == [theirs_ns]
            # Revoked at the central store: the edge learns it through the relay's log.
            (token,) = json.loads(admin("token", "list", "--account", account))
            admin("token", "revoke", token["id"])
            assert wait_until(lambda: client.get(value, headers=me).status_code == 401, 10)
            assert client.get(value, headers=them).status_code == 403  # the other one still works
    finally:
        stop_process(edge)
        first.stop()


def test_a_relay_restart_flushes_its_edges_and_they_follow_the_new_one(
    central: str, tmp_path: Path
) -> None:
    port = free_port()
    first = relay(central, tmp_path / "relay", port)
    try:
        with edge_nodes(behind(first), tmp_path, 2) as edges:
            ns = edges[0].create_namespace("restart")
            edges[0].put_ok(ns, "k", b"v1:")
            for edge in edges:
                assert wait_until(cached(edge, ns, "k", b"v1:"), 5) is not None
            first.stop()
            with KV(central) as kv:  # written while no relay could tell the edges
                kv.namespace(ns).put("k", "v2:")
            first = relay(central, tmp_path / "relay-again", port)
            for edge in edges:
                assert wait_until(reads(edge, ns, "k", b"v2:"), 15) is not None
                assert edge.health()["feed_flushes"] >= 1  # another epoch: everything dropped
            edges[1].put_ok(ns, "k", b"v3:")  # and the new relay carries changes on
            assert wait_until(reads(edges[0], ns, "k", b"v3:"), 5) is not None
    finally:
        first.stop()


def test_a_relay_behind_its_feed_retention_flushes_and_its_edges_with_it(
    tmp_path: Path,
) -> None:
    store = redis_url() + f"-relay-{os.getpid()}&feed_retention=1"
    first = relay(store, tmp_path / "relay")
    try:
        with edge_nodes(behind(first), tmp_path, 1) as (edge,):
            ns = edge.create_namespace("retention")
            edge.put_ok(ns, "untouched", b"u")
            edge.put_ok(ns, "k", b"v0:")
            assert wait_until(cached(edge, ns, "untouched", b"u"), 5) is not None
            assert first.process is not None
            os.kill(first.process.pid, signal.SIGSTOP)  # the relay stops reading its feed
            try:
                with KV(store) as kv:
                    namespace = kv.namespace(ns)
                    until = time.monotonic() + 2.5
                    i = 0
                    while time.monotonic() < until:  # every bucket trims what passed 1 s
                        namespace.put(f"churn{i % 64}", "x")
                        i += 1
                    namespace.put("k", "v1:")
            finally:
                os.kill(first.process.pid, signal.SIGCONT)
            assert wait_until(lambda: first.health()["feed_flushes"] >= 1, 15) is not None
            assert wait_until(lambda: edge.health()["feed_flushes"] >= 1, 15) is not None
            assert wait_until(reads(edge, ns, "k", b"v1:"), 5) is not None
            assert edge.get(ns, "untouched").cache != "HIT"  # flushed, read again
            assert edge.get(ns, "untouched").value == b"u"
    finally:
        first.stop()


def test_tiers_compose(central: str, tmp_path: Path) -> None:
    """edge -> relay -> relay -> central store, beside an edge of the first relay."""
    first = relay(central, tmp_path / "relay1")
    second = relay(behind(first), tmp_path / "relay2", secret="second-secret")
    try:
        with (
            edge_nodes(behind(first), tmp_path / "near", 1) as (near,),
            edge_nodes(behind(second, "second-secret"), tmp_path / "far", 1) as (far,),
        ):
            ns = far.create_namespace("tiers")
            scenarios.write_and_propagate("relay of a relay", [near, far], ns)
    finally:
        second.stop()
        first.stop()
