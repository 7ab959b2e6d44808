"""A value as an HTTP answer: Content-Length when it is small, streamed in chunks when large.

Starlette's StreamingResponse runs a task group per answer to watch for disconnects; a value
read needs none of that, and small values (most of them) are better sent with a length.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from edgekv.server.asgi import Send

BUFFER = 1 << 16  # values up to this size are sent with a Content-Length


class AnswerStarted(Exception):
    """A value failed to stream after its answer started: no other answer can be given, and
    the server must drop the connection (the client sees a truncated body)."""


async def send_value(
    send: Send,
    chunks: AsyncIterator[bytes],
    headers: list[tuple[bytes, bytes]],
) -> int:
    """Sends a value read as `chunks`: with a Content-Length up to 64 KiB, else streamed.
    Returns the bytes of the value sent."""
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
            return size
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            await send({"type": "http.response.body", "body": b"".join(head), "more_body": True})
            async for chunk in chunks:
                size += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return size
        except Exception as e:
            raise AnswerStarted(str(e)) from e
    finally:
        close = getattr(chunks, "aclose", None)  # a generator's: its files and connections
        if close is not None:
            await close()
