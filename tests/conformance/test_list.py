"""docs/contract.md §1-2: list — UTF-8 byte order, prefix matched literally, limit, cursor,
last page."""

from __future__ import annotations

from typing import Any

import pytest

import edgekv
from edgekv import errors
from tests.clock import FakeClock

from .helpers import refused, utf8_sorted


async def names(
    ns: edgekv.AsyncNamespace, *, cursor: str | None = None, **options: Any
) -> list[str]:
    """Every key the list returns, following cursors to the end."""
    out: list[str] = []
    while True:
        page = await ns.list(cursor=cursor, **options)
        out += [k.name for k in page.keys]
        if page.list_complete:
            assert page.cursor is None
            return out
        assert page.cursor
        cursor = page.cursor


async def put_all(ns: edgekv.AsyncNamespace, keys: list[str]) -> None:
    await ns.bulk_put([{"key": k, "value": "v"} for k in keys])


async def test_order_is_by_utf8_bytes(ns: edgekv.AsyncNamespace) -> None:
    keys = [
        ", ",
        "!",
        " ",
        "A",
        "a",
        "B",
        "b",
        "a!",
        "ab",
        "a\x7f",
        "aé",
        "a\u0800",
        "a\uffff",
        "a\U0001f600",
        "a\U0010ffff",
        "\x00",
        "é",
        "z",
        "Z",
        "10",
        "9",
    ]
    await put_all(ns, keys)
    expected = utf8_sorted(keys)
    assert await names(ns) == expected
    got = await names(ns)
    assert got.index("!") < got.index(", ")
    assert got.index("B") < got.index("a")  # upper case first: byte order, not a collation
    assert got.index("10") < got.index("9")
    # UTF-16 (JavaScript's string order) puts the emoji, a surrogate pair, before U+FFFF;
    # UTF-8 byte order puts it after.
    assert got.index("a\uffff") < got.index("a\U0001f600")
    assert got.index("a") < got.index("a!") < got.index("aé")
    assert got.index("aé") < got.index("a\u0800")


async def test_limit_default_and_maximum_is_1000(ns: edgekv.AsyncNamespace) -> None:
    keys = [f"k{i:04}" for i in range(1001)]
    await put_all(ns, keys)
    page = await ns.list()
    assert [k.name for k in page.keys] == keys[:1000]
    assert not page.list_complete
    assert page.cursor
    page = await ns.list(limit=1000)
    assert len(page.keys) == 1000
    last = await ns.list(cursor=page.cursor)
    assert [k.name for k in last.keys] == ["k1000"]
    assert last.list_complete
    assert last.cursor is None


@pytest.mark.parametrize("limit", [1001, 5000, "1001"])
async def test_a_limit_over_1000_is_refused(ns: edgekv.AsyncNamespace, limit: Any) -> None:
    message = (
        f"Invalid key_count_limit of {limit}. Please specify an integer less than or equal to 1000."
    )
    with refused(errors.InvalidListLimit, 400, message):
        await ns.list(limit=limit)


@pytest.mark.parametrize("limit", [0, -1, "x", 2.5])
async def test_a_limit_under_1_is_refused(ns: edgekv.AsyncNamespace, limit: Any) -> None:
    with pytest.raises(errors.InvalidListLimit) as caught:
        await ns.list(limit=limit)
    assert caught.value.status == 400
    assert caught.value.message.startswith(f"Invalid key_count_limit of {limit}.")


async def test_the_last_page_is_complete_and_has_no_cursor(ns: edgekv.AsyncNamespace) -> None:
    page = (await ns.list()).as_json()
    # cacheStatus says where the page came from: None from a central store, BYPASS at an edge.
    assert page.pop("cacheStatus") in (None, "BYPASS")
    assert page == {"keys": [], "list_complete": True}
    await put_all(ns, ["a", "b", "c", "d"])
    first = await ns.list(limit=2)
    assert [k.name for k in first.keys] == ["a", "b"]
    assert first.list_complete is False
    assert first.cursor
    assert first.as_json()["cursor"] == first.cursor
    # Exactly `limit` keys left: the page that ends the list says so.
    second = await ns.list(limit=2, cursor=first.cursor)
    assert [k.name for k in second.keys] == ["c", "d"]
    assert second.list_complete is True
    assert second.cursor is None
    assert "cursor" not in second.as_json()


async def test_limit_1_walks_every_key_once(ns: edgekv.AsyncNamespace) -> None:
    keys = ["a", "a/b", "a/b/c", "b", "é", "😀"]
    await put_all(ns, keys)
    assert await names(ns, limit=1) == keys


async def test_the_cursor_continues_after_the_last_key_returned(
    ns: edgekv.AsyncNamespace,
) -> None:
    await put_all(ns, ["b", "d", "f", "h"])
    first = await ns.list(limit=2)
    assert [k.name for k in first.keys] == ["b", "d"]
    # Between pages: keys inserted ahead of the cursor appear later, keys inserted before it
    # do not, and a deleted key is gone.
    await put_all(ns, ["a", "c", "e", "dd", "z"])
    await ns.delete("f")
    await ns.delete("d")  # the cursor's own key: the walk still continues after it
    rest = await names(ns, limit=2, cursor=first.cursor)
    assert rest == ["dd", "e", "h", "z"]


async def test_the_prefix_is_sent_again_with_the_cursor(ns: edgekv.AsyncNamespace) -> None:
    await put_all(ns, ["a1", "p/1", "p/2", "p/3", "p/4", "q1"])
    first = await ns.list(prefix="p/", limit=2)
    assert [k.name for k in first.keys] == ["p/1", "p/2"]
    second = await ns.list(prefix="p/", limit=2, cursor=first.cursor)
    assert [k.name for k in second.keys] == ["p/3", "p/4"]
    assert second.list_complete
    # Without the prefix the cursor still means "after p/2", over every key.
    unfiltered = await ns.list(cursor=first.cursor)
    assert [k.name for k in unfiltered.keys] == ["p/3", "p/4", "q1"]


async def test_prefix_is_matched_literally(ns: edgekv.AsyncNamespace) -> None:
    keys = ["a%b", "a%", "axb", "a_b", "aXb", "a\\b", "a\\\\b", "A%b", "a.b", "a*b", "a[b]", "ab"]
    await put_all(ns, keys)
    assert await names(ns, prefix="a%") == ["a%", "a%b"]
    assert await names(ns, prefix="a_") == ["a_b"]
    assert await names(ns, prefix="a\\") == ["a\\\\b", "a\\b"]
    assert await names(ns, prefix="a.") == ["a.b"]
    assert await names(ns, prefix="a*") == ["a*b"]
    assert await names(ns, prefix="a[") == ["a[b]"]
    assert await names(ns, prefix="A") == ["A%b"]
    assert await names(ns, prefix="a") == utf8_sorted([k for k in keys if k.startswith("a")])
    assert await names(ns, prefix="") == utf8_sorted(keys)
    assert await names(ns, prefix="nothing") == []


async def test_prefix_at_the_edges_of_unicode(ns: edgekv.AsyncNamespace) -> None:
    keys = ["a", "a\U0010ffff", "a\U0010ffffz", "a\U0010ffff\U0010ffff", "b", "\ud7ffx", "\ue000"]
    await put_all(ns, keys)
    assert await names(ns, prefix="a\U0010ffff") == [
        "a\U0010ffff",
        "a\U0010ffffz",
        "a\U0010ffff\U0010ffff",
    ]
    assert await names(ns, prefix="\U0010ffff") == []
    assert await names(ns, prefix="\ud7ff") == ["\ud7ffx"]
    assert await names(ns, prefix="é") == []


async def test_a_prefix_over_512_bytes_is_refused(ns: edgekv.AsyncNamespace) -> None:
    assert (await ns.list(prefix="é" * 256)).keys == []
    with refused(
        errors.KeyTooLong, 414, "UTF-8 encoded length of 514 exceeds key length limit of 512."
    ):
        await ns.list(prefix="é" * 257)


async def test_expiration_and_metadata_appear_only_when_set(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    now = int(clock())
    await ns.put("plain", "v")
    await ns.put("meta", "v", metadata={"m": 1})
    await ns.put("ttl", "v", expiration_ttl=600)
    await ns.put("both", "", metadata=0, expiration=now + 900)
    page = await ns.list()
    assert [k.as_json() for k in page.keys] == [
        {"name": "both", "expiration": now + 900, "metadata": 0},
        {"name": "meta", "metadata": {"m": 1}},
        {"name": "plain"},
        {"name": "ttl", "expiration": now + 600},
    ]
    assert page.as_json()["list_complete"] is True


async def test_a_bad_cursor_is_refused(ns: edgekv.AsyncNamespace) -> None:
    for cursor in ("!!!", "é", "_w"):
        with pytest.raises(errors.InvalidCursor) as caught:
            await ns.list(cursor=cursor)
        assert caught.value.status == 400


async def test_an_empty_cursor_starts_at_the_beginning(ns: edgekv.AsyncNamespace) -> None:
    await put_all(ns, ["a", "b"])
    assert [k.name for k in (await ns.list(cursor="")).keys] == ["a", "b"]


async def test_namespaces_do_not_see_each_others_keys(kv: edgekv.AsyncKV) -> None:
    one = await kv.create_namespace("one")
    two = await kv.create_namespace("two")
    await one.put("shared-name", "1")
    await two.put("shared-name", "2")
    await two.put("only-two", "2")
    assert await names(one) == ["shared-name"]
    assert await names(two) == ["only-two", "shared-name"]
    assert await one.get("shared-name") == "1"
    assert await one.get("only-two") is None
