"""`GET /metrics` on a port of its own, bound to a loopback address.

A separate port rather than a route of the API: the API's port may face the internet, and a
metrics scrape should need neither a token in Prometheus' configuration nor a path that the
API's auth would have to make an exception for. Only this machine can reach a loopback port;
put a proxy with TLS and auth in front to scrape from elsewhere. A tiny HTTP/1.1 server on
the server's own event loop: one request per connection, GET or HEAD of /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from edgekv.server.metrics.collector import Metrics

log = logging.getLogger("edgekv.server")

# The text format every Prometheus reads (edgekv's names need none of 1.0.0's UTF-8).
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
_MAX_HEAD = 8192  # bytes of a request's head: a scrape's is a few hundred
_TIMEOUT = 10.0  # seconds a connection may take to send its head


class MetricsListener:
    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> MetricsListener:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            await self._answer(head, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # a client that sent no whole head gets no answer
        except Exception as e:  # a scrape must never take the server down
            log.warning("metrics scrape failed: %s", e)
            with contextlib.suppress(Exception):
                await _send(writer, 500, b"text/plain", b"metrics failed\n")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        if len(head) > _MAX_HEAD:
            await _send(writer, 431, b"text/plain", b"request head too large\n")
            return
        method, _, rest = head.partition(b" ")
        target = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        if target != b"/metrics":
            await _send(writer, 404, b"text/plain", b"not found: the metrics are at /metrics\n")
            return
        if method not in (b"GET", b"HEAD"):
            await _send(writer, 405, b"text/plain", b"method not allowed\n", allow=True)
            return
        body = await self.metrics.render()
        await _send(writer, 200, CONTENT_TYPE, body, head_only=method == b"HEAD")


_REASONS = {
    200: b"OK",
    404: b"Not Found",
    405: b"Method Not Allowed",
    431: b"Too Large",
    500: b"Error",
}


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    content_type: bytes,
    body: bytes,
    *,
    allow: bool = False,
    head_only: bool = False,
) -> None:
    lines = [
        b"HTTP/1.1 %d %s" % (status, _REASONS[status]),
        b"content-type: " + content_type,
        b"content-length: %d" % len(body),
        b"connection: close",
    ]
    if allow:
        lines.append(b"allow: GET, HEAD")
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head_only else body))
    await writer.drain()
