"""A value as an HTTP answer: Content-Length when it is small, streamed in chunks when large.

Starlette's StreamingResponse runs a task group per answer to watch for disconnects; a value
read needs none of that, and small values (most of them) are better sent with a length.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response

_BUFFER = 1 << 16


class ValueResponse(Response):
    def __init__(self, chunks: AsyncIterator[bytes], headers: dict[str, str]) -> None:
        super().__init__(b"", 200, headers, media_type="application/octet-stream")
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.chunks = chunks

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        head: list[bytes] = []
        size = 0
        try:
            async for chunk in self.chunks:
                head.append(chunk)
                size += len(chunk)
                if size > _BUFFER:
                    break
            else:
                length = (b"content-length", str(size).encode())
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [*self.raw_headers, length],
                    }
                )
                await send({"type": "http.response.body", "body": b"".join(head)})
                return
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b"".join(head), "more_body": True})
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            close = getattr(self.chunks, "aclose", None)
            if close is not None:
                await close()
