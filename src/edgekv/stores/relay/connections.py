"""Keep-alive HTTP/1.1 connections to one relay: what the relay store sends its requests over.

The async store, which edges use, speaks HTTP/1.1 itself over asyncio streams, with h11 (the
workerd listener's parser) reading the answers: a request costs the edge a quarter of the CPU
httpx's AsyncClient cost it (`python -m benchmarks scale` measures both in one run), and an
edge behind a relay sends one for every miss and every write. The sync store (the
command line, `KV("relay://...")`) uses httpx's Client, whose cost does not matter there. Both
answer the same way (`AsyncRelayConnections` / `RelayConnections`, one generated from the
other's name by scripts/unasync.py), and both raise `RelayConnectionError` for what is the
connection's fault, never the relay's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import h11
import httpx

from edgekv.stores.faults import StoreFaults, refused

IDLE = 4.0  # seconds a connection may idle before it is not reused (uvicorn closes at 5)
_READ = 65536

Body = bytes | Callable[[], Any] | None  # bytes, or a function making the body's chunks anew


class RelayConnectionError(Exception):
    """The connection failed (refused, timed out, lost, garbled): `reason` says how in
    edgekv's words, the message as the OS or the parser said it."""

    def __init__(self, reason: str, detail: BaseException | str) -> None:
        super().__init__(str(detail) or type(detail).__name__)
        self.reason = reason


class RelayFaults(StoreFaults):
    __slots__ = ()

    @staticmethod
    def reason(e: Exception) -> str | None:
        if isinstance(e, RelayConnectionError):
            return e.reason
        if isinstance(e, ValueError):  # a body that is not JSON where the protocol says JSON
            return "not a relay answer"
        return None


def _reason(e: BaseException, connecting: bool) -> str:
    if isinstance(e, TimeoutError):
        return "timed out"
    if connecting:
        return "connection refused" if refused(e) else "cannot connect"
    if isinstance(e, h11.ProtocolError):
        return "not a relay answer"
    return "connection lost"


class _Connection:
    __slots__ = ("h11", "reader", "used", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.used = time.monotonic()

    def fresh(self) -> bool:
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.used < IDLE
        )

    def close(self) -> None:
        self.writer.close()


class AsyncAnswer:
    """A relay's answer: status and headers read; the body read by one of the methods."""

    def __init__(
        self,
        pool: AsyncRelayConnections,
        conn: _Connection,
        response: h11.Response,
        timeout: float,
    ) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self.status = response.status_code
        self.headers: Mapping[str, str] = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers
        }
        self._timeout = timeout

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks(_READ)])

    async def chunks(self, size: int = _READ) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                event = await self._pool.next_event(conn, self._timeout)
                if isinstance(event, h11.Data):
                    data = bytes(event.data)
                    for start in range(0, len(data), size):
                        yield data[start : start + size]
                elif isinstance(event, h11.EndOfMessage):
                    self._conn = None
                    self._pool.release(conn)
                    return
        finally:
            if self._conn is not None:  # not read to its end: the connection cannot be reused
                await self.aclose()

    async def lines(self) -> AsyncIterator[str]:
        pending = b""
        async for chunk in self.chunks():
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.decode()
        if pending:
            yield pending.decode()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            self._pool.release(None)


class AsyncRelayConnections:
    """Up to `limit` connections to the relay at `base_url`, reused while they are fresh."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        limit: int,
        *,
        connect_timeout: float | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        netloc = parts.netloc.rsplit("@", 1)[-1]
        self._headers = [("Host", netloc), *headers.items()]
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        within: float | None = None,
    ) -> AsyncAnswer:
        """Sends a request and reads its answer's head (each read within `within` seconds, the
        store's timeout by default); the caller reads or closes the body."""
        timeout = self.timeout if within is None else within
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        fields = [*self._headers, *(headers or {}).items()]
        if isinstance(body, bytes) and not any(k.lower() == "content-length" for k, _ in fields):
            fields.append(("Content-Length", str(len(body))))
        elif body is None and method in ("POST", "PUT"):
            fields.append(("Content-Length", "0"))
        try:
            # Waiting for one of `limit` connections is bounded too: behind calls that the
            # relay does not answer, a call would otherwise queue past its deadline.
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError as e:
            raise RelayConnectionError("timed out waiting for a connection", e) from e
        try:
            conn = self._take() or await self._connect(min(timeout, self.connect_timeout))
            try:
                await self._send(conn, h11.Request(method=method, target=target, headers=fields))
                if isinstance(body, bytes):
                    if body:
                        await self._send(conn, h11.Data(data=body))
                elif body is not None:
                    async for chunk in body():
                        await self._send(conn, h11.Data(data=chunk))
                await self._send(conn, h11.EndOfMessage())
                while True:
                    event = await self.next_event(conn, timeout)
                    if isinstance(event, h11.Response):
                        return AsyncAnswer(self, conn, event, timeout)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            self._slots.release()
            raise

    async def _connect(self, within: float) -> _Connection:
        try:
            async with asyncio.timeout(within):
                reader, writer = await asyncio.open_connection(
                    self._host,
                    self._port,
                    ssl=ssl.create_default_context() if self._tls else None,
                    limit=1 << 20,
                )
        except (OSError, TimeoutError) as e:
            raise RelayConnectionError(_reason(e, connecting=True), e) from e
        return _Connection(reader, writer)

    async def _send(self, conn: _Connection, event: h11.Event) -> None:
        data = conn.h11.send(event)
        if data:
            conn.writer.write(data)
            try:
                # A relay that stopped reading fills the socket's buffers: bounded as reads are.
                async with asyncio.timeout(self.timeout):
                    await conn.writer.drain()
            except (OSError, TimeoutError) as e:
                raise RelayConnectionError(_reason(e, connecting=False), e) from e

    async def next_event(self, conn: _Connection, within: float) -> h11.Event:
        try:
            while True:
                event = conn.h11.next_event()
                if event is h11.PAUSED:  # never, while an answer is being read
                    raise h11.RemoteProtocolError("paused")
                if event is not h11.NEED_DATA:
                    return cast(h11.Event, event)
                async with asyncio.timeout(within):
                    conn.h11.receive_data(await conn.reader.read(_READ))
        except (OSError, TimeoutError, h11.ProtocolError) as e:
            raise RelayConnectionError(_reason(e, connecting=False), e) from e

    def _take(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.fresh():
                return conn
            conn.close()
        return None

    def release(self, conn: _Connection | None) -> None:
        """An answer was read to its end (`conn` kept for the next request) or closed."""
        self._slots.release()
        if conn is None:
            return
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            conn.used = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()


class Answer:
    """The sync twin of AsyncAnswer, over an httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers

    def read(self) -> bytes:
        try:
            with _transport_errors():
                return self._response.read()
        finally:
            self._response.close()

    def chunks(self, size: int = _READ) -> Iterator[bytes]:
        try:
            with _transport_errors():
                yield from self._response.iter_bytes(size)
        finally:
            self._response.close()

    def lines(self) -> Iterator[str]:
        try:
            with _transport_errors():
                yield from self._response.iter_lines()
        finally:
            self._response.close()

    def close(self) -> None:
        self._response.close()


class RelayConnections:
    """The sync twin of AsyncRelayConnections, over httpx's Client."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        limit: int,
        *,
        connect_timeout: float | None = None,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers),
            timeout=httpx.Timeout(timeout, connect=self.connect_timeout),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        within: float | None = None,
    ) -> Answer:
        content = body() if callable(body) else body
        request = self._client.build_request(
            method,
            path,
            params=params,
            headers=headers,
            content=content,
            timeout=httpx.Timeout(
                self.timeout if within is None else within, connect=self.connect_timeout
            ),
        )
        with _transport_errors():
            return Answer(self._client.send(request, stream=True))

    def close(self) -> None:
        self._client.close()


@contextlib.contextmanager
def _transport_errors() -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as e:
        raise RelayConnectionError("timed out", e) from e
    except httpx.ConnectError as e:
        reason = "connection refused" if refused(e) else "cannot connect"
        raise RelayConnectionError(reason, e) from e
    except httpx.TransportError as e:
        raise RelayConnectionError("connection lost", e) from e
