"""A loopback TCP proxy that tests can cut: the network between an edge and its central store.

`TcpProxy(port).start()` listens on a free loopback port and forwards every connection to
`127.0.0.1:port`. `cut()` drops every open connection (both ends reset) and closes the
listener, so new connections are refused, as when a link goes down; `resume()` listens on the
same port again. `blackhole()` is a link that stops carrying anything without breaking: every
connection, open or new, is accepted and kept, and what either end sends is dropped, so a
client waits for answers that never come (as behind a firewall that drops packets, or a peer
frozen mid-answer); `restore()` resets the connections that lost bytes meanwhile and forwards
new ones again. It runs its own event loop on a thread, so a test may block freely.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from typing import Any


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0  # accepted so far: a test can see that a client reconnected
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.blackholed = False
        self._held: set[asyncio.StreamWriter] = set()  # connections that lost bytes

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    @property
    def is_cut(self) -> bool:
        return self._server is None

    def cut(self) -> None:
        """Resets every open connection and refuses new ones until `resume()`."""
        self._call(self._cut())

    def resume(self) -> None:
        self._call(self._listen())

    def blackhole(self) -> None:
        """Accepts and keeps every connection, and drops whatever either end sends."""
        self._call(self._blackhole())

    def restore(self) -> None:
        """Forwards again; the connections that lost bytes are reset (their streams are torn)."""
        self._call(self._restore())

    async def _blackhole(self) -> None:
        self.blackholed = True
        self._held.update(self._writers)

    async def _restore(self) -> None:
        self.blackholed = False
        held, self._held = self._held, set()
        for writer in held:
            _reset(writer)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._serve, sock=sock)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._server is None:
            _reset(client_w)
            return
        if self.blackholed:  # accepted, and never answered
            self._held.add(client_w)
            with contextlib.suppress(OSError):
                while await client_r.read(65536):
                    pass
            client_w.close()
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_w)
            return
        self.connections += 1
        self._writers.update((client_w, upstream_w))
        try:
            await asyncio.gather(self._pump(client_r, upstream_w), self._pump(upstream_r, client_w))
        finally:
            for writer in (client_w, upstream_w):
                self._writers.discard(writer)
                writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if self.blackholed:
                    continue  # dropped: the other end waits on
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            if writer.can_write_eof() and not self.blackholed:
                writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Closes with a RST, not a FIN: the peer sees a broken link, not a polite goodbye."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
