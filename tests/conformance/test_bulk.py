"""docs/contract.md §1-3: bulk get (1..100 keys, text or json), bulk put and bulk delete
(<= 10,000)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

import edgekv
from edgekv import errors
from tests.clock import FakeClock

from .helpers import refused

MAX_KEYS = "You can request a maximum of 100 keys"
MIN_KEYS = "You must request a minimum of 1 key"
NOT_JSON = "At least one of the requested keys corresponds to a non-json value"


async def test_bulk_get_of_1_and_of_100_keys(ns: edgekv.AsyncNamespace) -> None:
    keys = [f"k{i:03}" for i in range(100)]
    await ns.bulk_put([{"key": k, "value": f"v{k}"} for k in keys[::2]])
    assert await ns.get(["k000"]) == {"k000": "vk000"}
    got = await ns.get(keys)
    assert list(got) == keys
    assert got == {k: (f"v{k}" if i % 2 == 0 else None) for i, k in enumerate(keys)}
    assert await ns.get(tuple(keys[:3])) == {"k000": "vk000", "k001": None, "k002": "vk002"}


async def test_bulk_get_of_101_or_0_keys_is_refused(ns: edgekv.AsyncNamespace) -> None:
    with refused(errors.InvalidBulkRequest, 400, MAX_KEYS):
        await ns.get([f"k{i}" for i in range(101)])
    with refused(errors.InvalidBulkRequest, 400, MIN_KEYS):
        await ns.get([])
    with refused(errors.InvalidBulkRequest, 400, MAX_KEYS):
        await ns.get_with_metadata([f"k{i}" for i in range(101)])
    with refused(errors.InvalidBulkRequest, 400, MIN_KEYS):
        await ns.get_with_metadata([])


@pytest.mark.parametrize("type_", ["arrayBuffer", "bytes", "stream", "blob"])
async def test_bulk_get_reads_only_text_or_json(ns: edgekv.AsyncNamespace, type_: Any) -> None:
    message = f'"{type_}" is not a valid type. Use "json" or "text"'
    with refused(errors.InvalidType, 400, message):
        await ns.get(["k"], type_)
    with refused(errors.InvalidType, 400, message):
        await ns.get_with_metadata(["k"], type_)
    with pytest.raises(TypeError):
        await ns.get(["k"], type_)


async def test_bulk_get_as_json(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("a", '{"x": 1}')
    await ns.put("b", "[1, 2]")
    await ns.put("c", "null")
    got = await ns.get(["a", "b", "c", "missing"], "json")
    assert got == {"a": {"x": 1}, "b": [1, 2], "c": None, "missing": None}


async def test_bulk_json_over_a_non_json_value_is_refused(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("a", '{"x": 1}')
    await ns.put("b", "plain text")
    with refused(errors.NotJSON, 400, NOT_JSON):
        await ns.get(["a", "b"], "json")
    with refused(errors.NotJSON, 400, NOT_JSON):
        await ns.get_with_metadata(["a", "b"], "json")
    assert await ns.get(["a", "b"]) == {"a": '{"x": 1}', "b": "plain text"}


async def test_bulk_get_with_metadata(ns: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    await ns.put("a", '{"x": 1}', metadata={"m": "a"}, expiration_ttl=600)
    await ns.put("b", "0")
    got = await ns.get_with_metadata(["a", "b", "missing"], "json")
    assert list(got) == ["a", "b", "missing"]
    a, b = got["a"], got["b"]
    assert a is not None
    assert b is not None
    assert (a.value, a.metadata, a.expiration) == ({"x": 1}, {"m": "a"}, int(clock()) + 600)
    assert (b.value, b.metadata, b.expiration) == (0, None, None)
    assert got["missing"] is None


async def test_bulk_get_sees_expiry(ns: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    await ns.put("a", "1", expiration_ttl=60)
    await ns.put("b", "2", expiration_ttl=3600)
    assert await ns.get(["a", "b"]) == {"a": "1", "b": "2"}
    clock.advance(60)
    assert await ns.get(["a", "b"]) == {"a": None, "b": "2"}
    assert await ns.get_with_metadata(["a"]) == {"a": None}
    clock.advance(3600)
    assert await ns.get(["a", "b"]) == {"a": None, "b": None}


async def test_bulk_get_repeats_a_key_once(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("a", "1")
    assert await ns.get(["a", "a", "b"]) == {"a": "1", "b": None}


async def test_bulk_get_answer_is_capped_at_25_mib(ns: edgekv.AsyncNamespace) -> None:
    half = 13 * 1024 * 1024
    await ns.put("a", b"a" * half)
    await ns.put("b", b"b" * half)
    with pytest.raises(errors.BulkResultTooLarge) as caught:
        await ns.get(["a", "b"])
    assert caught.value.status == 413
    assert len((await ns.get(["a"]))["a"]) == half


# bulk put


async def test_bulk_put_writes_every_pair(ns: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    now = int(clock())
    result = await ns.bulk_put(
        [
            {"key": "plain", "value": "text"},
            {"key": "b64", "value": base64.b64encode(b"\x00\xffbin").decode(), "base64": True},
            {"key": "meta", "value": "", "metadata": {"m": [1]}},
            {"key": "falsy-meta", "value": "0", "metadata": False},
            {"key": "ttl", "value": "t", "expiration_ttl": 60},
            {"key": "at", "value": "a", "expiration": now + 120},
            {"key": "both", "value": "x", "expiration": now + 9999, "expiration_ttl": 300},
            {"key": "not-b64", "value": "aGk=", "base64": False},
        ]
    )
    assert result == edgekv.BulkResult(8, [])
    assert await ns.get("plain") == "text"
    assert await ns.get("b64", "bytes") == b"\x00\xffbin"
    got = await ns.get_with_metadata("meta")
    assert (got.value, got.metadata) == ("", {"m": [1]})
    assert (await ns.get_with_metadata("falsy-meta")).metadata is False
    assert (await ns.get_with_metadata("ttl")).expiration == now + 60
    assert (await ns.get_with_metadata("at")).expiration == now + 120
    assert (await ns.get_with_metadata("both")).expiration == now + 300
    assert await ns.get("not-b64") == "aGk="
    clock.advance(60)
    assert await ns.get("ttl") is None


async def test_bulk_put_of_10000_pairs(ns: edgekv.AsyncNamespace) -> None:
    pairs = [{"key": f"k{i:05}", "value": str(i)} for i in range(10_000)]
    assert (await ns.bulk_put(pairs)).successful_key_count == 10_000
    assert await ns.get("k09999") == "9999"
    first = await ns.list()
    assert len(first.keys) == 1000
    assert not first.list_complete


async def test_bulk_put_of_10001_pairs_is_refused(ns: edgekv.AsyncNamespace) -> None:
    pairs = [{"key": f"k{i:05}", "value": str(i)} for i in range(10_001)]
    with pytest.raises(errors.InvalidBulkRequest) as caught:
        await ns.bulk_put(pairs)
    assert caught.value.status == 400
    assert "10000" in caught.value.message
    assert (await ns.list()).keys == []


@pytest.mark.parametrize(
    ("bad", "kind", "status", "message"),
    [
        (
            {"key": "x" * 513, "value": "v"},
            errors.KeyTooLong,
            414,
            "UTF-8 encoded length of 513 exceeds key length limit of 512.",
        ),
        ({"key": "", "value": "v"}, errors.InvalidKey, 400, "Key name cannot be empty."),
        ({"key": "..", "value": "v"}, errors.InvalidKey, 400, '".." is not allowed as a key name.'),
        (
            {"key": "k", "value": "v", "expiration_ttl": 59},
            errors.InvalidExpirationTtl,
            400,
            "Invalid expiration_ttl of 59. Expiration TTL must be at least 60.",
        ),
        (
            {"key": "k", "value": "v", "metadata": "x" * 1023},
            errors.MetadataTooLarge,
            413,
            "Metadata length of 1025 exceeds limit of 1024.",
        ),
        (
            {"key": "k", "value": "x" * (26_214_400 + 1)},
            errors.ValueTooLarge,
            413,
            "Value length of 26214401 exceeds limit of 26214400.",
        ),
        ({"key": "k", "value": "not base64!", "base64": True}, errors.BadRequest, 400, None),
        ({"key": "k", "value": 5}, errors.InvalidBulkRequest, 400, None),
        ({"key": "k"}, errors.InvalidBulkRequest, 400, None),
        ({"value": "v"}, errors.InvalidBulkRequest, 400, None),
        ("not an object", errors.InvalidBulkRequest, 400, None),
    ],
)
async def test_one_bad_pair_refuses_the_whole_bulk_put(
    ns: edgekv.AsyncNamespace,
    bad: Any,
    kind: type[errors.KVError],
    status: int,
    message: str | None,
) -> None:
    await ns.put("k0", "before")
    pairs: list[Any] = [{"key": f"k{i}", "value": "new"} for i in range(5)]
    pairs.insert(3, bad)
    with pytest.raises(kind) as caught:
        await ns.bulk_put(pairs)
    assert caught.value.status == status
    assert caught.value.message.startswith("item 3: ")
    if message is not None:
        assert caught.value.message == f"item 3: {message}"
    assert await ns.get("k0") == "before"
    assert [k.name for k in (await ns.list()).keys] == ["k0"]


async def test_bulk_put_of_nothing(ns: edgekv.AsyncNamespace) -> None:
    assert (await ns.bulk_put([])).successful_key_count == 0


# bulk delete


async def test_bulk_delete(ns: edgekv.AsyncNamespace) -> None:
    await ns.bulk_put([{"key": f"k{i}", "value": "v"} for i in range(10)])
    result = await ns.bulk_delete(["k1", "k3", "never-there", "k3"])
    assert result.successful_key_count == 4
    assert result.unsuccessful_keys == []
    names = [k.name for k in (await ns.list()).keys]
    assert names == ["k0", "k2", "k4", "k5", "k6", "k7", "k8", "k9"]
    assert (await ns.bulk_delete([])).successful_key_count == 0


async def test_bulk_delete_of_10000_keys(ns: edgekv.AsyncNamespace) -> None:
    keys = [f"k{i:05}" for i in range(10_000)]
    await ns.bulk_put([{"key": k, "value": "v"} for k in keys])
    await ns.put("survivor", "v")
    assert (await ns.bulk_delete(keys)).successful_key_count == 10_000
    assert [k.name for k in (await ns.list()).keys] == ["survivor"]


async def test_bulk_delete_of_10001_keys_is_refused(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k00000", "v")
    with pytest.raises(errors.InvalidBulkRequest) as caught:
        await ns.bulk_delete([f"k{i:05}" for i in range(10_001)])
    assert caught.value.status == 400
    assert await ns.get("k00000") == "v"


async def test_one_bad_key_refuses_the_whole_bulk_delete(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("a", "v")
    with refused(
        errors.KeyTooLong,
        414,
        "item 1: UTF-8 encoded length of 600 exceeds key length limit of 512.",
    ):
        await ns.bulk_delete(["a", "é" * 300])
    with refused(errors.InvalidKey, 400, 'item 2: "." is not allowed as a key name.'):
        await ns.bulk_delete(["a", "b", "."])
    assert await ns.get("a") == "v"
