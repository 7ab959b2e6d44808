"""Edge cases of decoding by read type (edgekv.api.decoding) and bulk-write validation
(edgekv.limits)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from edgekv import errors, limits
from edgekv.api import decoding
from edgekv.model import EntryWrite, StoredEntry

NOW = 1_800_000_000.0


def test_decode_by_type() -> None:
    assert decoding.decode(b'{"a":1}', "text") == '{"a":1}'
    assert decoding.decode(b'{"a":1}', "json") == {"a": 1}
    assert decoding.decode(b"\xff", "bytes") == b"\xff"
    assert decoding.decode(b"\xff", "arrayBuffer") == b"\xff"
    assert decoding.decode(b"ok\xff", "text") == "ok\ufffd"
    assert decoding.decode(b"", "text") == ""


@pytest.mark.parametrize("value", [b"", b"nope", b"{", b"\xff"])
def test_json_decode_of_a_non_json_value_is_not_json(value: bytes) -> None:
    with pytest.raises(errors.NotJSON) as caught:
        decoding.decode(value, "json")
    assert caught.value.status == 400
    assert isinstance(caught.value, ValueError)


def test_with_metadata() -> None:
    entry = StoredEntry(b"0", '{"m":false}', 1_800_000_060, 7, "HIT")
    got = decoding.with_metadata(entry, "json")
    assert (got.value, got.metadata, got.cache_status, got.version, got.expiration) == (
        0,
        {"m": False},
        "HIT",
        7,
        1_800_000_060,
    )
    assert decoding.with_metadata(StoredEntry(b"", None, None, 1), "text").metadata is None


def test_unknown_type_is_a_type_error() -> None:
    error = decoding.unknown_type("blob")
    assert isinstance(error, TypeError)
    assert error.status == 400
    assert '"blob"' in error.message


def test_read_ttl() -> None:
    assert decoding.read_ttl(None, "eventual") is None
    assert decoding.read_ttl(45, "eventual") == 45
    assert decoding.read_ttl(None, "strong") == 0
    assert decoding.read_ttl(29, "strong") == 0
    with pytest.raises(errors.InvalidCacheTtl):
        decoding.read_ttl(29, "eventual")


@pytest.mark.parametrize("title", ["a", "My KV", "é" * 512])
def test_namespace_title(title: str) -> None:
    assert limits.namespace_title(title) == title


@pytest.mark.parametrize("title", ["", " ", "\t", None, 3, "a" * 513])
def test_namespace_title_refused(title: Any) -> None:
    with pytest.raises(errors.InvalidNamespaceTitle):
        limits.namespace_title(title)


def test_bulk_writes() -> None:
    writes = limits.bulk_writes(
        [
            {"key": "a", "value": "text"},
            {"key": "b", "value": base64.b64encode(b"\x00").decode(), "base64": True},
            {"key": "c", "value": "", "metadata": 0, "expiration_ttl": 60},
            {"key": "d", "value": "x", "expiration": 1_800_000_100, "metadata": None},
        ],
        NOW,
    )
    assert writes == [
        EntryWrite("a", b"text", None, None, 4),
        EntryWrite("b", b"\x00", None, None, 1),
        EntryWrite("c", b"", "0", 1_800_000_060, 0),
        EntryWrite("d", b"x", None, 1_800_000_100, 1),
    ]
    assert limits.bulk_writes(iter([]), NOW) == []


@pytest.mark.parametrize(
    "bad",
    [
        "not a mapping",
        ["key", "value"],
        {"key": "k"},
        {"value": "v"},
        {"key": "k", "value": b"bytes"},
        {"key": "k", "value": None},
        {"key": "k", "value": "%%%", "base64": True},
        {"key": "", "value": "v"},
        {"key": "k", "value": "v", "expiration_ttl": 30},
    ],
)
def test_bulk_writes_names_the_bad_item(bad: Any) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        limits.bulk_writes([{"key": "ok", "value": "v"}, bad], NOW)
    assert caught.value.message.startswith("item 1: ")
    assert str(caught.value) == caught.value.message


def test_bulk_writes_over_10000_pairs() -> None:
    with pytest.raises(errors.InvalidBulkRequest):
        limits.bulk_writes(({"key": f"k{i}", "value": "v"} for i in range(10_001)), NOW)


def _too_long(key: str) -> str:
    raise errors.KeyTooLong("long")


def test_item_check_keeps_the_error_type_and_status() -> None:
    with pytest.raises(errors.KeyTooLong) as caught:
        limits.item_check(4, _too_long, "k")
    assert caught.value.message == "item 4: long"
    assert str(caught.value) == "item 4: long"
    assert caught.value.status == 414
    assert limits.item_check(0, str.upper, "k") == "K"
