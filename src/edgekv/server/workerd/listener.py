"""A small HTTP/1.1 server (asyncio + h11) for the workerd KV protocol.

workerd reads a failed KV call's message from the reason phrase of the status line, which ASGI
servers do not let an app set. This server runs any ASGI app and honours an extra `reason` key
in `http.response.start`. It speaks exactly what workerd needs: HTTP/1.1 keep-alive, request
bodies with Content-Length or chunked (streamed to the app), answers with Content-Length or
chunked, and every request body read to its end before the connection is reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

import h11

from edgekv.server.asgi import ASGIApp, Message
from edgekv.server.envelope import MalformedRequest

log = logging.getLogger("edgekv.workerd")

_READ = 65536
_IDLE_TIMEOUT = 60.0  # workerd reconnects when an idle connection was closed


class WorkerdListener:
    """Serves an ASGI app on host:port until `aclose()`: `await WorkerdListener(app).start()`."""

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        """`sock`: a socket bound already, to accept on instead of host:port (the workers of
        one node share the one their supervisor bound)."""
        self.app = app
        self.host = host
        self.port = port
        self.sock = sock
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> WorkerdListener:
        if self.sock is not None:
            self._server = await asyncio.start_server(self._connection, sock=self.sock)
            self.host = str(self.sock.getsockname()[0])
        else:
            self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await _Connection(self.app, reader, writer, (self.host, self.port)).run()
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class _Connection:
    def __init__(
        self,
        app: ASGIApp,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        server: tuple[str, int],
    ) -> None:
        self.app = app
        self.reader = reader
        self.writer = writer
        self.server = server
        self.conn = h11.Connection(h11.SERVER)
        self.client = writer.get_extra_info("peername")

    async def _next_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.conn.receive_data(await self.reader.read(_READ))

    async def run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(_IDLE_TIMEOUT):
                    event = await self._next_event()
            except TimeoutError:
                return
            except h11.RemoteProtocolError as e:
                # A request that is not HTTP/1.1 (bytes in its target, a Content-Length that is
                # not a size): answered 400, as any HTTP server would, then the connection closes.
                await self._refuse(e.error_status_hint, _why(e))
                return
            if isinstance(event, h11.ConnectionClosed):
                return
            if not isinstance(event, h11.Request):
                return
            await self._exchange(event)
            if self.conn.our_state is not h11.DONE:
                return
            # Whatever the app left unread is read and dropped, so the next request parses.
            while self.conn.their_state is h11.SEND_BODY:
                if isinstance(await self._next_event(), h11.EndOfMessage):
                    break
            if self.conn.their_state is not h11.DONE:
                return
            self.conn.start_next_cycle()

    async def _refuse(self, status: int, why: str) -> None:
        reason = f"Malformed HTTP request: {why}.".encode("ascii", "replace")
        with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
            self.writer.write(
                self.conn.send(
                    h11.Response(
                        status_code=status,
                        headers=[(b"content-length", b"0"), (b"connection", b"close")],
                        reason=reason,
                    )
                )
                or b""
            )
            self.writer.write(self.conn.send(h11.EndOfMessage()) or b"")
            await self.writer.drain()

    async def _exchange(self, request: h11.Request) -> None:
        target = bytes(request.target)
        path, _, query = target.partition(b"?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method.decode("ascii"),
            "scheme": "http",
            "path": _unquote(path),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers],
            "client": self.client,
            "server": self.server,
        }
        body_done = False
        started = False

        async def receive() -> Message:
            nonlocal body_done
            if body_done:
                return {"type": "http.disconnect"}
            if self.conn.they_are_waiting_for_100_continue:
                self.writer.write(
                    self.conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
            while True:
                try:
                    event = await self._next_event()
                except h11.RemoteProtocolError as e:
                    # A body that breaks HTTP/1.1 (bad chunks): a 400 from the app, and the
                    # connection closes after it.
                    body_done = True
                    raise MalformedRequest(f"Malformed HTTP request body: {_why(e)}.") from e
                if isinstance(event, h11.Data):
                    return {"type": "http.request", "body": bytes(event.data), "more_body": True}
                if isinstance(event, h11.EndOfMessage):
                    body_done = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                if isinstance(event, h11.ConnectionClosed):
                    body_done = True
                    return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                reason = message.get("reason") or h11_reason(status)
                response = h11.Response(
                    status_code=status,
                    headers=list(message.get("headers", [])),
                    reason=reason,
                )
                self.writer.write(self.conn.send(response) or b"")
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if body:
                    self.writer.write(self.conn.send(h11.Data(data=body)) or b"")
                if not message.get("more_body", False):
                    self.writer.write(self.conn.send(h11.EndOfMessage()) or b"")
                await self.writer.drain()

        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("workerd listener: the app failed")
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "reason": b"Internal error",
                        "headers": [(b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})


def _why(error: h11.ProtocolError) -> str:
    """h11's reason in a few printable words, without the bytes it quotes."""
    text = str(error).split(":")[0]
    return "".join(c if " " <= c < "\x7f" else " " for c in text)[:100]


def h11_reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _unquote(path: bytes) -> str:
    return unquote_to_bytes(path).decode("utf-8", "replace")
