"""One HTTP request with retries, as every store over HTTP sends it (the REST store, the
relay store): 429 always retried, 5xx and connection failures (not timeouts) only for a call
safe to repeat,
with exponential backoff (or the server's Retry-After); a failed answer raises the edgekv
error its envelope names."""

from __future__ import annotations

import asyncio
import time  # noqa: F401  # the generated sync shell sleeps with time.sleep
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

import httpx

from edgekv.model import StoredEntry
from edgekv.stores.faults import StoreFaults
from edgekv.stores.http import wire


async def send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    retries: int,
    backoff: float,
    idempotent: bool = True,
    stream: bool = False,
    content: Callable[[], Any] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """`content()` makes the body anew for each attempt (a file is re-read from its start)."""
    attempt = 0
    while True:
        request = client.build_request(
            method, path, content=None if content is None else content(), **kwargs
        )
        try:
            response = await client.send(request, stream=stream)
        except httpx.TimeoutException:
            # Not tried again: the call has had its deadline, and a server that did not answer
            # it in time would hold each retry as long (refusals and resets are retried).
            raise
        except httpx.TransportError:
            wait = wire.retry_wait(attempt, retries, backoff, idempotent=idempotent, status=None)
            if wait is None:
                raise  # StoreUnavailable, by the calling store's faults
        else:
            if response.status_code < 400:
                return response
            body = await response.aread()
            await response.aclose()
            if wire.upstream_timed_out(response.status_code, body):
                raise wire.error_from(response.status_code, body)
            wait = wire.retry_wait(
                attempt,
                retries,
                backoff,
                idempotent=idempotent,
                status=response.status_code,
                retry_after=response.headers.get("retry-after"),
            )
            if wait is None:
                raise wire.error_from(response.status_code, body)
        await asyncio.sleep(wait)
        attempt += 1


async def body(
    head: bytes, value: bytes | IO[bytes], start: int, tail: bytes, chunk_size: int = 1 << 16
) -> AsyncIterator[bytes]:
    """A request body, made anew for each attempt: a file value is re-read from its start."""
    if head:
        yield head
    if isinstance(value, bytes):
        for offset in range(0, len(value), chunk_size):
            yield value[offset : offset + chunk_size]
    else:
        value.seek(start)
        while chunk := value.read(chunk_size):
            yield chunk
    if tail:
        yield tail


def read_all(value: bytes | IO[bytes]) -> bytes:
    return value if isinstance(value, bytes) else value.read()


async def read_whole(opened: tuple[StoredEntry, httpx.Response] | None) -> StoredEntry | None:
    """The entry an answer describes with its body read in full (the answer closed)."""
    if opened is None:
        return None
    entry, response = opened
    try:
        entry.value = await response.aread()
    finally:
        await response.aclose()
    return entry


async def chunks(
    response: httpx.Response, chunk_size: int, faults: StoreFaults
) -> AsyncIterator[bytes]:
    """An answer's body as a value's chunks, the store's faults raised as its own."""
    try:
        with faults:
            async for chunk in response.aiter_bytes(chunk_size):
                yield chunk
    finally:
        await response.aclose()
