"""A value as an HTTP answer: Content-Length when it is small, streamed in chunks when large.

Starlette's StreamingResponse runs a task group per answer to watch for disconnects; a value
read needs none of that, and small values (most of them) are better sent with a length.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import Response

BUFFER = 1 << 16  # values up to this size are sent with a Content-Length


class ValueResponse(Response):
    def __init__(self, chunks: AsyncIterator[bytes], headers: dict[str, str]) -> None:
        super().__init__(b"", 200, headers, media_type="application/octet-stream")
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.chunks = chunks

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send_value(send, self.chunks, self.raw_headers)


async def send_value(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    chunks: AsyncIterator[bytes],
    headers: list[tuple[bytes, bytes]],
) -> None:
    """Sends a value read as `chunks`: with a Content-Length up to 64 KiB, else streamed."""
    head: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            head.append(chunk)
            size += len(chunk)
            if size > BUFFER:
                break
        else:
            length = (b"content-length", str(size).encode())
            await send(
                {"type": "http.response.start", "status": 200, "headers": [*headers, length]}
            )
            await send({"type": "http.response.body", "body": b"".join(head)})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(head), "more_body": True})
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
