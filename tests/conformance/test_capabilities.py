"""Each store's declared capabilities (edgekv.stores.capabilities) against what it does: what a
store declares it does, and what it does not declare it refuses or answers plainly."""

from __future__ import annotations

import pytest

import edgekv
from edgekv import errors
from edgekv.model import EntryWrite
from tests.conformance.test_versions import feed


def _write(key: str, value: bytes) -> EntryWrite:
    return EntryWrite(key, value, size=len(value))


async def test_a_store_declares_its_capabilities(store: edgekv.AsyncStore) -> None:
    assert isinstance(store.capabilities, edgekv.Capabilities)
    with pytest.raises(AttributeError):  # a declaration, not a setting
        store.capabilities.incr = not store.capabilities.incr  # type: ignore[misc]


async def test_versions(store: edgekv.AsyncStore, ns: edgekv.AsyncNamespace) -> None:
    first, second = await ns.put("k", "1"), await ns.put("k", "2")
    read = (await ns.get_with_metadata("k")).version
    if store.capabilities.versions:
        assert 0 < first < second == read
    else:
        assert first == second == read == 0


async def test_conditional_writes(store: edgekv.AsyncStore, ns: edgekv.AsyncNamespace) -> None:
    version = await ns.put("k", "kept")
    refusal = (
        errors.PreconditionFailed if store.capabilities.conditional_writes else errors.BadRequest
    )
    with pytest.raises(refusal):
        await ns.put("k", "not written", only_if_absent=True)
    with pytest.raises(refusal):
        await ns.put("k", "not written", if_version=version + 1)
    assert await ns.get("k") == "kept"


async def test_incr(store: edgekv.AsyncStore, ns: edgekv.AsyncNamespace) -> None:
    if store.capabilities.incr:
        assert [await ns.incr("n", by=b) for b in (1, 2)] == [1, 3]
    else:
        with pytest.raises(errors.BadRequest):
            await ns.incr("n")


async def test_group_commit(store: edgekv.AsyncStore, ns: edgekv.AsyncNamespace) -> None:
    writes = [_write(f"k{i}", b"v%d" % i) for i in range(20)]
    versions = await store.put_many(ns.id, writes)
    assert [await ns.get(w.key) for w in writes] == [f"v{i}" for i in range(20)]
    if store.capabilities.group_commit:
        # One transaction answering each write's own version (PostgreSQL writes them in key
        # order: not necessarily the order given).
        read = [(await ns.get_with_metadata(w.key)).version for w in writes]
        assert versions == read and len(set(versions)) == len(writes)


async def test_change_feed_and_its_order(
    store: edgekv.AsyncStore, ns: edgekv.AsyncNamespace
) -> None:
    position = await store.feed_position()
    written = [(key, await ns.put(key, "v")) for key in ["a", "b", "a", "c", "b", "a"]]
    changes = await feed(store, position, ns.id)
    if not store.capabilities.change_feed:
        assert (position, changes) == ("0", [])
        return
    assert sorted((c.key, c.seq) for c in changes) == sorted(written)
    if store.capabilities.ordered_feed:
        assert [(c.key, c.seq) for c in changes] == written
    for key in "abc":  # any feed: each key's changes in order
        assert [c.seq for c in changes if c.key == key] == [v for k, v in written if k == key]


async def test_exclude_own(store: edgekv.AsyncStore, ns: edgekv.AsyncNamespace) -> None:
    position = await store.feed_position()
    await ns.put("mine", "v")
    everything = await store.changes(position, 1000)
    mine = [c for c in everything.changes if c.namespace_id == ns.id]
    assert [c.key for c in mine] == (["mine"] if store.capabilities.change_feed else [])
    others = await store.changes(position, 1000, exclude_own=True)
    kept = [c for c in others.changes if c.namespace_id == ns.id]
    if store.capabilities.exclude_own:
        assert kept == [] and others.left_out >= 1
    else:
        assert kept == mine
