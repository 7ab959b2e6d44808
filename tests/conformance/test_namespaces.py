"""docs/contract.md §1 and §3: namespaces — create, list (paged, ordered), get, rename, delete
with every key."""

from __future__ import annotations

import pytest

import edgekv
from edgekv import errors


async def test_create_and_find_by_id_or_title(kv: edgekv.AsyncKV) -> None:
    ns = await kv.create_namespace("My Namespace")
    assert len(ns.id) == 32
    assert ns.title == "My Namespace"
    assert (await kv.namespace(ns.id)).id == ns.id
    assert (await kv.namespace("My Namespace")).id == ns.id
    info = await kv.store.get_namespace(ns.id)
    assert info.as_json() == {"id": ns.id, "title": "My Namespace", "supports_url_encoding": True}


async def test_a_duplicate_title_is_refused_with_code_10014(kv: edgekv.AsyncKV) -> None:
    await kv.create_namespace("taken")
    with pytest.raises(errors.DuplicateNamespaceTitle) as caught:
        await kv.create_namespace("taken")
    assert caught.value.status == 400
    assert caught.value.code == 10014
    assert (await kv.list_namespaces()).total_count == 1
    # Titles are case-sensitive, like keys.
    await kv.create_namespace("Taken")


async def test_a_bad_title_is_refused(kv: edgekv.AsyncKV) -> None:
    for title in ("", "   ", 5, "x" * 513):
        with pytest.raises(errors.InvalidNamespaceTitle) as caught:
            await kv.create_namespace(title)  # type: ignore[arg-type]
        assert caught.value.status == 400


async def test_list_is_paged_and_ordered(kv: edgekv.AsyncKV) -> None:
    titles = ["delta", "alpha", "Charlie", "bravo", "echo"]
    created = {t: (await kv.create_namespace(t)).id for t in titles}
    by_title = sorted(titles)
    by_id = sorted(created.values())

    async def walk(**options: str) -> list[edgekv.NamespaceInfo]:
        out: list[edgekv.NamespaceInfo] = []
        page = 1
        while True:
            got = await kv.list_namespaces(page=page, per_page=2, **options)  # type: ignore[arg-type]
            assert got.total_count == 5
            if not got.namespaces:
                return out
            assert len(got.namespaces) <= 2
            out += got.namespaces
            page += 1

    assert [n.title for n in await walk(order="title")] == by_title
    assert [n.title for n in await walk(order="title", direction="desc")] == by_title[::-1]
    assert [n.id for n in await walk()] == by_id
    assert [n.id for n in await walk(order="id", direction="desc")] == by_id[::-1]
    first = await kv.list_namespaces()
    assert len(first.namespaces) == 5  # per_page default 20
    assert (await kv.list_namespaces(page=4, per_page=2)).namespaces == []
    assert len((await kv.list_namespaces(per_page=1000)).namespaces) == 5


async def test_list_refuses_pages_under_1(kv: edgekv.AsyncKV) -> None:
    for page, per_page in ((0, 20), (1, 0), (-1, 5)):
        with pytest.raises(errors.BadRequest):
            await kv.list_namespaces(page=page, per_page=per_page)


async def test_rename(kv: edgekv.AsyncKV) -> None:
    ns = await kv.create_namespace("old")
    await ns.put("k", "v")
    other = await kv.create_namespace("other")
    renamed = await kv.rename_namespace(ns.id, "new")
    assert (renamed.id, renamed.title) == (ns.id, "new")
    assert (await kv.namespace("new")).id == ns.id
    with pytest.raises(errors.NamespaceNotFound):
        await kv.namespace("old")
    assert await (await kv.namespace("new")).get("k") == "v"
    with pytest.raises(errors.DuplicateNamespaceTitle) as caught:
        await kv.rename_namespace(ns.id, "other")
    assert caught.value.code == 10014
    assert (await kv.store.get_namespace(other.id)).title == "other"
    # The old title is free again.
    await kv.create_namespace("old")


async def test_delete_removes_the_namespace_and_every_key(kv: edgekv.AsyncKV) -> None:
    ns = await kv.create_namespace("doomed")
    keep = await kv.create_namespace("kept")
    await ns.bulk_put([{"key": f"k{i}", "value": "v"} for i in range(50)])
    await ns.put("large", b"L" * (2 << 20))
    await keep.put("k0", "kept")
    await kv.delete_namespace(ns.id)

    def not_found(caught: pytest.ExceptionInfo[errors.NamespaceNotFound]) -> None:
        assert caught.value.status == 404
        assert caught.value.code == 10013
        assert caught.value.message == "namespace not found"

    for call in (
        lambda: kv.namespace(ns.id),
        lambda: kv.namespace("doomed"),
        lambda: kv.store.get_namespace(ns.id),
        lambda: kv.rename_namespace(ns.id, "again"),
        lambda: kv.delete_namespace(ns.id),
        lambda: ns.get("k0"),
        lambda: ns.get(["k0"]),
        lambda: ns.get("large", "stream"),
        lambda: ns.get_with_metadata("k0"),
        lambda: ns.put("k0", "v"),
        lambda: ns.delete("k0"),
        lambda: ns.list(),
        lambda: ns.bulk_put([{"key": "a", "value": "b"}]),
        lambda: ns.bulk_delete(["a"]),
        lambda: ns.incr("n"),
    ):
        with pytest.raises(errors.NamespaceNotFound) as caught:
            await call()
        not_found(caught)
    assert [n.title for n in (await kv.list_namespaces()).namespaces] == ["kept"]
    assert await keep.get("k0") == "kept"
    # A new namespace of the same title starts empty.
    again = await kv.create_namespace("doomed")
    assert again.id != ns.id
    assert (await again.list()).keys == []
    assert await again.get("k0") is None


async def test_an_unknown_namespace_is_not_found(kv: edgekv.AsyncKV) -> None:
    for name in ("0" * 32, "no such title"):
        with pytest.raises(errors.NamespaceNotFound) as caught:
            await kv.namespace(name)
        assert caught.value.code == 10013
        assert caught.value.status == 404
