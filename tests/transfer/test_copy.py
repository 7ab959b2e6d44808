"""The transfer library's copy: batches that stay small for large values, a watch that copies
what changed (deletions too) and copies everything again when the feed dropped changes."""

from __future__ import annotations

import asyncio

import edgekv
from edgekv.model import EntryWrite
from edgekv.transfer import copy_namespace, entries, match_namespaces, watch
from edgekv.transfer.copy import CopySummary
from tests.transfer.hooked import Hooked


def _write(key: str, value: bytes) -> EntryWrite:
    return EntryWrite(key, value, None, None, len(value))


async def test_batches_shrink_for_large_values_and_grow_back() -> None:
    store = edgekv.AsyncSQLiteStore(None)
    ns = await store.create_namespace("BIG", edgekv.DEFAULT_ACCOUNT)
    await store.put_many(ns.id, [_write(f"a{i:02}", b"x" * (4 << 20)) for i in range(12)])
    await store.put_many(ns.id, [_write(f"b{i:04}", b"y") for i in range(400)])
    sizes = [len(batch) async for batch in entries(store, ns.id)]
    assert sum(sizes) == 412
    assert max(sizes) <= 100
    # 48 MiB in the first batch: the next is half as long; small values double it back.
    assert sizes == [100, 50, 100, 100, 62]
    await store.aclose()


async def test_watch_copies_changes_and_starts_over_when_the_feed_dropped_some() -> None:
    source = edgekv.AsyncSQLiteStore(None, feed_retention=0)  # the feed keeps nothing for long
    target = edgekv.AsyncSQLiteStore(None)
    account = edgekv.DEFAULT_ACCOUNT
    ns = await source.create_namespace("WATCHED", account)
    await source.put_many(ns.id, [_write(f"k{i}", b"v") for i in range(10)])
    position = await source.feed_position()
    pairs = await match_namespaces(source, target, source_account=account, target_account=account)
    assert (await copy_namespace(source, target, pairs[0])).written == 10
    stop = asyncio.Event()
    seen: list[CopySummary] = []

    async def changes_then_stop(call: int) -> None:
        if call == 1:
            await source.put(ns.id, _write("k-new", b"n"))
            await source.delete_many(ns.id, ["k0"])
        if call == 3:
            # The feed drops what it holds: the next read is behind, and the watch starts over.
            await source.put(ns.id, _write("k-later", b"l"))
            await source.put(ns.id, _write("k-last", b"z"))
            await asyncio.sleep(1.1)  # retention is counted in whole seconds
            await source.purge_expired()
        if call == 6:
            stop.set()

    total = await watch(
        Hooked(source, changes=changes_then_stop),
        target,
        pairs,
        position,
        stop=stop,
        wait=0.05,
        on_change=seen.append,
    )
    assert total.deleted == 1 and total.resynced == 1
    got = await target.get_many(pairs[0].target.id, ["k0", "k-new", "k-later"])
    assert [None if e is None else e.value for e in got] == [None, b"n", b"l"]
    await source.aclose()
    await target.aclose()
