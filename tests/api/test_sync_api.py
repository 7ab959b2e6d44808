"""The sync API (generated from the async one) behaves the same, on every central store: a
SQLite file, PostgreSQL, Redis and a Redis Cluster (the sync shells of their drivers differ)."""

from __future__ import annotations

import io
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import edgekv
from edgekv import errors
from tests.clock import FakeClock
from tests.stores import backends


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _store(kind: str, tmp_path: Path, clock: FakeClock) -> edgekv.Store:
    if kind == "sqlite":
        return edgekv.SQLiteStore(tmp_path / "kv.db", clock=clock)
    if kind == "postgres":
        from edgekv.stores.postgres._sync.postgres_store import PostgresStore

        return PostgresStore(backends.postgres_url(), clock=clock)
    from edgekv.stores.redis._sync.redis_store import RedisStore

    url = backends.redis_url() if kind == "redis" else backends.redis_cluster_url()
    return RedisStore(url, clock=clock)


@pytest.fixture(params=["sqlite", "postgres", "redis", "redis-cluster"])
def kv(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[edgekv.KV]:
    store = _store(request.param, tmp_path, clock)
    # A fresh account per test: the server stores are shared by the whole session.
    with edgekv.KV(store, clock=clock, account_id=uuid.uuid4().hex) as opened:
        yield opened


@pytest.fixture
def ns(kv: edgekv.KV) -> edgekv.Namespace:
    return kv.create_namespace("sync")


def test_put_get_and_metadata(ns: edgekv.Namespace, clock: FakeClock) -> None:
    version = ns.put("k", '{"a": 1}', metadata={"m": 1}, expiration_ttl=60)
    assert ns.get("k") == '{"a": 1}'
    assert ns.get("k", "json") == {"a": 1}
    assert ns.get("k", "bytes") == b'{"a": 1}'
    got = ns.get_with_metadata("k")
    assert (got.value, got.metadata, got.version) == ('{"a": 1}', {"m": 1}, version)
    assert got.expiration == int(clock()) + 60
    ns.put("falsy", "", metadata=False)
    assert ns.get_with_metadata("falsy").metadata is False
    clock.advance(60)
    assert ns.get("k") is None
    ns.delete("falsy")
    ns.delete("falsy")
    assert ns.get("falsy") is None


def test_errors_are_the_same(ns: edgekv.Namespace) -> None:
    with pytest.raises(errors.KeyTooLong) as caught:
        ns.put("é" * 257, "v")
    assert caught.value.message == "UTF-8 encoded length of 514 exceeds key length limit of 512."
    with pytest.raises(errors.InvalidKey):
        ns.get("..")
    with pytest.raises(errors.InvalidExpirationTtl):
        ns.put("k", "v", expiration_ttl=59)
    with pytest.raises(TypeError):
        ns.get("k", "blob")  # type: ignore[call-overload]
    with pytest.raises(errors.InvalidListLimit):
        ns.list(limit=1001)
    with pytest.raises(errors.ValueTooLarge):
        ns.put("k", b"x" * (26_214_400 + 1))


def test_list_pages(ns: edgekv.Namespace) -> None:
    keys = ["a", "a\uffff", "a\U0001f600", "b", "é"]
    ns.bulk_put([{"key": k, "value": "v"} for k in keys])
    seen: list[str] = []
    cursor = None
    while True:
        page = ns.list(limit=2, cursor=cursor)
        seen += [k.name for k in page.keys]
        if page.list_complete:
            assert page.cursor is None
            break
        cursor = page.cursor
    assert seen == keys
    assert [k.name for k in ns.list(prefix="a").keys] == keys[:3]


def test_bulk(ns: edgekv.Namespace) -> None:
    assert (
        ns.bulk_put([{"key": f"k{i}", "value": str(i)} for i in range(150)]).successful_key_count
        == 150
    )
    assert ns.get(["k1", "k2", "nope"]) == {"k1": "1", "k2": "2", "nope": None}
    assert ns.get(["k1"], "json") == {"k1": 1}
    many = ns.get_with_metadata(["k1"])
    assert many["k1"] is not None
    assert many["k1"].value == "1"
    with pytest.raises(errors.InvalidBulkRequest):
        ns.get([f"k{i}" for i in range(101)])
    with pytest.raises(errors.InvalidKey):
        ns.bulk_put([{"key": "ok", "value": "v"}, {"key": "", "value": "v"}])
    assert ns.get("ok") is None
    assert ns.bulk_delete([f"k{i}" for i in range(100)]).successful_key_count == 100
    assert len(ns.list().keys) == 50


def test_streams(ns: edgekv.Namespace) -> None:
    def parts() -> Iterator[bytes]:
        yield b"x" * (1 << 20)
        yield b"y" * (1 << 20)

    ns.put("big", parts())
    stream = ns.get("big", "stream")
    assert stream is not None
    assert b"".join(stream) == b"x" * (1 << 20) + b"y" * (1 << 20)
    # A file object is read in chunks, not as lines.
    ns.put("file", io.BytesIO(b"line 1\nline 2\n"))
    assert ns.get("file") == "line 1\nline 2\n"
    got = ns.get_with_metadata("file", "stream")
    assert b"".join(got.value) == b"line 1\nline 2\n"


def test_a_file_without_newlines_is_read_in_chunks(ns: edgekv.Namespace, tmp_path: Path) -> None:
    # A sync file is also an iterable of lines; read as lines, this one would arrive whole.
    size = 8 << 20
    path = tmp_path / "nolines.bin"
    path.write_bytes(b"z" * size)
    tracemalloc.start()
    try:
        with path.open("rb") as source:
            ns.put("nolines", source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 2, peak
    assert ns.get("nolines", "bytes") == b"z" * size


def test_conditional_writes_incr_and_namespaces(kv: edgekv.KV, ns: edgekv.Namespace) -> None:
    v1 = ns.put("k", "one", only_if_absent=True)
    with pytest.raises(errors.PreconditionFailed):
        ns.put("k", "two", only_if_absent=True)
    ns.put("k", "two", if_version=v1)
    with pytest.raises(errors.PreconditionFailed):
        ns.put("k", "three", if_version=v1)
    assert ns.incr("n", 5) == 5
    assert ns.incr("n") == 6
    assert kv.namespace("sync").id == ns.id
    kv.rename_namespace(ns.id, "renamed")
    assert [n.title for n in kv.list_namespaces().namespaces] == ["renamed"]
    start = kv.store.feed_position()
    ns.put("k", "again")
    assert [c.key for c in kv.store.changes(start).changes] == ["k"]
    kv.delete_namespace(ns.id)
    with pytest.raises(errors.NamespaceNotFound):
        ns.get("k")


def test_a_store_url(tmp_path: Path) -> None:
    path = tmp_path / "url.db"
    with edgekv.KV(f"sqlite:///{path}") as kv:
        kv.create_namespace("by-url").put("k", "v")
    with edgekv.KV(f"sqlite:///{path}") as kv:
        assert kv.namespace("by-url").get("k") == "v"
