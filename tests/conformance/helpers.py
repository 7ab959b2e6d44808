"""Shared checks of the conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest

from edgekv.errors import KVError


@contextmanager
def refused(kind: type[KVError], status: int, message: str) -> Iterator[None]:
    """The block raises `kind` with exactly this HTTP status and the contract's message."""
    with pytest.raises(kind) as caught:
        yield
    assert caught.value.status == status
    assert caught.value.message == message
    assert str(caught.value) == message


async def chunks(total: int, size: int = 1 << 16, fill: bytes = b"v") -> AsyncIterator[bytes]:
    """`total` bytes as an async stream, one reused chunk at a time (no big buffer)."""
    block = fill * size
    left = total
    while left > 0:
        n = min(size, left)
        yield block if n == size else block[:n]
        left -= n


async def drain(stream: AsyncIterator[bytes] | None) -> bytes:
    assert stream is not None
    return b"".join([chunk async for chunk in stream])


def utf8_sorted(keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda k: k.encode())
