"""`ns.with_prefix("user:")`: seed 003's PREFIXES as a view, over the embedded store and a
live server (REST), where list cursors are the server's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import edgekv
from edgekv import errors
from tests.clock import FakeClock


@pytest.fixture(params=["embedded", "server"])
async def ns(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[edgekv.AsyncNamespace]:
    clock = FakeClock()
    if request.param == "embedded":
        kv = edgekv.AsyncKV(edgekv.AsyncSQLiteStore(tmp_path / "kv.db", clock=clock), clock=clock)
    else:
        from edgekv.stores.http._async.http_store import AsyncRestStore
        from tests.stores.http.server import rest_server

        server = rest_server()
        server.clock.target = clock
        account_id, token = server.new_account()
        store = AsyncRestStore(server.url, token=token, account_id=account_id)
        kv = edgekv.AsyncKV(store, clock=clock, account_id=account_id)
    try:
        yield await kv.create_namespace(f"PREFIXED-{uuid.uuid4().hex[:8]}")
    finally:
        await kv.aclose()


async def test_verbs_work_inside_the_prefix_only(ns: edgekv.AsyncNamespace) -> None:
    users = ns.with_prefix("user:")
    await users.put("123", '{"name":"John"}', metadata={"v": 1})
    await ns.put("session:abc", "s")
    await ns.put("userless", "not under user:")

    assert await ns.get("user:123") == '{"name":"John"}'  # stored under the full key
    assert await users.get("123", "json") == {"name": "John"}
    got = await users.get_with_metadata("123")
    assert (got.value, got.metadata) == ('{"name":"John"}', {"v": 1})
    assert await users.get("abc") is None  # session:abc is outside the view
    assert await users.get(["123", "abc"]) == {"123": '{"name":"John"}', "abc": None}

    page = await users.list()
    assert [k.name for k in page.keys] == ["123"]  # as seed 003's listUserIds shows them
    assert page.keys[0].metadata == {"v": 1}

    await users.delete("123")
    await users.delete("abc")  # not in the view: nothing outside it is touched
    assert [k.name for k in (await ns.list()).keys] == ["session:abc", "userless"]


async def test_list_pages_and_cursors_stay_inside_the_prefix(ns: edgekv.AsyncNamespace) -> None:
    users = ns.with_prefix("user:")
    await ns.bulk_put([{"key": f"user:{i:03}", "value": str(i)} for i in range(25)])
    await ns.bulk_put([{"key": f"{p}:x", "value": "-"} for p in ("a", "user;", "usep", "z")])

    names: list[str] = []
    cursor = None
    while True:
        page = await users.list(limit=10, cursor=cursor)
        names += [k.name for k in page.keys]
        if page.list_complete:
            break
        cursor = page.cursor
    assert names == [f"{i:03}" for i in range(25)]
    assert [k.name for k in (await users.list(prefix="01")).keys] == [f"01{i}" for i in range(10)]

    assert (await users.bulk_delete([f"{i:03}" for i in range(20)])).successful_key_count == 20
    assert [k.name for k in (await users.list()).keys] == [f"{i:03}" for i in range(20, 25)]
    assert len((await ns.list()).keys) == 9


async def test_writes_keep_their_options_and_conditions(ns: edgekv.AsyncNamespace) -> None:
    users = ns.with_prefix("user:")
    version = await users.put("1", "a", expiration_ttl=3600)
    with pytest.raises(errors.PreconditionFailed):
        await users.put("1", "b", only_if_absent=True)
    await users.put("1", "c", if_version=version)
    assert (await ns.get_with_metadata("user:1")).expiration is None  # a rewrite without ttl
    await users.bulk_put([{"key": "2", "value": "b", "metadata": {"m": 2}}])
    assert (await ns.get_with_metadata("user:2")).metadata == {"m": 2}


async def test_views_nest_and_the_full_key_is_what_is_limited(ns: edgekv.AsyncNamespace) -> None:
    settings = ns.with_prefix("user:").with_prefix("123:")
    await settings.put("theme", "dark")
    assert await ns.get("user:123:theme") == "dark"
    assert "prefix='user:123:'" in repr(settings)

    long_prefix = ns.with_prefix("p" * 500)
    with pytest.raises(errors.KeyTooLong) as too_long:
        await long_prefix.put("k" * 20, "v")
    assert "UTF-8 encoded length of 520 exceeds key length limit of 512." in str(too_long.value)
    with pytest.raises(errors.InvalidKey):
        await ns.with_prefix("user:").put("", "v")  # the name inside the view is a key


def test_the_sync_namespace_has_the_same_view(tmp_path: Path) -> None:
    with edgekv.KV(f"sqlite:///{tmp_path}/kv.db") as kv:
        ns = kv.create_namespace("SYNC")
        ns.with_prefix("cache:").put("api:users", "[]")
        assert ns.get("cache:api:users") == "[]"
        assert [k.name for k in ns.with_prefix("cache:").list().keys] == ["api:users"]
