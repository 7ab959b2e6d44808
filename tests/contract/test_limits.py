"""Edge cases of the I/O-free validation in edgekv.limits."""

from __future__ import annotations

import math
from typing import Any

import pytest

from edgekv import errors, limits

NOW = 1_800_000_000.0


class KeyStr(str):
    pass


def test_limits_are_the_contracts() -> None:
    assert limits.MAX_KEY_BYTES == 512
    assert limits.MAX_VALUE_BYTES == 26_214_400
    assert limits.MAX_METADATA_BYTES == 1024
    assert limits.MIN_EXPIRATION_TTL == 60
    assert limits.MIN_CACHE_TTL == 30
    assert limits.DEFAULT_CACHE_TTL == 60
    assert limits.MAX_LIST_LIMIT == 1000
    assert limits.MAX_BULK_GET_KEYS == 100
    assert limits.MAX_BULK_WRITE_PAIRS == 10_000


@pytest.mark.parametrize(
    ("key", "size"),
    [("a" * 128, 128), ("😀" * 128, 512), ("a" * 129, 129), ("é" * 256, 512), ("€" * 170, 510)],
)
def test_validate_key_accepts_up_to_512_bytes(key: str, size: int) -> None:
    assert len(key.encode()) == size
    assert limits.validate_key(key) == key


@pytest.mark.parametrize("key", ["a" * 513, "😀" * 128 + "a", "é" * 257, "€" * 171])
def test_validate_key_counts_utf8_bytes(key: str) -> None:
    with pytest.raises(errors.KeyTooLong) as caught:
        limits.validate_key(key)
    n = len(key.encode())
    assert caught.value.message == f"UTF-8 encoded length of {n} exceeds key length limit of 512."
    assert (caught.value.status, caught.value.code) == (414, errors.KeyTooLong.code)


def test_validate_key_takes_a_str_subclass_as_plain_str() -> None:
    got = limits.validate_key(KeyStr("k"))
    assert got == "k"
    assert type(got) is str


@pytest.mark.parametrize("key", [None, 1, b"bytes", ["k"]])
def test_validate_key_refuses_what_is_not_a_string(key: Any) -> None:
    with pytest.raises(errors.InvalidKey):
        limits.validate_key(key)


@pytest.mark.parametrize("key", ["\ud800", "a\udfff", "x" * 200 + "\ud800"])
def test_validate_key_refuses_lone_surrogates(key: str) -> None:
    with pytest.raises(errors.InvalidKey):
        limits.validate_key(key)


def test_validate_prefix() -> None:
    assert limits.validate_prefix(None) == ""
    assert limits.validate_prefix("") == ""
    assert limits.validate_prefix("é" * 256) == "é" * 256
    with pytest.raises(errors.KeyTooLong):
        limits.validate_prefix("é" * 257)
    with pytest.raises(errors.InvalidKey):
        limits.validate_prefix(5)


def test_value_bytes() -> None:
    assert limits.value_bytes("é") == b"\xc3\xa9"
    assert limits.value_bytes(b"\xff") == b"\xff"
    assert limits.value_bytes(bytearray(b"x")) == b"x"
    assert limits.value_bytes(memoryview(b"y")) == b"y"
    # Lone surrogates become U+FFFD, as TextEncoder does; a split pair is joined.
    assert limits.value_bytes("a\ud800b") == "a\ufffdb".encode()
    assert limits.value_bytes("\ud83d\ude00") == "😀".encode()
    with pytest.raises(errors.BadRequest):
        limits.value_bytes(1)


def test_check_value_size_boundary() -> None:
    limits.check_value_size(26_214_400)
    with pytest.raises(errors.ValueTooLarge) as caught:
        limits.check_value_size(26_214_401)
    assert caught.value.message == "Value length of 26214401 exceeds limit of 26214400."
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("metadata", "text"),
    [
        (None, None),
        (0, "0"),
        (False, "false"),
        ("", '""'),
        ({}, "{}"),
        ([], "[]"),
        ({"a": [1, 2], "é": "😀"}, '{"a":[1,2],"é":"😀"}'),
        ({"s": "\ud800"}, '{"s":"\\ud800"}'),
    ],
)
def test_metadata_json_is_compact_and_keeps_falsy_values(metadata: Any, text: str | None) -> None:
    assert limits.metadata_json(metadata) == text


def test_metadata_json_boundary() -> None:
    assert limits.metadata_json("x" * 1022) is not None
    with pytest.raises(errors.MetadataTooLarge) as caught:
        limits.metadata_json("x" * 1023)
    assert caught.value.message == "Metadata length of 1025 exceeds limit of 1024."
    with pytest.raises(errors.MetadataTooLarge):
        limits.check_metadata_json("é" * 513)


@pytest.mark.parametrize("bad", [object(), math.nan, math.inf, {1j: 2}, {"a": {1, 2}}])
def test_metadata_json_refuses_what_json_cannot_say(bad: Any) -> None:
    with pytest.raises(errors.InvalidMetadata):
        limits.metadata_json(bad)


def test_parse_metadata_json() -> None:
    assert limits.parse_metadata_json('{ "a" : 1 }') == '{"a":1}'
    assert limits.parse_metadata_json("null") is None
    with pytest.raises(errors.InvalidMetadata):
        limits.parse_metadata_json("{nope")


@pytest.mark.parametrize(
    ("expiration", "ttl", "expected"),
    [
        (None, None, None),
        ("", "", None),
        (None, 60, 1_800_000_060),
        (None, "60", 1_800_000_060),
        (None, 60.0, 1_800_000_060),
        (1_800_000_060, None, 1_800_000_060),
        ("1800000060", None, 1_800_000_060),
        (1_800_000_060.0, None, 1_800_000_060),
        (1, 120, 1_800_000_120),  # the TTL wins
    ],
)
def test_resolve_expiration(expiration: Any, ttl: Any, expected: int | None) -> None:
    assert limits.resolve_expiration(expiration, ttl, NOW) == expected


def test_resolve_expiration_counts_whole_seconds() -> None:
    assert limits.resolve_expiration(None, 60, NOW + 0.9) == 1_800_000_060
    assert limits.resolve_expiration(1_800_000_060, None, NOW + 0.9) == 1_800_000_060


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        (0, "Invalid expiration_ttl of 0. Please specify integer greater than 0."),
        (-1, "Invalid expiration_ttl of -1. Please specify integer greater than 0."),
        ("x", "Invalid expiration_ttl of x. Please specify integer greater than 0."),
        (math.inf, "Invalid expiration_ttl of Infinity. Please specify integer greater than 0."),
        (True, "Invalid expiration_ttl of true. Please specify integer greater than 0."),
        ([60], "Invalid expiration_ttl of [60]. Please specify integer greater than 0."),
        (59, "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."),
        ("59", "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."),
    ],
)
def test_resolve_expiration_refuses_bad_ttls(ttl: Any, message: str) -> None:
    with pytest.raises(errors.InvalidExpirationTtl) as caught:
        limits.resolve_expiration(None, ttl, NOW)
    assert caught.value.message == message
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("expiration", "too_soon"),
    [
        (1_800_000_000, False),
        (0, False),
        ("nan", False),
        (1_800_000_059, True),
        (1_800_000_001, True),
    ],
)
def test_resolve_expiration_refuses_bad_expirations(expiration: Any, too_soon: bool) -> None:
    with pytest.raises(errors.InvalidExpiration) as caught:
        limits.resolve_expiration(expiration, None, NOW)
    reason = (
        "Expiration times must be at least 60 seconds in the future."
        if too_soon
        else "Please specify integer greater than the current number of seconds since the UNIX epoch."
    )
    assert caught.value.message == f"Invalid expiration of {expiration}. {reason}"


@pytest.mark.parametrize(
    ("ttl", "expected"), [(None, 60), (30, 30), ("30", 30), (30.0, 30), (3600, 3600)]
)
def test_validate_cache_ttl(ttl: Any, expected: int) -> None:
    assert limits.validate_cache_ttl(ttl) == expected


@pytest.mark.parametrize("ttl", [29, 0, -30, "x", 30.5, False])
def test_validate_cache_ttl_refuses(ttl: Any) -> None:
    with pytest.raises(errors.InvalidCacheTtl) as caught:
        limits.validate_cache_ttl(ttl)
    shown = "false" if ttl is False else str(ttl)
    assert caught.value.message == f"Invalid cache_ttl of {shown}. Cache TTL must be at least 30."


def test_validate_list_limit() -> None:
    assert limits.validate_list_limit(None) == 1000
    assert limits.validate_list_limit("") == 1000
    assert limits.validate_list_limit(1) == 1
    assert limits.validate_list_limit("10") == 10
    assert limits.validate_list_limit(1000) == 1000
    with pytest.raises(errors.InvalidListLimit) as caught:
        limits.validate_list_limit(1001)
    assert caught.value.message == (
        "Invalid key_count_limit of 1001. Please specify an integer less than or equal to 1000."
    )
    with pytest.raises(errors.InvalidListLimit) as caught:
        limits.validate_list_limit(0)
    assert caught.value.message == (
        "Invalid key_count_limit of 0. Please specify an integer greater than 0."
    )


def test_bulk_get_keys_and_type() -> None:
    assert limits.validate_bulk_get_keys(("a", "b")) == ["a", "b"]
    assert len(limits.validate_bulk_get_keys(["k"] * 100)) == 100
    with pytest.raises(errors.InvalidBulkRequest, match=r"^You can request a maximum of 100 keys$"):
        limits.validate_bulk_get_keys(["k"] * 101)
    with pytest.raises(errors.InvalidBulkRequest, match=r"^You must request a minimum of 1 key$"):
        limits.validate_bulk_get_keys([])
    with pytest.raises(errors.InvalidBulkRequest):
        limits.validate_bulk_get_keys("abc")
    with pytest.raises(errors.InvalidKey):
        limits.validate_bulk_get_keys(["ok", ""])
    assert limits.validate_bulk_type(None) == "text"
    assert limits.validate_bulk_type("json") == "json"
    with pytest.raises(errors.InvalidType) as caught:
        limits.validate_bulk_type("arrayBuffer")
    assert caught.value.message == '"arrayBuffer" is not a valid type. Use "json" or "text"'
    assert isinstance(caught.value, TypeError)


def test_bulk_write_counts() -> None:
    limits.check_bulk_write_count(10_000)
    limits.check_bulk_delete_count(10_000)
    with pytest.raises(errors.InvalidBulkRequest):
        limits.check_bulk_write_count(10_001)
    with pytest.raises(errors.InvalidBulkRequest):
        limits.check_bulk_delete_count(10_001)


def test_decode_base64_value() -> None:
    assert limits.decode_base64_value("aGk=") == b"hi"
    assert limits.decode_base64_value("") == b""
    for bad in ("aGk", "a*k=", "é"):
        with pytest.raises(errors.BadRequest):
            limits.decode_base64_value(bad)


@pytest.mark.parametrize("key", ["a", "é/😀", "\U0010ffff", "a" * 512, "\x00", "?=&"])
def test_cursor_round_trip(key: str) -> None:
    cursor = limits.encode_cursor(key)
    assert "=" not in cursor
    assert limits.decode_cursor(cursor) == key


@pytest.mark.parametrize("cursor", ["!!!", "é", "_w", "YQ==", "YQ=", "Y", " YQ", 5])
def test_decode_cursor_refuses_what_encode_cursor_never_wrote(cursor: Any) -> None:
    with pytest.raises(errors.InvalidCursor) as caught:
        limits.decode_cursor(cursor)
    assert caught.value.status == 400


def test_decode_cursor_of_nothing() -> None:
    assert limits.decode_cursor(None) is None
    assert limits.decode_cursor("") is None


@pytest.mark.parametrize(
    ("prefix", "bound"),
    [
        ("a", "b"),
        ("ab", "ac"),
        ("a\U0010ffff", "b"),
        ("\U0010ffff\U0010ffff", None),
        ("\ud7ff", "\ue000"),
        ("a\uffff", "a\U00010000"),
        ("\x00", "\x01"),
    ],
)
def test_prefix_upper_bound(prefix: str, bound: str | None) -> None:
    assert limits.prefix_upper_bound(prefix) == bound
    if bound is not None:
        # Every string with the prefix sorts below the bound, in UTF-8 byte order.
        for tail in ("", "\U0010ffff" * 3, "z"):
            assert (prefix + tail).encode() < bound.encode()
