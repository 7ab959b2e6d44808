"""docs/contract.md §1-2: values, metadata, read types, and what a put replaces."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

import edgekv
from edgekv import errors
from tests.clock import FakeClock

from .helpers import drain, refused


async def test_the_empty_value_is_legal(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("empty", "")
    assert await ns.get("empty") == ""
    assert await ns.get("empty", "bytes") == b""
    assert await drain(await ns.get("empty", "stream")) == b""
    await ns.put("empty-bytes", b"")
    assert await ns.get("empty-bytes") == ""


async def test_read_types(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", '{"a": [1, 2, "é"]}')
    assert await ns.get("k") == '{"a": [1, 2, "é"]}'
    assert await ns.get("k", "text") == '{"a": [1, 2, "é"]}'
    assert await ns.get("k", "json") == {"a": [1, 2, "é"]}
    assert await ns.get("k", "bytes") == '{"a": [1, 2, "é"]}'.encode()
    assert await ns.get("k", "arrayBuffer") == '{"a": [1, 2, "é"]}'.encode()
    assert await drain(await ns.get("k", "stream")) == '{"a": [1, 2, "é"]}'.encode()


@pytest.mark.parametrize("type_", ["text", "json", "bytes", "arrayBuffer", "stream"])
async def test_a_missing_key_is_none_in_every_type(ns: edgekv.AsyncNamespace, type_: str) -> None:
    assert await ns.get("missing", type_) is None  # type: ignore[call-overload]
    got = await ns.get_with_metadata("missing", type_)  # type: ignore[call-overload]
    assert got.value is None
    assert got.metadata is None


@pytest.mark.parametrize("type_", ["blob", "TEXT", "", "array_buffer", None])
async def test_an_unknown_type_is_a_type_error(ns: edgekv.AsyncNamespace, type_: Any) -> None:
    await ns.put("k", "v")
    with pytest.raises(TypeError) as caught:
        await ns.get("k", type_)
    assert isinstance(caught.value, errors.KVError)
    assert caught.value.status == 400
    with pytest.raises(TypeError):
        await ns.get("missing", type_)
    with pytest.raises(TypeError):
        await ns.get_with_metadata("k", type_)


async def test_bytes_round_trip_exactly(ns: edgekv.AsyncNamespace) -> None:
    data = bytes(range(256)) * 3
    await ns.put("bin", data)
    assert await ns.get("bin", "bytes") == data
    await ns.put("ba", bytearray(b"\x00\xff"))
    assert await ns.get("ba", "bytes") == b"\x00\xff"
    await ns.put("mv", memoryview(b"view"))
    assert await ns.get("mv", "bytes") == b"view"


async def test_invalid_utf8_reads_as_text_with_replacement_characters(
    ns: edgekv.AsyncNamespace,
) -> None:
    await ns.put("bin", b"ok\xff")
    assert await ns.get("bin") == "ok\ufffd"


async def test_text_is_stored_as_utf8(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("t", "héllo 😀")
    assert await ns.get("t", "bytes") == "héllo 😀".encode()


async def test_a_lone_surrogate_in_text_is_stored_as_a_replacement_character(
    ns: edgekv.AsyncNamespace,
) -> None:
    # As a Worker's TextEncoder does: what is stored is always valid UTF-8.
    await ns.put("s", "a\ud800b")
    assert await ns.get("s", "bytes") == "a\ufffdb".encode()


async def test_a_value_of_another_type_is_refused(ns: edgekv.AsyncNamespace) -> None:
    for value in (123, None, 1.5, {"a": 1}):
        with pytest.raises(errors.BadRequest) as caught:
            await ns.put("k", value)  # type: ignore[arg-type]
        assert caught.value.status == 400
    assert await ns.get("k") is None


async def test_json_over_a_non_json_value_is_refused_with_400(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", "not json")
    with pytest.raises(errors.NotJSON) as caught:
        await ns.get("k", "json")
    assert caught.value.status == 400
    with pytest.raises(errors.NotJSON):
        await ns.get_with_metadata("k", "json")


# metadata


@pytest.mark.parametrize(
    "metadata",
    [{"a": 1}, [1, "two"], "text", 42, 1.5, True, False, 0, "", [], {}, {"nested": {"é": [None]}}],
)
async def test_metadata_is_any_json_value(ns: edgekv.AsyncNamespace, metadata: Any) -> None:
    await ns.put("k", "v", metadata=metadata)
    got = await ns.get_with_metadata("k")
    assert got.metadata == metadata
    assert type(got.metadata) is type(metadata)
    [listed] = (await ns.list()).keys
    assert listed.metadata == metadata
    assert listed.as_json() == {"name": "k", "metadata": metadata}


async def test_metadata_is_none_when_none_was_stored(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", "v")
    got = await ns.get_with_metadata("k")
    assert got.value == "v"
    assert got.metadata is None
    [listed] = (await ns.list()).keys
    assert listed.metadata is None
    assert listed.as_json() == {"name": "k"}


@pytest.mark.parametrize("value", ["", "0", "false", "null", b""])
async def test_falsy_values_keep_their_metadata(
    ns: edgekv.AsyncNamespace, value: str | bytes
) -> None:
    await ns.put("k", value, metadata={"kept": True})
    got = await ns.get_with_metadata("k")
    assert got.value == (value.decode() if isinstance(value, bytes) else value)
    assert got.metadata == {"kept": True}
    many = await ns.get_with_metadata(["k", "missing"])
    entry = many["k"]
    assert entry is not None
    assert entry.metadata == {"kept": True}
    assert entry.value == got.value
    assert many["missing"] is None
    assert (await ns.list()).keys[0].metadata == {"kept": True}


def _metadata_of_size(n: int, char: str = "x") -> str:
    # A JSON string: two quotes around the characters, padded with ASCII to the exact size.
    width = len(char.encode())
    body = char * ((n - 2) // width)
    return body + "x" * (n - 2 - len(body.encode()))


@pytest.mark.parametrize("char", ["x", "é", "😀"])
async def test_metadata_of_1024_bytes_is_accepted(ns: edgekv.AsyncNamespace, char: str) -> None:
    text = _metadata_of_size(1024, char)
    assert len(json.dumps(text, ensure_ascii=False).encode()) == 1024
    await ns.put("k", "v", metadata=text)
    assert (await ns.get_with_metadata("k")).metadata == text


async def test_metadata_over_1024_bytes_is_refused_with_413(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", "before", metadata={"old": 1})
    with refused(errors.MetadataTooLarge, 413, "Metadata length of 1025 exceeds limit of 1024."):
        await ns.put("k", "after", metadata="x" * 1023)
    with refused(errors.MetadataTooLarge, 413, "Metadata length of 1026 exceeds limit of 1024."):
        await ns.put("k", "after", metadata="é" * 512)
    # Size is the compact serialisation, as JSON.stringify writes it (no spaces).
    with refused(errors.MetadataTooLarge, 413, "Metadata length of 1027 exceeds limit of 1024."):
        await ns.put("k", "after", metadata={"a": list(range(100, 355))})
    got = await ns.get_with_metadata("k")
    assert (got.value, got.metadata) == ("before", {"old": 1})
    await ns.put("k", "fits", metadata={"a": list(range(100, 354))})  # 1023 bytes compact
    assert (await ns.get_with_metadata("k")).metadata == {"a": list(range(100, 354))}


async def test_metadata_that_is_not_json_is_refused(ns: edgekv.AsyncNamespace) -> None:
    for metadata in (object(), float("nan"), {1j: 1}, b"bytes"):
        with pytest.raises(errors.InvalidMetadata) as caught:
            await ns.put("k", "v", metadata=metadata)
        assert caught.value.status == 400
    assert await ns.get("k") is None


async def test_metadata_with_a_lone_surrogate_is_stored_escaped(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", "v", metadata={"s": "a\ud800"})
    assert (await ns.get_with_metadata("k")).metadata == {"s": "a\ud800"}


# a put replaces value, metadata and expiry together


async def test_a_put_replaces_value_metadata_and_expiry_together(
    ns: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await ns.put("k", "one", metadata={"v": 1}, expiration_ttl=60)
    await ns.put("k", "two")
    got = await ns.get_with_metadata("k")
    assert (got.value, got.metadata, got.expiration) == ("two", None, None)
    clock.advance(3600)
    assert await ns.get("k") == "two"
    assert (await ns.list()).keys[0].as_json() == {"name": "k"}

    await ns.put("k", "three", metadata="m", expiration_ttl=120)
    got = await ns.get_with_metadata("k")
    assert (got.value, got.metadata, got.expiration) == ("three", "m", int(clock()) + 120)


async def test_delete_of_a_missing_key_succeeds(ns: edgekv.AsyncNamespace) -> None:
    await ns.delete("never-written")
    await ns.put("k", "v")
    await ns.delete("k")
    await ns.delete("k")
    assert await ns.get("k") is None
    assert (await ns.list()).keys == []


async def test_a_deleted_key_can_be_written_again(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", "one", metadata=1)
    await ns.delete("k")
    await ns.put("k", "two")
    got = await ns.get_with_metadata("k")
    assert (got.value, got.metadata) == ("two", None)


async def test_put_from_a_file_object_and_chunks(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("file", io.BytesIO(b"from a file"))
    assert await ns.get("file") == "from a file"
    await ns.put("text-file", io.StringIO("from text"))  # type: ignore[arg-type]
    assert await ns.get("text-file") == "from text"

    async def parts() -> Any:
        yield b"a"
        yield "é"
        yield bytearray(b"b")
        yield memoryview(b"c")

    await ns.put("parts", parts(), metadata={"m": 1})
    got = await ns.get_with_metadata("parts")
    assert (got.value, got.metadata) == ("aébc", {"m": 1})


async def test_a_stream_yielding_other_things_is_refused(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", "before")

    async def bad() -> Any:
        yield b"ok"
        yield 42

    with pytest.raises(errors.BadRequest):
        await ns.put("k", bad())
    assert await ns.get("k") == "before"


async def test_get_with_metadata_as_stream(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("k", "streamed", metadata={"m": 1}, expiration_ttl=600)
    got = await ns.get_with_metadata("k", "stream")
    assert got.metadata == {"m": 1}
    assert got.expiration is not None
    assert await drain(got.value) == b"streamed"


async def test_an_unread_stream_does_not_block_writes(ns: edgekv.AsyncNamespace) -> None:
    await ns.put("small", "v")
    await ns.put("large", b"L" * (2 << 20))
    small = await ns.get("small", "stream")
    large = await ns.get("large", "stream")
    await ns.put("other", "written while two streams are open")
    await ns.put("large", b"replaced")
    assert await ns.get("other") == "written while two streams are open"
    # A stream is a snapshot of the value when it was opened.
    assert await drain(large) == b"L" * (2 << 20)
    assert await drain(small) == b"v"
    assert await ns.get("large") == "replaced"
