"""A namespace with a chosen id: a wrangler.toml's Cloudflare ids work against edgekv unchanged."""

from __future__ import annotations

import uuid

import pytest

import edgekv
from edgekv import errors


def fresh_id() -> str:
    return uuid.uuid4().hex


async def test_a_namespace_gets_the_id_it_is_given(kv: edgekv.AsyncKV) -> None:
    chosen = fresh_id()
    ns = await kv.create_namespace("CACHE", id=chosen)
    assert ns.id == chosen
    assert (await kv.namespace(chosen)).info == ns.info
    assert (await kv.namespace("CACHE")).id == chosen
    await ns.put("k", "v")
    assert await (await kv.namespace(chosen)).get("k") == "v"
    listed = (await kv.list_namespaces(per_page=100)).namespaces
    assert [n.id for n in listed if n.title == "CACHE"] == [chosen]


async def test_the_store_takes_the_id_too(store: edgekv.AsyncStore) -> None:
    chosen, account = fresh_id(), fresh_id()
    info = await store.create_namespace("direct", account, chosen)
    assert (info.id, info.title) == (chosen, "direct")  # (a RestStore keeps its own account)
    assert await store.get_namespace(chosen) == info


@pytest.mark.parametrize(
    "bad",
    [
        "0F2AC74B498B48028CB68387C421E279",  # upper case
        "0f2ac74b498b48028cb68387c421e27",  # 31 digits
        "0f2ac74b498b48028cb68387c421e2790",  # 33
        "0f2ac74b-498b-4802-8cb6-8387c421e279",  # a UUID's dashes
        "0f2ac74b498b48028cb68387c421e27g",
        "",
        "../" + "0" * 29,
        12345,
        b"0f2ac74b498b48028cb68387c421e279",
    ],
)
async def test_an_id_that_is_not_32_lowercase_hex_is_refused(
    kv: edgekv.AsyncKV, bad: object
) -> None:
    with pytest.raises(errors.InvalidNamespaceId) as caught:
        await kv.create_namespace("bad", id=bad)  # type: ignore[arg-type]
    assert caught.value.status == 400
    assert "32 lowercase hexadecimal digits" in caught.value.message
    assert (await kv.list_namespaces()).total_count == 0


async def test_a_taken_id_is_refused_and_nothing_changes(kv: edgekv.AsyncKV) -> None:
    chosen = fresh_id()
    first = await kv.create_namespace("first", id=chosen)
    await first.put("k", "kept")
    with pytest.raises(errors.NamespaceIdTaken) as caught:
        await kv.create_namespace("second", id=chosen)
    assert caught.value.status == 400
    assert caught.value.message == f"A namespace with the id {chosen} already exists."
    assert await (await kv.namespace(chosen)).get("k") == "kept"
    assert [n.title for n in (await kv.list_namespaces()).namespaces] == ["first"]


async def test_an_id_taken_in_another_account_is_refused(
    store: edgekv.AsyncStore, kv: edgekv.AsyncKV
) -> None:
    # Ids are global, as Cloudflare's are: one id names one namespace in the whole store.
    chosen = fresh_id()
    await kv.create_namespace("mine", id=chosen)
    other = edgekv.AsyncKV(store, account_id=fresh_id())
    with pytest.raises(errors.NamespaceIdTaken):
        await other.create_namespace("theirs", id=chosen)


async def test_a_deleted_namespaces_id_is_not_given_to_a_new_one(kv: edgekv.AsyncKV) -> None:
    # Its feed entries still name it: a new namespace of that id would be flushed by them.
    chosen = fresh_id()
    ns = await kv.create_namespace("doomed", id=chosen)
    await ns.put("k", "v")
    await kv.delete_namespace(chosen)
    with pytest.raises(errors.NamespaceIdTaken) as caught:
        await kv.create_namespace("doomed", id=chosen)
    assert "deleted namespace" in caught.value.message


async def test_a_duplicate_title_is_still_a_duplicate_title(kv: edgekv.AsyncKV) -> None:
    await kv.create_namespace("same", id=fresh_id())
    with pytest.raises(errors.DuplicateNamespaceTitle):
        await kv.create_namespace("same", id=fresh_id())
