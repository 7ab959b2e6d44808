"""AsyncVersioned: seed 003's metadata versioning, migrated on read with a conditional write."""

from __future__ import annotations

from typing import Any

import pytest

import edgekv
from edgekv import errors
from edgekv.recipes import AsyncVersioned
from tests.clock import FakeClock
from tests.recipes.racing import racing


def steps(ns: edgekv.AsyncNamespace, clock: FakeClock, calls: list[int]) -> AsyncVersioned:
    values = AsyncVersioned(ns, clock=clock)

    @values.migration(1)
    def to_2(doc: Any) -> Any:
        calls.append(1)
        return {**doc, "userName": doc["name"]}

    @values.migration(2)
    def to_3(doc: Any) -> Any:
        calls.append(2)
        return {k: v for k, v in doc.items() if k != "name"}

    return values


async def test_migrations_run_in_order_once(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    calls: list[int] = []
    values = steps(namespace, clock, calls)
    assert values.version == 3
    await namespace.put(
        "u:1", '{"name":"Ada"}', expiration_ttl=3600, metadata={"version": 1, "owner": "x"}
    )
    await namespace.put("u:2", '{"name":"Bob","userName":"Bob"}', metadata={"version": 2})
    assert await values.get("u:1") == {"userName": "Ada"}
    assert await values.get("u:2") == {"userName": "Bob"}
    assert calls == [1, 2, 2]
    stored = await namespace.get_with_metadata("u:1")
    assert stored.value == '{"userName":"Ada"}'
    assert stored.metadata == {"version": 3, "owner": "x", "migratedAt": int(clock() * 1000)}
    assert stored.expiration == int(clock()) + 3600  # kept, where the seed's write drops it
    assert await values.get("u:1") == {"userName": "Ada"}
    assert calls == [1, 2, 2]  # read at the newest version: nothing to do
    assert await values.get("missing") is None


async def test_no_metadata_is_version_1_and_put_writes_the_newest(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    values = steps(namespace, clock, [])
    await namespace.put("u", '{"name":"Cy"}')  # as a Worker wrote it before versioning
    assert await values.get("u") == {"userName": "Cy"}
    await values.put("v", {"userName": "Di"}, metadata={"a": 1})
    assert (await namespace.get_with_metadata("v")).metadata == {"a": 1, "version": 3}


async def test_a_write_during_the_migration_wins_and_is_migrated_in_turn(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await namespace.put("u", '{"name":"older"}')
    ns, store = racing(namespace, "u", '{"name":"newer"}')
    values = AsyncVersioned(ns, clock=clock)
    seen: list[str] = []

    @values.migration(1)
    def to_2(doc: Any) -> Any:
        seen.append(doc["name"])
        return {**doc, "userName": doc["name"]}

    assert await values.get("u") == {"name": "newer", "userName": "newer"}
    assert seen == ["older", "newer"]  # the conditional write lost, read again, migrated that
    assert not store.pending
    assert (await namespace.get_with_metadata("u")).metadata["version"] == 2


async def test_a_missing_step_and_bad_registrations_are_refused(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    values = AsyncVersioned(namespace, version=3, clock=clock)
    values.register(2, lambda doc: doc)
    await namespace.put("u", "{}")
    with pytest.raises(errors.BadRequest, match="from version 1"):
        await values.get("u")
    with pytest.raises(errors.BadRequest, match="is registered"):
        values.register(2, lambda doc: doc)
    with pytest.raises(errors.BadRequest):
        values.register(0, lambda doc: doc)
