"""The edge tier in process: memory hits, read-your-writes, the feed, strong reads, failures."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

import edgekv
from edgekv import errors
from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.model import Change, EntryWrite, FeedPage
from tests.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def central(tmp_path: Path, clock: FakeClock) -> edgekv.AsyncSQLiteStore:
    return edgekv.AsyncSQLiteStore(tmp_path / "kv.db", clock=clock)


async def _pair(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock, **options: float
) -> tuple[edgekv.AsyncNamespace, edgekv.AsyncNamespace, AsyncEdgeStore]:
    """A namespace seen through an edge, and the same namespace written straight to central.

    The edge does not follow the feed by itself here: tests apply changes when they mean to.
    """
    edge = AsyncEdgeStore(central, clock=clock, follow_feed=False, **options)  # type: ignore[arg-type]
    direct = await edgekv.AsyncKV(central, clock=clock).create_namespace("EDGE")
    at_edge = await edgekv.AsyncKV(edge, clock=clock).namespace(direct.id)
    return at_edge, direct, edge


async def test_miss_then_hit_and_status(central: edgekv.AsyncSQLiteStore, clock: FakeClock) -> None:
    at_edge, direct, edge = await _pair(central, clock)
    await direct.put("k", "v1", metadata={"m": 1})
    first = await at_edge.get_with_metadata("k")
    second = await at_edge.get_with_metadata("k")
    assert (first.value, first.cache_status) == ("v1", "MISS")
    assert (second.value, second.cache_status, second.metadata) == ("v1", "HIT", {"m": 1})
    assert edge.stats["hit"] == 1 and edge.stats["miss"] == 1


async def test_staleness_is_bounded_by_cache_ttl_without_feed(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    at_edge, direct, _ = await _pair(central, clock)
    await direct.put("k", "old")
    assert await at_edge.get("k") == "old"
    await direct.put("k", "new")  # no feed applied: the edge may serve old until cache_ttl
    clock.advance(59)
    assert await at_edge.get("k") == "old"
    clock.advance(1)
    assert await at_edge.get("k") == "new"
    await direct.put("k", "newer")
    clock.advance(30)
    assert await at_edge.get("k", cache_ttl=30) == "newer"


async def test_read_your_writes_at_the_writing_edge(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    at_edge, direct, _ = await _pair(central, clock)
    await direct.put("k", "old")
    assert await at_edge.get("k") == "old"
    await at_edge.put("k", "mine")
    got = await at_edge.get_with_metadata("k")
    assert (got.value, got.cache_status) == ("mine", "HIT")
    await at_edge.delete("k")
    assert await at_edge.get("k") is None


async def test_feed_drops_changed_keys_and_keeps_own_writes(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    at_edge, direct, edge = await _pair(central, clock)
    await direct.put("a", "1")
    await direct.put("b", "1")
    assert await at_edge.get("a") == "1" and await at_edge.get("b") == "1"
    seen = await central.feed_position()
    await direct.put("a", "2")
    await edge.apply_changes((await central.changes(seen)).changes)
    assert await at_edge.get("a") == "2"
    own = await at_edge.put("b", "mine")
    await edge.apply_changes([Change(own, at_edge.id, "b")])
    assert (await at_edge.get_with_metadata("b")).cache_status == "HIT"
    await edge.apply_changes([Change(own + 100, at_edge.id, None)])  # the namespace was dropped
    assert (await at_edge.get_with_metadata("b")).cache_status == "MISS"


async def test_reads_never_go_back_in_time(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    at_edge, direct, edge = await _pair(central, clock)
    v1 = await direct.put("k", "1")
    await at_edge.get("k")
    v2 = await at_edge.put("k", "2")
    assert v2 > v1
    # An older version arriving later (a slow fetch) does not replace the newer one.
    entry = await central.get(at_edge.id, "k")
    assert entry is not None
    stale = edgekv.model.StoredEntry(b"1", None, None, v1)
    edge.memory.store((at_edge.id, "k"), stale, clock())
    assert await at_edge.get("k") == "2"


async def test_strong_read_bypasses_memory(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    at_edge, direct, _ = await _pair(central, clock)
    await direct.put("k", "old")
    await at_edge.get("k")
    await direct.put("k", "new")
    assert await at_edge.get("k") == "old"
    got = await at_edge.get_with_metadata("k", consistency="strong")
    assert (got.value, got.cache_status) == ("new", "BYPASS")


async def test_misses_are_cached_and_shared(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    at_edge, direct, edge = await _pair(central, clock)
    results = await asyncio.gather(*(at_edge.get("missing") for _ in range(50)))
    assert results == [None] * 50
    assert edge.stats["miss"] + edge.stats["hit"] == 50
    await direct.put("missing", "now here")
    assert await at_edge.get("missing") is None  # the miss is cached for cache_ttl
    clock.advance(60)
    assert await at_edge.get("missing") == "now here"


async def test_an_edge_declares_its_central_stores_capabilities(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    edge = AsyncEdgeStore(central, clock=clock, follow_feed=False)
    assert edge.capabilities is central.capabilities
    assert edge.capabilities.group_commit  # so the server group-commits through the edge


async def test_memory_is_bounded_in_bytes(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    at_edge, _, edge = await _pair(central, clock, cache_size=200_000)
    for i in range(300):
        await at_edge.put(f"k{i}", "x" * 1000)
    assert edge.memory.bytes <= 200_000
    assert edge.memory.evictions > 0
    assert await at_edge.get("k0") == "x" * 1000  # evicted, read again from central


async def test_central_failure_serves_cached_and_stale_reads(
    central: edgekv.AsyncSQLiteStore, clock: FakeClock
) -> None:
    at_edge, direct, _ = await _pair(central, clock, serve_stale=300)
    await direct.put("cached", "v")
    await direct.put("other", "w")
    assert await at_edge.get("cached") == "v"
    await central.aclose()  # the central store is gone
    assert await at_edge.get("cached") == "v"
    clock.advance(120)  # past cache_ttl, within serve_stale
    got = await at_edge.get_with_metadata("cached")
    assert (got.value, got.cache_status) == ("v", "STALE")
    with pytest.raises(edgekv.StoreUnavailable):
        await at_edge.get("other")
    with pytest.raises(edgekv.StoreUnavailable):
        await at_edge.put("cached", "lost?")
    clock.advance(300)
    with pytest.raises(edgekv.StoreUnavailable):
        await at_edge.get("cached")


async def test_edges_follow_the_feed(tmp_path: Path) -> None:
    """Two in-process edges over one SQLite file: a write at one is seen at the other through
    the feed, long before cache_ttl."""
    path = tmp_path / "shared.db"
    a = edgekv.AsyncKV(f"sqlite:///{path}", edge_cache=1 << 20)
    b = edgekv.AsyncKV(f"sqlite:///{path}", edge_cache=1 << 20)
    ns_a = await a.create_namespace("FEED")
    ns_b = await b.namespace("FEED")
    await ns_a.put("k", "1")
    assert await ns_b.get("k") == "1"  # cached at b now
    await ns_a.put("k", "2")
    for _ in range(400):  # the feed is polled every few ms; give it up to 2 s
        if await ns_b.get("k") == "2":
            break
        await asyncio.sleep(0.005)
    assert await ns_b.get("k") == "2"
    assert isinstance(b.store, AsyncEdgeStore) and b.store.feed_healthy
    await a.aclose()
    await b.aclose()


def test_sync_edge_follows_the_feed(tmp_path: Path) -> None:
    import time

    path = tmp_path / "shared.db"
    a = edgekv.KV(f"sqlite:///{path}", edge_cache=1 << 20)
    b = edgekv.KV(f"sqlite:///{path}", edge_cache=1 << 20)
    ns_a = a.create_namespace("FEED")
    ns_b = b.namespace("FEED")
    ns_a.put("k", "1")
    assert ns_b.get("k") == "1"
    ns_a.put("k", "2")
    deadline = time.monotonic() + 2
    while ns_b.get("k") != "2" and time.monotonic() < deadline:
        time.sleep(0.005)
    assert ns_b.get("k") == "2"
    a.close()
    b.close()


class _AnswerLost(edgekv.AsyncSQLiteStore):
    """A central store that can lose its answer to a write it made (as a connection that drops
    on the way back does), and notes how its feed is read. It says it can leave the reader's
    own changes out (as Redis can), so that an exclusive edge asks it to."""

    capabilities = dataclasses.replace(edgekv.AsyncSQLiteStore.capabilities, exclude_own=True)
    lose_answers = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads_excluding_own: list[bool] = []
        self.read = asyncio.Event()

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        version = await super().put(
            namespace_id, write, only_if_absent=only_if_absent, if_version=if_version
        )
        if self.lose_answers:
            raise errors.StoreUnavailable("central store unavailable: connection lost")
        return version

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        self.reads_excluding_own.append(exclude_own)
        self.read.set()
        return await super().changes(position, limit, exclude_own=exclude_own)


async def _next_feed_reads(central: _AnswerLost, n: int) -> list[bool]:
    central.reads_excluding_own.clear()
    async with asyncio.timeout(10):
        while len(central.reads_excluding_own) < n:
            central.read.clear()
            await central.read.wait()
    return central.reads_excluding_own[:n]


async def test_a_write_that_failed_but_may_have_landed_is_not_served_from_memory(
    tmp_path: Path, clock: FakeClock
) -> None:
    # An exclusive edge reads the feed without its own changes. A write whose answer was lost
    # may have landed all the same: the edge drops the key rather than serve what it cached,
    # and reads its own changes again for a while, which tell it whether the write landed.
    central = _AnswerLost(tmp_path / "kv.db", clock=clock)
    edge = AsyncEdgeStore(central, clock=clock, exclusive=True, feed_wait=0.02)
    ns = await edgekv.AsyncKV(edge, clock=clock).create_namespace("LOST")
    try:
        await ns.put("k", "v1")
        assert (await ns.get_with_metadata("k")).cache_status == "HIT"
        assert await _next_feed_reads(central, 2) == [True, True]

        with pytest.raises(errors.PreconditionFailed):  # refused: nothing written, kept
            await ns.put("k", "other", only_if_absent=True)
        assert (await ns.get_with_metadata("k")).cache_status == "HIT"
        assert await _next_feed_reads(central, 2) == [True, True]

        central.lose_answers = True
        with pytest.raises(errors.StoreUnavailable):
            await ns.put("k", "v2")
        central.lose_answers = False
        found = await ns.get_with_metadata("k")
        assert (found.value, found.cache_status) == ("v2", "MISS")
        assert await _next_feed_reads(central, 2) == [False, False]
    finally:
        await edge.aclose()
