"""A real Worker, run by real workerd, uses edgekv as its KV namespace."""

from __future__ import annotations

import base64
import time

import pytest

from tests.server.workerd.conftest import Edge, Worker

ODD_KEYS = [
    "a/b",
    "q?x=1",
    "h#y",
    "p%25z",
    "100%",
    "plus+sign",
    "sp ace",
    "emoji😀",
    "é",
    "back\\slash",
    "sub!$&'()*,;=:@~",
    "bulk/get",
    "bulk",
]


def test_put_with_ttl_and_metadata(worker: Worker, edge: Edge) -> None:
    before = int(time.time())
    worker.ok("put", "user:1", "hello", {"expirationTtl": 120, "metadata": {"owner": "ann"}})
    got = edge.run(edge.namespace.get_with_metadata("user:1"))
    assert got.value == "hello"
    assert got.metadata == {"owner": "ann"}
    assert got.expiration is not None
    assert before + 120 <= got.expiration <= int(time.time()) + 120


def test_put_with_absolute_expiration(worker: Worker, edge: Edge) -> None:
    at = int(time.time()) + 3600
    worker.ok("put", "user:abs", "x", {"expiration": at})
    got = edge.run(edge.namespace.get_with_metadata("user:abs"))
    assert got.expiration == at


def test_get_in_each_type(worker: Worker) -> None:
    worker.ok("put", "doc", '{"a": [1, 2]}')
    assert worker.ok("get", "doc") == '{"a": [1, 2]}'
    assert worker.ok("get", "doc", "text") == '{"a": [1, 2]}'
    assert worker.ok("get", "doc", {"type": "json", "cacheTtl": 300}) == {"a": [1, 2]}
    raw = worker.ok("get", "doc", "arrayBuffer")
    assert base64.b64decode(raw["b64"]) == b'{"a": [1, 2]}'
    assert worker.ok("get", "doc", "stream") == {"streamText": '{"a": [1, 2]}'}
    assert worker.ok("get", "missing") is None
    assert worker.ok("get", "missing", "json") is None


def test_bytes_stream_and_empty_values(worker: Worker, edge: Edge) -> None:
    data = bytes([0, 1, 2, 255, 254])
    worker.ok("put", "bin", None, valueB64=base64.b64encode(data).decode())
    assert edge.run(edge.namespace.get("bin", "bytes")) == data
    assert base64.b64decode(worker.ok("get", "bin", "arrayBuffer")["b64"]) == data
    worker.ok("put", "streamed", "part1-part2", stream=True)
    assert edge.run(edge.namespace.get("streamed")) == "part1-part2"
    worker.ok("put", "empty", "")
    assert worker.ok("get", "empty") == ""
    assert worker.ok("getWithMetadata", "empty") == {
        "value": "",
        "metadata": None,
        "cacheStatus": "MISS",
    }


def test_get_with_metadata(worker: Worker) -> None:
    worker.ok("put", "meta", "v", {"metadata": {"n": 1, "tags": ["x"]}})
    got = worker.ok("getWithMetadata", "meta")
    assert got == {"value": "v", "metadata": {"n": 1, "tags": ["x"]}, "cacheStatus": "MISS"}
    got = worker.ok("getWithMetadata", "meta", {"type": "arrayBuffer"})
    assert base64.b64decode(got["value"]["b64"]) == b"v"
    assert worker.ok("getWithMetadata", "nope") == {
        "value": None,
        "metadata": None,
        "cacheStatus": None,
    }


@pytest.mark.parametrize("metadata", ["just a string", 5, False, [1, "two"], {"s": "{not json"}])
def test_any_json_metadata_survives_get_and_list(worker: Worker, metadata: object) -> None:
    worker.ok("put", "anymeta", "v", {"metadata": metadata})
    assert worker.ok("getWithMetadata", "anymeta")["metadata"] == metadata
    page = worker.ok("list", {"prefix": "anymeta"})
    assert page["keys"] == [{"name": "anymeta", "metadata": metadata}]


def test_list_with_prefix_and_paging(worker: Worker) -> None:
    names = [f"page:{i:02d}" for i in range(5)]
    for name in names:
        worker.ok("put", name, "v")
    worker.ok("put", "pagf", "outside the prefix")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        options: dict[str, object] = {"prefix": "page:", "limit": 2}
        if cursor:
            options["cursor"] = cursor
        page = worker.ok("list", options)
        pages += 1
        seen += [k["name"] for k in page["keys"]]
        if page["list_complete"]:
            assert "cursor" not in page or not page["cursor"]
            break
        cursor = page["cursor"]
    assert seen == names
    assert pages == 3


def test_list_prefix_is_form_decoded_and_literal(worker: Worker) -> None:
    worker.ok("put", "a b+c/&=?😀1", "v")
    worker.ok("put", "a b+c/&=?😀2", "v")
    worker.ok("put", "a b c", "v")
    page = worker.ok("list", {"prefix": "a b+c/&=?😀"})
    assert [k["name"] for k in page["keys"]] == ["a b+c/&=?😀1", "a b+c/&=?😀2"]
    assert page["list_complete"] is True


def test_list_shows_expiration(worker: Worker) -> None:
    at = int(time.time()) + 7200
    worker.ok("put", "exp:1", "v", {"expiration": at, "metadata": {"m": 1}})
    page = worker.ok("list", {"prefix": "exp:"})
    assert page["keys"] == [{"name": "exp:1", "expiration": at, "metadata": {"m": 1}}]


def test_bulk_get(worker: Worker) -> None:
    worker.ok("put", "bulk:1", "one", {"metadata": {"i": 1}})
    worker.ok("put", "bulk:2", '{"two": 2}')
    assert worker.ok("get", ["bulk:1", "bulk:2", "bulk:none"]) == {
        "bulk:1": "one",
        "bulk:2": '{"two": 2}',
        "bulk:none": None,
    }
    assert worker.ok("get", ["bulk:2"], "json") == {"bulk:2": {"two": 2}}
    assert worker.ok("get", ["bulk:2"], {"type": "text", "cacheTtl": 120}) == {
        "bulk:2": '{"two": 2}'
    }
    assert worker.ok("getWithMetadata", ["bulk:1", "bulk:none"]) == {
        "bulk:1": {"value": "one", "metadata": {"i": 1}},
        "bulk:none": None,
    }
    assert worker.ok("getWithMetadata", ["bulk:2"], "json") == {
        "bulk:2": {"value": {"two": 2}, "metadata": None}
    }


def test_bulk_get_errors(worker: Worker) -> None:
    assert (
        worker.error("get", ["bulk:1"], "arrayBuffer")
        == 'KV GET_BULK failed: 400 "arrayBuffer" is not a valid type. Use "json" or "text"'
    )
    keys = [f"k{i}" for i in range(101)]
    assert (
        worker.error("get", keys) == "KV GET_BULK failed: 400 You can request a maximum of 100 keys"
    )
    worker.ok("put", "notjson", "plain text")
    assert worker.error("get", ["notjson"], "json") == (
        "KV GET_BULK failed: 400 At least one of the requested keys corresponds to a non-json value"
    )


def test_delete(worker: Worker, edge: Edge) -> None:
    worker.ok("put", "gone", "v")
    worker.ok("delete", "gone")
    assert worker.ok("get", "gone") is None
    assert edge.run(edge.namespace.get("gone")) is None
    worker.ok("delete", "never-there")


@pytest.mark.parametrize("key", ODD_KEYS)
def test_keys_with_reserved_characters_and_emoji(worker: Worker, edge: Edge, key: str) -> None:
    worker.ok("put", key, f"value of {key}", {"metadata": {"key": key}})
    # The edge stored exactly this key: no `+` turned into a space, nothing decoded twice.
    assert edge.run(edge.namespace.get(key)) == f"value of {key}"
    assert worker.ok("get", key) == f"value of {key}"
    assert worker.ok("getWithMetadata", key)["metadata"] == {"key": key}
    assert worker.ok("get", [key]) == {key: f"value of {key}"}
    assert worker.ok("list", {"prefix": key})["keys"][0]["name"] == key
    worker.ok("delete", key)
    assert edge.run(edge.namespace.get(key)) is None


def test_value_too_large(worker: Worker, edge: Edge) -> None:
    limit = 26_214_400
    assert (
        worker.error("put", "huge", None, fill=limit + 1)
        == f"KV PUT failed: 413 Value length of {limit + 1} exceeds limit of {limit}."
    )
    # Streamed with no length, the edge refuses it once it has read past the limit.
    message = worker.error("put", "huge", None, fill=limit + 100_000, stream=True)
    assert message.startswith("KV PUT failed: 413 Value length of ")
    assert message.endswith(f" exceeds limit of {limit}.")
    assert edge.run(edge.namespace.get("huge")) is None
    # The connection pool is still healthy: the next calls succeed.
    worker.ok("put", "after-huge", "fine")
    assert worker.ok("get", "after-huge") == "fine"


def test_a_value_at_the_limit_is_stored(worker: Worker, edge: Edge) -> None:
    worker.ok("put", "max", None, fill=26_214_400)
    assert len(edge.run(edge.namespace.get("max", "bytes")) or b"") == 26_214_400
    worker.ok("delete", "max")


def test_validation_errors_reach_the_worker(worker: Worker) -> None:
    assert worker.error("put", "m", "v", {"metadata": {"x": "y" * 1100}}) == (
        "KV PUT failed: 413 Metadata length of 1108 exceeds limit of 1024."
    )
    assert worker.error("put", "t", "v", {"expirationTtl": 30}) == (
        "KV PUT failed: 400 Invalid expiration_ttl of 30. Expiration TTL must be at least 60."
    )
    assert worker.error("list", {"limit": 1001}) == (
        "KV GET failed: 400 Invalid key_count_limit of 1001. "
        "Please specify an integer less than or equal to 1000."
    )
    assert worker.error("get", "k", {"cacheTtl": 10}) == (
        "KV GET failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 30."
    )
    # The binding checks these itself and sends nothing.
    assert "514 exceeds key length limit of 512" in worker.error("put", "k" * 514, "v")


def test_a_binding_may_name_its_namespace_by_title(worker: Worker) -> None:
    worker.ok("put", "titled", "by id")
    assert worker.ok("get", "titled", binding="KV_TITLE") == "by id"


def test_credentials_are_checked(worker: Worker, edge: Edge) -> None:
    worker.ok("put", "secret", "s")
    assert worker.error("get", "secret", binding="KV_WRONG_TOKEN") == (
        "KV GET failed: 401 Authentication error"
    )
    assert worker.error("get", "secret", binding="KV_OTHER_NAMESPACE") == (
        "KV GET failed: 403 Authentication error"
    )
    assert worker.ok("get", "secret", binding="KV_READ_ONLY") == "s"
    assert worker.ok("list", {"prefix": "secret"}, binding="KV_READ_ONLY")["keys"] != []
    assert worker.error("put", "secret", "x", binding="KV_READ_ONLY") == (
        "KV PUT failed: 403 Authentication error"
    )
    assert worker.error("delete", "secret", binding="KV_READ_ONLY") == (
        "KV DELETE failed: 403 Authentication error"
    )
    assert worker.error("put", "secret", "x", binding="KV_NO_TOKEN") == (
        "KV PUT failed: 401 Authentication error"
    )
    assert worker.error("list", binding="KV_NO_TOKEN") == "KV GET failed: 401 Authentication error"
    assert edge.run(edge.namespace.get("secret")) == "s"
