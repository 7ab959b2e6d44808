"""Seed 003's patterns: metadata versioning, prefixes, coalesced keys and resilient reads, with
Python's recipes and the seed's Worker functions over the same namespace."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import edgekv
from edgekv.recipes import AsyncCoalesced, AsyncResilient, AsyncVersioned
from edgekv.recipes.worker_json import stringify
from tests.recipes.seeds.conftest import SeedWorker

V1 = {"name": "Ada", "tags": ["x"], "score": 1.5}


def versioned(ns: edgekv.AsyncNamespace) -> AsyncVersioned:
    values = AsyncVersioned(ns)

    @values.migration(1)
    def rename(data: Any) -> Any:  # the seed's migrate(data, 1, 2)
        return {**data, "userName": data["name"]}

    return values


async def test_python_migrates_as_the_worker_does(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    for key in ("data:py", "data:worker"):
        worker.call("put", key, json.dumps(V1))  # a version-1 value: no metadata
    migrated = await versioned(ns).get("data:py")
    assert migrated == {**V1, "userName": "Ada"}
    assert worker.call("migrateIfNeeded", "data:worker") == migrated

    ours, theirs = worker.call("raw", "data:py"), worker.call("raw", "data:worker")
    assert ours["value"] == theirs["value"]  # the same bytes as JSON.stringify wrote
    assert ours["metadata"]["version"] == theirs["metadata"]["version"] == 2
    assert isinstance(ours["metadata"]["migratedAt"], int)

    # Neither side migrates again what the other migrated.
    assert worker.call("migrateIfNeeded", "data:py") == migrated
    assert worker.call("raw", "data:py")["metadata"] == ours["metadata"]
    assert await versioned(ns).get("data:worker") == migrated
    assert worker.call("raw", "data:worker")["metadata"] == theirs["metadata"]


async def test_prefixed_views_see_the_workers_prefixes(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    users = ns.with_prefix("user:")
    worker.call("setUser", "123", {"name": "John"})
    assert await users.get("123", "json") == {"name": "John"}
    await users.put("456", stringify({"name": "Jane"}))
    await ns.put("session:abc", "{}")
    assert worker.call("getUser", "456") == {"name": "Jane"}
    assert (
        worker.call("listUserIds") == ["123", "456"] == [k.name for k in (await users.list()).keys]
    )


async def test_coalesced_updates_keep_every_field_the_worker_wrote(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    profile = {"name": "John", "email": "john@example.com", "role": "admin"}
    worker.call("putProfile", "123", profile)
    users = AsyncCoalesced(ns)
    fields = {f"pref{i}": i for i in range(8)}
    await asyncio.gather(
        users.set_field("user:123:profile", "role", "owner"),
        *(users.set_field("user:123:profile", k, v) for k, v in fields.items()),
    )
    expected = {**profile, "role": "owner", **fields}
    stored = worker.call("raw", "user:123:profile")["value"]
    assert json.loads(stored) == expected  # no update lost to a concurrent one
    assert stored == stringify(json.loads(stored))  # written as JSON.stringify writes


async def test_resilient_reads_answer_as_the_worker_does(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    fallback = {"theme": "light", "maxItems": 10}
    reads = AsyncResilient(ns)
    assert worker.call("resilientGet", "config:app", fallback) == fallback
    assert await reads.get("config:app", fallback) == fallback
    await ns.put("config:app", '{"theme":"dark"}')
    assert worker.call("resilientGet", "config:app", fallback) == {"theme": "dark"}
    assert await reads.get("config:app", fallback) == {"theme": "dark"}
