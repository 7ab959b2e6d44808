"""The change feed over HTTP (edgekv's `/storage/kv/changes`): through `RestStore` and raw HTTP.

The conformance suite checks the feed's semantics through the "rest" store; these tests check
what only the HTTP feed has: one account's view of a store-wide feed, token scopes, the long
poll, reading on past other accounts' changes, and an edge that follows a server.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

import edgekv
from edgekv import errors
from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.model import Change, EntryWrite
from edgekv.stores.http import wire
from edgekv.stores.http._sync.http_store import RestStore
from tests.stores.http.server import RestServer, rest_server
from tests.stores.http.test_rest_store import envelope, scripted  # noqa: F401  # a fixture


@pytest.fixture
def server() -> RestServer:
    # The conformance suite points the shared server at its fake clocks: back to real time.
    shared = rest_server()
    shared.clock.target = time.time
    return shared


def token(
    server: RestServer,
    account_id: str,
    namespaces: list[str] | None = None,
    read_only: bool = False,
) -> str:
    secret, _ = server.run(
        server.accounts.create_token(account_id, namespaces=namespaces, read_only=read_only)
    )
    return str(secret)


def read_all(store: RestStore, position: str | None) -> list[Change]:
    out: list[Change] = []
    while True:
        page = store.changes(position, 1000)
        assert not page.behind
        if not page.changes:
            return out
        out += page.changes
        position = page.position


def keys_of(changes: list[Change]) -> list[tuple[str, str | None]]:
    return [(c.namespace_id, c.key) for c in changes]


def feed_url(server: RestServer, account_id: str, path: str = "") -> str:
    return f"{server.url}/client/v4/accounts/{account_id}/storage/kv/changes{path}"


def test_an_account_reads_its_own_changes_and_nothing_else(server: RestServer) -> None:
    mine, my_token = server.new_account()
    theirs, their_token = server.new_account()
    with (
        edgekv.KV(server.url, token=my_token, account_id=mine) as kv,
        edgekv.KV(server.url, token=their_token, account_id=theirs) as other,
    ):
        store = kv.store
        assert isinstance(store, RestStore)
        ns = kv.create_namespace("fed")
        start = store.feed_position()
        other_ns = other.create_namespace("theirs")
        other_store = other.store
        assert isinstance(other_store, RestStore)
        other_store.feed_position()  # the server learns the other account's namespaces
        ns.put("a", "1")
        other_ns.put("secret", "x")
        ns.delete("a")
        other.delete_namespace(other_ns.id)
        ns.put("b", "2")
        changes = read_all(store, start)
        assert keys_of(changes) == [(ns.id, "a"), (ns.id, "a"), (ns.id, "b")]
        assert [c.seq for c in changes] == sorted({c.seq for c in changes})
        assert all(c.at > 0 for c in changes)
        # The other account reads the same store-wide positions and sees only its own.
        assert keys_of(read_all(other_store, start)) == [
            (other_ns.id, "secret"),
            (other_ns.id, None),
        ]


def test_a_deleted_namespace_shows_as_one_change_with_no_key(server: RestServer) -> None:
    account_id, secret = server.new_account()
    with edgekv.KV(server.url, token=secret, account_id=account_id) as kv:
        store = kv.store
        assert isinstance(store, RestStore)
        ns = kv.create_namespace("doomed")
        ns.put("k", "v")
        start = store.feed_position()  # the server learns the account's namespaces here
        kv.delete_namespace(ns.id)
        assert keys_of(read_all(store, start)) == [(ns.id, None)]


def test_a_namespace_scoped_token_sees_only_its_namespaces(server: RestServer) -> None:
    account_id, secret = server.new_account()
    with edgekv.KV(server.url, token=secret, account_id=account_id) as kv:
        one = kv.create_namespace("one")
        two = kv.create_namespace("two")
        scoped = RestStore(
            server.url, token=token(server, account_id, [one.id]), account_id=account_id
        )
        read_only = RestStore(
            server.url, token=token(server, account_id, read_only=True), account_id=account_id
        )
        with scoped, read_only:
            start = scoped.feed_position()
            one.put("k", "1")
            two.put("k", "2")
            assert keys_of(read_all(scoped, start)) == [(one.id, "k")]
            assert keys_of(read_all(read_only, start)) == [(one.id, "k"), (two.id, "k")]


def test_the_deletion_of_a_namespace_no_lookup_can_attribute(server: RestServer) -> None:
    """Created, written and deleted before this server ever read the account's feed: only a
    token scoped to that namespace (which knows its id) is told; no other account is."""
    account_id, secret = server.new_account()
    bystander, bystander_token = server.new_account()
    with RestStore(server.url, token=bystander_token, account_id=bystander) as other:
        start = other.feed_position()  # a store-wide position; learns nothing of account_id
        with edgekv.KV(server.url, token=secret, account_id=account_id) as kv:
            ns = kv.create_namespace("fleeting")
            scoped_token = token(server, account_id, [ns.id])
            ns.put("k", "v")
            kv.delete_namespace(ns.id)
        with RestStore(server.url, token=scoped_token, account_id=account_id) as scoped:
            assert keys_of(read_all(scoped, start)) == [(ns.id, "k"), (ns.id, None)]
        with RestStore(server.url, token=secret, account_id=account_id) as whole:
            assert read_all(whole, start) == []  # unattributable: documented in docs/server.md
        assert read_all(other, start) == []


def test_the_client_reads_on_past_pages_of_other_accounts_changes(server: RestServer) -> None:
    # With limit 1, twenty store pages of another account's changes end one request with
    # `more` and no changes; RestStore asks on rather than taking the empty page for the end.
    mine, my_token = server.new_account()
    theirs, their_token = server.new_account()
    with (
        edgekv.KV(server.url, token=my_token, account_id=mine) as kv,
        edgekv.KV(server.url, token=their_token, account_id=theirs) as other,
    ):
        store = kv.store
        assert isinstance(store, RestStore)
        ns = kv.create_namespace("patient")
        busy = other.create_namespace("busy")
        start = store.feed_position()
        busy.bulk_put([{"key": f"k{i}", "value": "v"} for i in range(45)])
        ns.put("mine", "1")
        raw = httpx.get(
            feed_url(server, mine),
            params={"position": start, "limit": 1},
            headers={"Authorization": f"Bearer {my_token}"},
        ).json()["result"]
        assert (raw["changes"], raw["more"], raw["behind"]) == ([], True, False)
        page = store.changes(start, 1)
        assert keys_of(page.changes) == [(ns.id, "mine")]
        assert store.changes(page.position, 1).changes == []


def test_wait_for_changes_is_a_long_poll(server: RestServer) -> None:
    account_id, secret = server.new_account()
    with edgekv.KV(server.url, token=secret, account_id=account_id) as kv:
        store = kv.store
        assert isinstance(store, RestStore)
        ns = kv.create_namespace("waiting")
        end = store.feed_position()
        assert store.wait_for_changes(end, 0.05) is False
        ns.put("k", "v")
        assert store.wait_for_changes(end, 5) is True


async def test_an_edge_follows_a_server_through_its_feed(server: RestServer) -> None:
    account_id, secret = server.new_account()
    writer = edgekv.AsyncKV(server.url, token=secret, account_id=account_id)
    reader = edgekv.AsyncKV(server.url, token=secret, account_id=account_id, edge_cache=1 << 20)
    try:
        ns_w = await writer.create_namespace("EDGE")
        ns_r = await reader.namespace("EDGE")
        await ns_w.put("k", "1")
        assert await ns_r.get("k", cache_ttl=3600) == "1"  # cached at the edge now
        await ns_w.put("k", "2")
        for _ in range(400):  # invalidated through the feed, long before cache_ttl
            if await ns_r.get("k", cache_ttl=3600) == "2":
                break
            await asyncio.sleep(0.01)
        assert await ns_r.get("k", cache_ttl=3600) == "2"
        assert isinstance(reader.store, AsyncEdgeStore) and reader.store.feed_healthy
    finally:
        await writer.aclose()
        await reader.aclose()


# raw HTTP


def get(url: str, secret: str, **params: Any) -> httpx.Response:
    return httpx.get(url, params=params, headers={"Authorization": f"Bearer {secret}"}, timeout=30)


def test_another_accounts_token_sees_nothing_of_this_accounts_changes(server: RestServer) -> None:
    mine, my_token = server.new_account()
    theirs, their_token = server.new_account()
    with edgekv.KV(server.url, token=my_token, account_id=mine) as kv:
        ns = kv.create_namespace("private")
        start = get(feed_url(server, mine, "/position"), my_token).json()["result"]["position"]
        ns.put("secret-key", "v")
        kv.delete_namespace(ns.id)
    # Its own account's feed holds none of them...
    answer = get(feed_url(server, theirs), their_token, position=start)
    assert answer.status_code == 200
    assert answer.json()["result"]["changes"] == []
    assert ns.id not in answer.text and "secret-key" not in answer.text
    # ...and this account's feed is forbidden to it, as every path of this account is.
    for path in ("", "/position", "/wait"):
        refused = get(feed_url(server, mine, path), their_token, position=start, seconds=0)
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["code"] == 10000
    assert get(feed_url(server, mine), "ekv_not-a-token").status_code == 401
    # The owner sees them.
    body = get(feed_url(server, mine), my_token, position=start).json()
    assert body["success"] is True
    assert [(c["namespace_id"], c["key"]) for c in body["result"]["changes"]] == [
        (ns.id, "secret-key"),
        (ns.id, None),
    ]


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("", {"limit": "0"}, "Invalid limit of 0"),
        ("", {"limit": "1001"}, "Invalid limit of 1001"),
        ("", {"limit": "ten"}, "Invalid limit of ten"),
        ("", {"position": "not-a-position"}, "Invalid feed position"),
        ("/wait", {"seconds": "-1"}, "Invalid seconds of -1"),
        ("/wait", {"seconds": "nan"}, "Invalid seconds of nan"),
        ("/wait", {"position": "x", "seconds": "0"}, "Invalid feed position"),
    ],
)
def test_bad_parameters_are_400(
    server: RestServer, path: str, params: dict[str, str], words: str
) -> None:
    account_id, secret = server.new_account()
    answer = get(feed_url(server, account_id, path), secret, **params)
    assert answer.status_code == 400
    assert words in answer.json()["errors"][0]["message"]


def test_a_server_without_the_feed_leaves_the_store_feedless(scripted: Any) -> None:  # noqa: F811
    # Cloudflare's API has no /storage/kv/changes: its 404 turns the feed off, as before.
    app, url = scripted([(404, {}, envelope(None, False, 7000, "No route for that URI"))])
    with RestStore(url, token="t", account_id="a" * 32) as store:
        assert store.capabilities.change_feed  # an edgekv server, by its URL
        assert store.feed_position() == "0"
        assert not store.capabilities.change_feed  # as the 404 said
        assert store.changes(None).changes == []
        assert store.wait_for_changes("0", 0) is False
    assert len(app.seen) == 1  # asked once, then remembered


def test_cloudflares_api_is_declared_by_its_url() -> None:
    assert wire.is_cloudflare("https://api.cloudflare.com/client/v4")
    assert wire.is_cloudflare("https://API.cloudflare.com/client/v4/")
    assert not wire.is_cloudflare("http://127.0.0.1:8787")
    assert not wire.is_cloudflare("https://kv.example.com/client/v4")


def test_what_cloudflares_api_lacks_is_refused_without_a_request(scripted: Any) -> None:  # noqa: F811
    # Cloudflare's API would write a conditional write unconditionally: refused before sending.
    app, url = scripted([(200, {}, envelope(None))])
    with RestStore(url, token="t", account_id="a" * 32, cloudflare=True) as store:
        assert store.capabilities == wire.CLOUDFLARE
        write = EntryWrite("k", b"v", size=1)
        with pytest.raises(errors.BadRequest, match="no conditional writes"):
            store.put("b" * 32, write, only_if_absent=True)
        with pytest.raises(errors.BadRequest, match="no conditional writes"):
            store.put("b" * 32, write, if_version=3)
        with pytest.raises(errors.BadRequest, match="no atomic counters"):
            store.incr("b" * 32, "n", 1, None)
        assert (store.feed_position(), store.changes(None).changes) == ("0", [])
    assert app.seen == []


def test_a_chosen_id_that_the_server_ignores_is_undone(scripted: Any) -> None:  # noqa: F811
    # Cloudflare's API has no `id` field: it makes a namespace of another id, which is deleted.
    made = {"id": "b" * 32, "title": "t", "supports_url_encoding": True}
    app, url = scripted([(200, {}, envelope(made)), (200, {}, envelope({}))])
    with (
        RestStore(url, token="t", account_id="a" * 32) as store,
        pytest.raises(errors.BadRequest, match="only an edgekv server honours `id`"),
    ):
        store.create_namespace("t", "a" * 32, "c" * 32)
    assert app.seen[-1] == (
        "DELETE",
        f"/client/v4/accounts/{'a' * 32}/storage/kv/namespaces/{'b' * 32}",
    )
