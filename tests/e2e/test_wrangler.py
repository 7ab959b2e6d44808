"""wrangler 4.86.0 (the real CLI, from npm) against a live `edgekv serve`.

Each test runs a handful of wrangler commands with CLOUDFLARE_API_BASE_URL pointed at the
server, checks what wrangler printed, and reads the server's store to check the data changed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import edgekv
from edgekv import errors
from tests.e2e.live import LiveServer, Wrangler

KEY = "a/b c?#%+😀"  # every character wrangler must encode, and `+` must stay a plus
BLOB = bytes([0, 1, 2, 255]) * 64


def test_namespace_create_list_rename_delete(wrangler: Wrangler, kv: edgekv.KV) -> None:
    created = wrangler.run("kv", "namespace", "create", "wr-first")
    ns = kv.namespace("wr-first")
    assert ns.id in created.text
    assert "✨ Success!" in created.text

    duplicate = wrangler.fail("kv", "namespace", "create", "wr-first")
    assert 'A KV namespace with the title "wr-first" already exists.' in duplicate

    listed = wrangler.run("kv", "namespace", "list").json()
    assert {"id": ns.id, "title": "wr-first", "supports_url_encoding": True} in listed

    # By title: wrangler looks the id up in a page of the list, then renames by id.
    wrangler.run("kv", "namespace", "rename", "wr-first", "--new-name", "wr-renamed")
    assert kv.namespace(ns.id).title == "wr-renamed"

    deleted = wrangler.run("kv", "namespace", "delete", "wr-renamed", "-y")
    assert f'Deleted KV namespace name: "wr-renamed" (id: "{ns.id}")' in deleted.text
    with pytest.raises(errors.NamespaceNotFound):
        kv.namespace(ns.id)


def test_key_put_text_ttl_metadata_and_file(
    wrangler: Wrangler, namespace: edgekv.Namespace, tmp_path: Path
) -> None:
    on = ("--namespace-id", namespace.id, "--remote")
    wrangler.run("kv", "key", "put", KEY, "hello world", *on)
    before = int(time.time())
    # --metadata makes wrangler send multipart/form-data, with the TTL in the query.
    wrangler.run("kv", "key", "put", "k4", "v4", "--ttl", "300", "--metadata", '{"a":1}', *on)
    (tmp_path / "blob.bin").write_bytes(BLOB)
    # --path sends the raw bytes with no content type; with --metadata, a file part.
    wrangler.run("kv", "key", "put", "k5", "--path", "blob.bin", *on)
    wrangler.run("kv", "key", "put", "k6", "--path", "blob.bin", "--metadata", '"str"', *on)

    assert namespace.get(KEY) == "hello world"
    k4 = namespace.get_with_metadata("k4")
    assert (k4.value, k4.metadata) == ("v4", {"a": 1})
    assert k4.expiration is not None and before + 300 <= k4.expiration <= int(time.time()) + 300
    assert namespace.get("k5", "bytes") == BLOB
    k6 = namespace.get_with_metadata("k6", "bytes")
    assert (k6.value, k6.metadata) == (BLOB, "str")
    assert namespace.get_with_metadata("k5").metadata is None


def test_key_get_list_delete(wrangler: Wrangler, namespace: edgekv.Namespace) -> None:
    namespace.put(KEY, "hello world")
    namespace.put("k2", BLOB, metadata={"owner": "ann"}, expiration_ttl=600)
    namespace.put("other", "x")
    on = ("--namespace-id", namespace.id, "--remote")

    assert wrangler.run("kv", "key", "get", KEY, *on).out == b"hello world"

    # No --prefix lists everything; wrangler pages on result_info.cursor until it is "".
    listed = wrangler.run("kv", "key", "list", *on).json()
    expiration = namespace.get_with_metadata("k2").expiration
    assert listed == [
        {"name": KEY},
        {"name": "k2", "expiration": expiration, "metadata": {"owner": "ann"}},
        {"name": "other"},
    ]
    assert [k["name"] for k in wrangler.run("kv", "key", "list", "--prefix", "k", *on).json()] == [
        "k2"
    ]

    wrangler.run("kv", "key", "delete", KEY, *on)
    assert namespace.get(KEY) is None
    assert namespace.get("other") == "x"


def test_errors_reach_the_user(
    server: LiveServer, wrangler: Wrangler, namespace: edgekv.Namespace, tmp_path: Path
) -> None:
    on = ("--namespace-id", namespace.id, "--remote")
    # wrangler prints each error of a failed envelope as `<message> [code: N]`.
    short = wrangler.fail("kv", "key", "put", "k", "v", "--ttl", "30", *on)
    assert "Invalid expiration_ttl of 30. Expiration TTL must be at least 60. [code: " in short
    assert namespace.get("k") is None

    # For a missing value wrangler prints the status line, not the envelope.
    missing = wrangler.fail("kv", "key", "get", "nope", *on)
    assert "/values/nope - 404: Not Found" in missing

    intruder = Wrangler(server, "ekv_not-a-token", tmp_path, account_id=server.account_id)
    refused = intruder.fail("kv", "namespace", "list")
    assert "[code: 10000]" in refused


def test_bulk_put_get_delete(
    wrangler: Wrangler, namespace: edgekv.Namespace, tmp_path: Path
) -> None:
    pairs: list[dict[str, object]] = [
        {"key": "b1", "value": "plain"},
        {"key": "b2", "value": "AAEC/w==", "base64": True},
        {"key": "b3", "value": "ttl", "expiration_ttl": 120, "metadata": {"m": 1}},
    ]
    # 2,503 pairs: wrangler sends them in batches of 1,000.
    pairs += [{"key": f"n:{i:04d}", "value": str(i)} for i in range(2500)]
    (tmp_path / "bulk.json").write_text(json.dumps(pairs))
    on = ("--namespace-id", namespace.id, "--remote")

    assert "Success!" in wrangler.run("kv", "bulk", "put", "bulk.json", *on).both
    assert namespace.get("b1") == "plain"
    assert namespace.get("b2", "bytes") == bytes([0, 1, 2, 255])
    b3 = namespace.get_with_metadata("b3")
    assert (b3.value, b3.metadata) == ("ttl", {"m": 1}) and b3.expiration is not None
    assert namespace.get("n:2499") == "2499"
    assert _count(namespace, "n:") == 2500

    (tmp_path / "keys.json").write_text(json.dumps(["b1", "b3", "n:0007", "nope"]))
    got = wrangler.run("kv", "bulk", "get", "keys.json", *on).json()
    assert got == {"b1": "plain", "b3": "ttl", "n:0007": "7", "nope": None}

    doomed = ["b1", "b2", *(f"n:{i:04d}" for i in range(1500))]
    (tmp_path / "delete.json").write_text(json.dumps(doomed))
    wrangler.run("kv", "bulk", "delete", "delete.json", "--force", *on)
    assert namespace.get(["b1", "b2", "n:0000", "n:1499"]) == dict.fromkeys(
        ["b1", "b2", "n:0000", "n:1499"]
    )
    assert namespace.get(["b3", "n:1500"]) == {"b3": "ttl", "n:1500": "1500"}
    assert _count(namespace, "n:") == 1000


def _count(namespace: edgekv.Namespace, prefix: str) -> int:
    page = namespace.list(prefix=prefix)
    total = len(page.keys)
    while not page.list_complete:
        page = namespace.list(prefix=prefix, cursor=page.cursor)
        total += len(page.keys)
    return total


def test_account_found_through_memberships(server: LiveServer, tmp_path: Path) -> None:
    """Without CLOUDFLARE_ACCOUNT_ID wrangler asks /memberships which account the token opens."""
    account_id = server.edgekv("account", "create", "wrangler-discovery")
    token = server.edgekv("token", "create", "--account", account_id)
    wrangler = Wrangler(server, token, tmp_path, account_id=None)

    wrangler.run("kv", "namespace", "create", "discovered")
    with server.kv(account_id) as theirs:
        created = theirs.namespace("discovered")
        assert created.title == "discovered"
    with server.kv() as default, pytest.raises(errors.NamespaceNotFound):
        default.namespace("discovered")
    cached = json.loads((tmp_path / ".wrangler" / "cache" / "wrangler-account.json").read_text())
    assert cached["account"]["id"] == account_id

    listed = wrangler.run("kv", "namespace", "list").json()
    assert [n["id"] for n in listed] == [created.id]


def test_binding_from_wrangler_toml(
    wrangler: Wrangler, namespace: edgekv.Namespace, tmp_path: Path
) -> None:
    (tmp_path / "wrangler.toml").write_text(
        'name = "app"\ncompatibility_date = "2025-06-01"\n\n'
        f'[[kv_namespaces]]\nbinding = "CACHE"\nid = "{namespace.id}"\n'
    )
    wrangler.run("kv", "key", "put", "greeting", "hi", "--binding", "CACHE", "--remote")
    assert namespace.get("greeting") == "hi"
    namespace.put("greeting", "changed on the server")
    got = wrangler.run("kv", "key", "get", "greeting", "--binding", "CACHE", "--remote")
    assert got.out == b"changed on the server"
