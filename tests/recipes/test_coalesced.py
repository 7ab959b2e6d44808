"""AsyncCoalesced: one JSON object per entity (seed 003), changed field by field safely."""

from __future__ import annotations

import asyncio

import pytest

import edgekv
from edgekv import errors, limits
from edgekv.recipes import AsyncCoalesced
from tests.clock import FakeClock
from tests.recipes.racing import racing


async def test_fields_are_set_and_removed(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    profiles = AsyncCoalesced(namespace, clock=clock)
    assert await profiles.get("user:1:profile") is None
    assert await profiles.delete_field("user:1:profile", "x") is None  # nothing written
    assert await namespace.get("user:1:profile") is None
    await profiles.set_field("user:1:profile", "name", "John")  # created
    await profiles.set_fields("user:1:profile", {"email": "j@example.com", "role": "admin"})
    assert await profiles.delete_field("user:1:profile", "role") == {
        "name": "John",
        "email": "j@example.com",
    }
    assert await profiles.get_field("user:1:profile", "email") == "j@example.com"
    assert await profiles.get_field("user:1:profile", "role", "none") == "none"
    assert await namespace.get("user:1:profile") == '{"name":"John","email":"j@example.com"}'


async def test_concurrent_updates_of_different_fields_all_land(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    profiles = AsyncCoalesced(namespace, clock=clock, backoff=0.001)
    await profiles.set_field("p", "n", 0)
    await asyncio.gather(*(profiles.set_field("p", f"f{i}", i) for i in range(20)))
    assert await profiles.get("p") == {"n": 0, **{f"f{i}": i for i in range(20)}}


async def test_a_lost_race_reads_again_and_keeps_the_other_write(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await namespace.put("p", '{"a":1}', metadata={"kind": "profile"}, expiration_ttl=3600)
    ns, store = racing(namespace, "p", '{"a":2,"b":2}')
    changes: list[dict[str, object]] = []

    def bump(doc: dict[str, object]) -> dict[str, object]:
        changes.append(dict(doc))
        return {**doc, "c": 3}

    assert await AsyncCoalesced(ns, clock=clock).update("p", bump) == {"a": 2, "b": 2, "c": 3}
    assert changes == [{"a": 1}, {"a": 2, "b": 2}]
    assert not store.pending
    stored = await namespace.get_with_metadata("p", "json")
    assert stored.value == {"a": 2, "b": 2, "c": 3}
    # The racing writer dropped metadata and expiration; the update keeps what it read last.
    assert stored.metadata is None and stored.expiration is None


async def test_metadata_and_expiration_are_kept(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await namespace.put("p", '{"a":1}', metadata={"kind": "profile"}, expiration_ttl=3600)
    await AsyncCoalesced(namespace, clock=clock).set_field("p", "b", 2)
    stored = await namespace.get_with_metadata("p")
    assert (stored.metadata, stored.expiration) == ({"kind": "profile"}, int(clock()) + 3600)


async def test_too_large_a_value_is_refused_before_writing(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    profiles = AsyncCoalesced(namespace, clock=clock)
    await profiles.set_field("p", "a", 1)
    version = (await namespace.get_with_metadata("p")).version
    with pytest.raises(errors.ValueTooLarge) as refused:
        await profiles.set_field("p", "blob", "x" * limits.MAX_VALUE_BYTES)
    assert refused.value.message == (
        f"Value length of {limits.MAX_VALUE_BYTES + 17} exceeds limit of 26214400."
    )
    stored = await namespace.get_with_metadata("p")
    assert (stored.value, stored.version) == ('{"a":1}', version)


async def test_a_value_that_is_not_an_object_is_refused(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await namespace.put("p", "[1, 2]")
    with pytest.raises(errors.BadRequest, match="not a JSON object"):
        await AsyncCoalesced(namespace, clock=clock).set_field("p", "a", 1)
    assert await namespace.get("p") == "[1, 2]"


async def test_a_key_that_never_settles_gives_up(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await namespace.put("p", "{}")
    store_ns, store = racing(namespace, "p", '{"x":0}')
    store.pending = [("p", f'{{"x":{i}}}'.encode()) for i in range(3)]
    profiles = AsyncCoalesced(store_ns, clock=clock, retries=1, backoff=0)
    with pytest.raises(errors.PreconditionFailed, match="changed too often"):
        await profiles.set_field("p", "y", 1)
