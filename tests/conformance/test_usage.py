"""edgekv's extensions for operating a namespace (docs/contract.md §6): each key's size and last
write, in list results and get_with_metadata, and a namespace's stored keys and bytes."""

from __future__ import annotations

import pytest

import edgekv
from edgekv import errors
from edgekv.stores.http._async.http_store import AsyncRestStore
from tests.clock import FakeClock

from .helpers import chunks


async def usage(store: edgekv.AsyncStore, ns: edgekv.AsyncNamespace) -> tuple[int, int]:
    found = await store.namespace_usage(ns.id)
    return found.keys, found.bytes


async def test_a_new_namespace_holds_nothing(
    ns: edgekv.AsyncNamespace, store: edgekv.AsyncStore
) -> None:
    assert await usage(store, ns) == (0, 0)


async def test_totals_follow_every_kind_of_write(
    ns: edgekv.AsyncNamespace, store: edgekv.AsyncStore
) -> None:
    await ns.put("a", "12345")
    await ns.put("b", b"\xff" * 10, metadata={"m": 1}, expiration_ttl=3600)
    assert await usage(store, ns) == (2, 15)
    await ns.put("a", "1")  # an overwrite counts its new size only
    assert await usage(store, ns) == (2, 11)
    await ns.bulk_put([{"key": f"bulk{i}", "value": "x" * i} for i in range(4)])
    assert await usage(store, ns) == (6, 17)
    await ns.put("a", "22", only_if_absent=False)
    version = (await ns.get_with_metadata("a")).version
    assert version is not None
    if store.capabilities.conditional_writes:
        await ns.put("a", "333", if_version=version)
        assert await usage(store, ns) == (6, 19)
        with pytest.raises(errors.PreconditionFailed):
            await ns.put("a", "4444", only_if_absent=True)  # refused: nothing changes
        assert await usage(store, ns) == (6, 19)
    else:
        await ns.put("a", "333")
    await ns.delete("b")
    await ns.delete("never-there")
    assert await usage(store, ns) == (5, 9)
    await ns.bulk_delete(["bulk0", "bulk1", "bulk1", "missing"])
    assert await usage(store, ns) == (3, 8)


async def test_counters_count_their_text(
    ns: edgekv.AsyncNamespace, store: edgekv.AsyncStore
) -> None:
    if not store.capabilities.incr:
        pytest.skip("this store has no incr")
    await ns.incr("n", 9)
    assert await usage(store, ns) == (1, 1)
    await ns.incr("n", 991, expiration_ttl=600)
    assert await usage(store, ns) == (1, 4)
    await ns.incr("n", -1000)
    assert await usage(store, ns) == (1, 1)


async def test_large_values_count_their_bytes(
    ns: edgekv.AsyncNamespace, store: edgekv.AsyncStore
) -> None:
    size = (2 << 20) + 3
    await ns.put("big", chunks(size))
    assert await usage(store, ns) == (1, size)
    [listed] = (await ns.list()).keys
    assert listed.size == size
    await ns.put("big", "small")
    assert await usage(store, ns) == (1, 5)


async def test_namespaces_are_counted_apart(
    kv: edgekv.AsyncKV, ns: edgekv.AsyncNamespace, store: edgekv.AsyncStore
) -> None:
    other = await kv.create_namespace("OTHER")
    await ns.put("k", "vv")
    await other.put("k", "vvvv")
    assert await usage(store, ns) == (1, 2)
    assert await usage(store, other) == (1, 4)


async def test_usage_of_a_missing_namespace_is_not_found(
    kv: edgekv.AsyncKV, store: edgekv.AsyncStore
) -> None:
    gone = await kv.create_namespace("GONE")
    await gone.put("k", "v")
    await kv.delete_namespace(gone.id)
    with pytest.raises(errors.NamespaceNotFound):
        await store.namespace_usage(gone.id)
    with pytest.raises(errors.NamespaceNotFound):
        await store.namespace_usage("0" * 32)


async def test_an_expired_entry_leaves_the_totals_once_reclaimed(
    ns: edgekv.AsyncNamespace, store: edgekv.AsyncStore, clock: FakeClock
) -> None:
    if isinstance(store, AsyncRestStore):
        pytest.skip("the server reclaims expired entries on its own schedule")
    await ns.put("gone", "12345", expiration_ttl=60)
    await ns.put("kept", "1")
    assert await usage(store, ns) == (2, 6)
    # Past the expiration and any store's grace (Redis reclaims 60 s after it).
    clock.advance(200)
    for _ in range(20):
        await store.purge_expired()
        if await usage(store, ns) == (1, 1):
            break
    assert await usage(store, ns) == (1, 1)
    await ns.put("gone", "123")  # written anew after it was reclaimed: counted once
    assert await usage(store, ns) == (2, 4)


async def test_list_reports_size_and_last_write(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await ns.put("a", "héllo")  # 6 bytes of UTF-8
    written = int(clock())
    clock.advance(30)
    await ns.put("b", b"", metadata={"m": 1})
    [a, b] = (await ns.list()).keys
    assert (a.name, a.size, a.written_at) == ("a", 6, written)
    assert (b.name, b.size, b.written_at) == ("b", 0, written + 30)
    # The binding's list shows Cloudflare's fields; the REST API's adds edgekv's.
    assert a.as_json() == {"name": "a"}
    assert a.as_json(extensions=True) == {"name": "a", "size": 6, "written_at": written}


async def test_get_with_metadata_reports_the_last_write(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await ns.put("k", "v", metadata={"m": 1})
    written = int(clock())
    clock.advance(90)
    got = await ns.get_with_metadata("k", consistency="strong")
    assert got.written_at == written
    many = await ns.get_with_metadata(["k"], consistency="strong")
    assert many["k"] is not None
    assert many["k"].written_at == written
    streamed = await ns.get_with_metadata("k", "stream", consistency="strong")
    assert streamed.written_at == written
    await ns.put("k", "w")
    assert (await ns.get_with_metadata("k")).written_at == written + 90
