"""docs/contract.md §1: values up to exactly 25 MiB (26,214,400 bytes), from every kind of
source."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import edgekv
from edgekv import errors

from .helpers import chunks, refused

LIMIT = 26_214_400
assert LIMIT == 25 * 1024 * 1024


def too_large(n: int) -> str:
    return f"Value length of {n} exceeds limit of {LIMIT}."


def _file_of(path: Path, size: int) -> Path:
    block = b"f" * (1 << 20)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    return path


async def _put(ns: edgekv.AsyncNamespace, key: str, source: str, size: int, tmp: Path) -> None:
    if source == "bytes":
        await ns.put(key, b"b" * size)
    elif source == "str":
        # Two-byte characters: the limit is on the UTF-8 bytes, not on characters.
        await ns.put(key, "é" * (size // 2) + "s" * (size % 2))
    elif source == "stream":
        await ns.put(key, chunks(size))
    else:
        with _file_of(tmp / f"{key}.bin", size).open("rb") as f:
            await ns.put(key, f)


@pytest.mark.parametrize("source", ["bytes", "str", "stream", "file"])
async def test_exactly_25_mib_is_accepted_and_read_back(
    ns: edgekv.AsyncNamespace, source: str, tmp_path: Path
) -> None:
    await _put(ns, "big", source, LIMIT, tmp_path)
    got = await ns.get("big", "bytes")
    assert got is not None
    assert len(got) == LIMIT
    digest = hashlib.sha256(got).hexdigest()
    del got
    stream = await ns.get("big", "stream")
    assert stream is not None
    streamed = hashlib.sha256()
    size = 0
    async for chunk in stream:
        streamed.update(chunk)
        size += len(chunk)
    assert size == LIMIT
    assert streamed.hexdigest() == digest


@pytest.mark.parametrize("source", ["bytes", "str", "stream", "file"])
async def test_one_byte_more_is_refused_with_413_and_nothing_is_written(
    ns: edgekv.AsyncNamespace, source: str, tmp_path: Path
) -> None:
    await ns.put("big", "before", metadata={"old": True})
    with pytest.raises(errors.ValueTooLarge) as caught:
        await _put(ns, "big", source, LIMIT + 1, tmp_path)
    assert caught.value.status == 413
    if source in ("bytes", "str"):
        # A stream is refused as soon as it passes the limit, before its end is known.
        assert caught.value.message == too_large(LIMIT + 1)
    else:
        assert caught.value.message.startswith("Value length of ")
        assert caught.value.message.endswith(f" exceeds limit of {LIMIT}.")
    got = await ns.get_with_metadata("big")
    assert (got.value, got.metadata) == ("before", {"old": True})
    with pytest.raises(errors.ValueTooLarge):
        await _put(ns, "new", source, LIMIT + 1, tmp_path)
    assert await ns.get("new") is None


async def test_a_multibyte_string_is_measured_in_utf8_bytes(ns: edgekv.AsyncNamespace) -> None:
    with refused(errors.ValueTooLarge, 413, too_large(LIMIT + 2)):
        await ns.put("k", "😀" * (LIMIT // 4) + "é")
    assert await ns.get("k") is None


async def test_stream_put_and_get_never_hold_the_value_in_memory(
    ns: edgekv.AsyncNamespace,
) -> None:
    # The store spools past 1 MiB and moves large values in chunks (blob I/O), so Python's
    # peak allocation stays a small fraction of the value's 25 MiB.
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await ns.put("big", chunks(LIMIT))
        _, put_peak = tracemalloc.get_traced_memory()

        tracemalloc.reset_peak()
        stream: AsyncIterator[bytes] | None = await ns.get("big", "stream")
        assert stream is not None
        size = 0
        async for chunk in stream:
            size += len(chunk)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == LIMIT
    assert put_peak < 6 * 1024 * 1024, put_peak
    assert get_peak < 6 * 1024 * 1024, get_peak


async def test_many_large_values_replace_each_other(ns: edgekv.AsyncNamespace) -> None:
    # Large values live apart from the entry: overwriting, deleting and expiring must neither
    # mix them up nor lose the newest.
    for fill in (b"1", b"2", b"3"):
        await ns.put("big", chunks(3 << 20, fill=fill))
    assert await ns.get("big", "bytes") == b"3" * (3 << 20)
    await ns.put("big", "small now")
    assert await ns.get("big") == "small now"
    await ns.put("big", chunks(2 << 20, fill=b"4"))
    await ns.delete("big")
    assert await ns.get("big") is None
    await ns.put("big", chunks(2 << 20, fill=b"5"))
    assert await ns.get("big", "bytes") == b"5" * (2 << 20)
