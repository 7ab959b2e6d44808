"""edgekv's additions: versions, conditional writes, atomic counters, and the change feed."""

from __future__ import annotations

import pytest

import edgekv
from edgekv import errors
from edgekv.model import Change
from tests.clock import FakeClock


async def feed(store: edgekv.AsyncStore, position: str, namespace_id: str) -> list[Change]:
    """Every change after `position`, following pages; other namespaces (other tests, on a
    shared server) are skipped."""
    out: list[Change] = []
    while True:
        page = await store.changes(position, 1000)
        assert not page.behind
        if not page.changes:
            return out
        out += [c for c in page.changes if c.namespace_id == namespace_id]
        position = page.position


async def test_every_write_changes_the_version(ns: edgekv.AsyncNamespace) -> None:
    versions = [await ns.put("k", "same") for _ in range(3)]
    assert len(set(versions)) == 3
    assert (await ns.get_with_metadata("k")).version == versions[-1]
    await ns.put("other", "x")
    await ns.delete("k")
    again = await ns.put("k", "same")
    assert again not in versions
    await ns.bulk_put([{"key": "k", "value": "bulk"}])
    after_bulk = (await ns.get_with_metadata("k")).version
    assert after_bulk is not None
    assert after_bulk not in [*versions, again]
    many = await ns.get_with_metadata(["k"])
    assert many["k"] is not None
    assert many["k"].version == after_bulk
    stream = await ns.get_with_metadata("k", "stream")
    assert stream.version == after_bulk


async def test_only_if_absent(ns: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    first = await ns.put("k", "first", only_if_absent=True, expiration_ttl=60)
    with pytest.raises(errors.PreconditionFailed) as caught:
        await ns.put("k", "second", only_if_absent=True)
    assert caught.value.status == 412
    got = await ns.get_with_metadata("k")
    assert (got.value, got.version) == ("first", first)
    clock.advance(60)  # an expired key is absent
    assert await ns.put("k", "third", only_if_absent=True) != first
    assert await ns.get("k") == "third"
    await ns.delete("k")
    await ns.put("k", "fourth", only_if_absent=True)
    assert await ns.get("k") == "fourth"


async def test_only_if_absent_with_a_large_value(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("big", b"1" * (2 << 20), only_if_absent=True)
    with pytest.raises(errors.PreconditionFailed):
        await ns.put("big", b"2" * (2 << 20), only_if_absent=True)
    assert await ns.get("big", "bytes") == b"1" * (2 << 20)


async def test_if_version(ns: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    v1 = await ns.put("k", "one", metadata={"m": 1})
    v2 = await ns.put("k", "two", if_version=v1)
    assert v2 != v1
    got = await ns.get_with_metadata("k")
    assert (got.value, got.metadata, got.version) == ("two", None, v2)
    with pytest.raises(errors.PreconditionFailed) as caught:
        await ns.put("k", "stale", if_version=v1)
    assert caught.value.status == 412
    assert await ns.get("k") == "two"
    with pytest.raises(errors.PreconditionFailed):
        await ns.put("missing", "v", if_version=v2)
    assert await ns.get("missing") is None
    v3 = await ns.put("k", b"L" * (2 << 20), if_version=v2, expiration_ttl=60)
    with pytest.raises(errors.PreconditionFailed):
        await ns.put("k", b"M" * (2 << 20), if_version=v2)
    assert await ns.get("k", "bytes") == b"L" * (2 << 20)
    clock.advance(60)  # an expired key has no version to match
    with pytest.raises(errors.PreconditionFailed):
        await ns.put("k", "late", if_version=v3)


async def test_incr_is_an_atomic_counter(ns: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    assert await ns.incr("n") == 1
    assert await ns.incr("n") == 2
    assert await ns.incr("n", 10) == 12
    assert await ns.incr("n", -20) == -8
    assert await ns.get("n") == "-8"
    assert await ns.get("n", "json") == -8
    v = (await ns.get_with_metadata("n")).version
    assert await ns.incr("n", 0) == -8
    assert (await ns.get_with_metadata("n")).version != v
    await ns.put("m", "41", metadata={"keep": True})
    assert await ns.incr("m") == 42
    assert (await ns.get_with_metadata("m")).metadata == {"keep": True}


async def test_incr_with_expiry(ns: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    now = int(clock())
    assert await ns.incr("n", 5, expiration_ttl=60) == 5
    assert (await ns.get_with_metadata("n")).expiration == now + 60
    assert await ns.incr("n", 1) == 6
    assert (await ns.get_with_metadata("n")).expiration == now + 60
    clock.advance(60)
    assert await ns.get("n") is None
    assert await ns.incr("n", 1) == 1  # an expired counter starts again
    assert (await ns.get_with_metadata("n")).expiration is None
    assert await ns.incr("n", 1, expiration=now + 600) == 2
    assert (await ns.get_with_metadata("n")).expiration == now + 600
    with pytest.raises(errors.InvalidExpirationTtl):
        await ns.incr("n", 1, expiration_ttl=59)
    assert await ns.get("n") == "2"


async def test_incr_over_an_expired_large_value(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await ns.put("n", b"x" * (2 << 20), expiration_ttl=60)
    clock.advance(60)
    assert await ns.incr("n", 3) == 3
    assert await ns.get("n") == "3"
    assert await ns.get("n", "bytes") == b"3"
    assert await ns.get("n", "stream") is not None
    assert b"".join([c async for c in await ns.get("n", "stream")]) == b"3"  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["abc", "1.5", "", " 1", "007", "1e3", "9223372036854775808"])
async def test_incr_refuses_a_value_that_is_not_an_integer(
    ns: edgekv.AsyncNamespace, value: str
) -> None:
    v = await ns.put("k", value)
    with pytest.raises(errors.BadRequest) as caught:
        await ns.incr("k")
    assert caught.value.status == 400
    got = await ns.get_with_metadata("k")
    assert (got.value, got.version) == (value, v)


async def test_incr_refuses_to_overflow_64_bits(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", str(2**63 - 1))
    with pytest.raises(errors.BadRequest):
        await ns.incr("k")
    assert await ns.get("k") == str(2**63 - 1)
    await ns.put("k", str(-(2**63)))
    with pytest.raises(errors.BadRequest):
        await ns.incr("k", -1)
    assert await ns.incr("k", 2**63 - 1) == -1


async def test_incr_refuses_a_step_that_is_not_a_64_bit_integer(
    ns: edgekv.AsyncNamespace,
) -> None:
    for by in (1.5, "1", True, 2**63, -(2**63) - 1):
        with pytest.raises(errors.BadRequest):
            await ns.incr("k", by)  # type: ignore[arg-type]
    assert await ns.get("k") is None


async def test_incr_of_a_large_value_is_refused(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", b"1" * (2 << 20))
    with pytest.raises(errors.BadRequest):
        await ns.incr("k")


# the change feed


async def test_the_feed_lists_each_write_and_delete_in_order(
    kv: edgekv.AsyncKV, store: edgekv.AsyncStore
) -> None:
    ns = await kv.create_namespace("fed")
    start = await store.feed_position()
    await ns.put("a", "1")
    await ns.put("b", "2", metadata={"m": 1})
    await ns.put("a", "3")
    await ns.delete("a")
    await ns.delete("never-there")  # nothing changed: no entry
    await ns.bulk_put([{"key": "c", "value": "4"}, {"key": "d", "value": "5"}])
    await ns.bulk_delete(["c", "missing"])
    assert await ns.incr("n") == 1
    await ns.put("big", b"x" * (2 << 20))
    changes = await feed(store, start, ns.id)
    assert [c.key for c in changes] == ["a", "b", "a", "a", "c", "d", "c", "n", "big"]
    seqs = [c.seq for c in changes]
    assert seqs == sorted(set(seqs))
    # Reading on from the end finds nothing; reading from the middle finds the rest.
    end = await store.feed_position()
    assert await feed(store, end, ns.id) == []
    middle = await store.feed_position()
    await ns.put("e", "6")
    assert [c.key for c in await feed(store, middle, ns.id)] == ["e"]


async def test_the_feed_pages_with_a_limit(kv: edgekv.AsyncKV, store: edgekv.AsyncStore) -> None:
    ns = await kv.create_namespace("paged")
    start = await store.feed_position()
    for i in range(5):
        await ns.put(f"k{i}", "v")
    first = await store.changes(start, 2)
    assert len(first.changes) == 2
    assert [c.key for c in await feed(store, start, ns.id)] == [f"k{i}" for i in range(5)]
    assert [c.key for c in await feed(store, first.position, ns.id)] == ["k2", "k3", "k4"]


async def test_the_feed_shows_a_namespace_delete_as_one_change_with_no_key(
    kv: edgekv.AsyncKV, store: edgekv.AsyncStore
) -> None:
    ns = await kv.create_namespace("gone")
    await ns.bulk_put([{"key": f"k{i}", "value": "v"} for i in range(20)])
    start = await store.feed_position()
    await kv.delete_namespace(ns.id)
    changes = await feed(store, start, ns.id)
    assert [(c.namespace_id, c.key) for c in changes] == [(ns.id, None)]


async def test_the_feed_names_the_namespace(kv: edgekv.AsyncKV, store: edgekv.AsyncStore) -> None:
    one = await kv.create_namespace("one")
    two = await kv.create_namespace("two")
    start = await store.feed_position()
    await one.put("k", "1")
    await two.put("k", "2")
    both = await feed(store, start, one.id) + await feed(store, start, two.id)
    assert [(c.namespace_id, c.key) for c in sorted(both, key=lambda c: c.seq)] == [
        (one.id, "k"),
        (two.id, "k"),
    ]
