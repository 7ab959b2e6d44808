"""Commands to one Redis node, in each shell: the calls the store makes most, its write and
feed scripts, with as little client work per call as Redis itself does for a small script.

Async (`AsyncNodeClient`): per node one connection of its own, a lane, on which calls are
pipelined. Each call is written at once; Redis answers in order, and the lane's protocol parses
the answers as they arrive and hands each to its caller. redis-py's own path cost a call more
than the script it ran (measured: ~130 us of client CPU per script call, about half of it here):
a connection taken from and given back to a pool, a cluster's routing checks, the arguments
packed in Python, on Python 3.11 a task per send (`asyncio.wait_for`), and a task woken per
answer to read it from a stream. redis-py still makes the connection (TLS, AUTH, HELLO,
SELECT); then the lane takes over its transport, writes the calls packed by hiredis, and bounds
them with one timer (each call waits at most the client's `socket_timeout`). A call that times
out, or a connection that fails, fails every call waiting on the lane (their answers could no
longer be told apart), and the next call connects again.

The lane relies on redis-py's connection internals (`_writer.transport`, `_parser`), so
pyproject.toml pins redis-py (and hiredis) to the range it was tested against, both ends. It
earns that: measured against redis-py's public path (a node's `execute_command`) in the same
run, the edge spends 13-17 % less CPU per PUT through the server with it, and serves 10-14 %
more PUTs per second (benchmarks/bench_redis_lanes.py; rerun it before widening the range).

Sync (`NodeClient`): calls go one at a time, through redis-py: the node's own client in a
cluster (a sync `ClusterNode` holds one, `redis_connection`), else the store's client.

The async source names `AsyncNodeClient`, the generated sync code `NodeClient`
(scripts/unasync.py), as with `edgekv.concurrency`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import hiredis
import redis.exceptions

DEFAULT_TIMEOUT = 5.0  # seconds, as redis-py's socket_timeout


class _Lane:
    """One connection to one node; calls pipelined on it, answered in order."""

    def __init__(self, connection_class: Any, kwargs: dict[str, Any]) -> None:
        self.timeout = kwargs.get("socket_timeout") or DEFAULT_TIMEOUT
        # Connecting is bounded too, the handshake included (HELLO, AUTH, SELECT: answers
        # read without the socket_timeout taken off below): a frozen server accepts, in its
        # kernel, and never answers them.
        self.connect_timeout = kwargs.get("socket_connect_timeout") or DEFAULT_TIMEOUT
        # The lane bounds each call itself: the connection's own timeout would put a task
        # (wait_for) around every send.
        self.connection_class = connection_class
        self.kwargs = {**kwargs, "socket_timeout": None}
        self.connection: Any = None
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        # Each waiting call's deadline, in the same order; one timer for the lane, armed at
        # the oldest (a timer per call, asyncio.timeout, cost ~5 us a call under uvloop).
        self.deadlines: deque[float] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.connecting = asyncio.Lock()
        self.failed: tuple[float, Exception] | None = None  # the last failed connect: when, why
        self.closing: set[asyncio.Task[Any]] = set()

    async def call(self, command: tuple[Any, ...]) -> Any:
        if self.transport is None:
            await self._connect()
        connection, transport = self.connection, self.transport
        assert transport is not None
        packed = hiredis.pack_command(command)
        if transport.is_closing():  # asyncio's transports drop what is written then
            cause = redis.exceptions.ConnectionError("Redis connection lost: closed")
            self._break(connection, cause)
            raise cause
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append(future)
        self.deadlines.append(loop.time() + self.timeout)
        if self.timer is None:
            self.timer = loop.call_at(self.deadlines[0], self._check_deadline)
        try:
            # Written before any await: the order of the waiting futures is the order sent.
            transport.write(packed)
        except BaseException as e:
            # Whatever stopped the write (uvloop's RuntimeError for a closed transport, a
            # lost connection): this call fails with its own error, the calls behind it as
            # lost.
            future.cancel()
            self._break(connection, e)
            if isinstance(e, Exception) and not isinstance(e, redis.exceptions.RedisError):
                raise redis.exceptions.ConnectionError(f"Redis connection lost: {e!r}") from e
            raise
        # A caller that gives up (cancelled) cancels its future: its answer, when it comes,
        # is dropped.
        return await future

    async def _connect(self) -> None:
        asked = asyncio.get_running_loop().time()
        async with self.connecting:
            if self.transport is None:
                if self.failed is not None and self.failed[0] >= asked:
                    # An attempt made while this call waited for its turn failed: this call
                    # fails with it, rather than wait a connect_timeout more of its own (calls
                    # queued behind a frozen server would each wait one more, in turn).
                    raise type(self.failed[1])(*self.failed[1].args)
                try:
                    await self._connect_now()
                except Exception as e:
                    self.failed = (asyncio.get_running_loop().time(), e)
                    raise
                self.failed = None

    async def _connect_now(self) -> None:
        # redis-py connects: TLS, AUTH, HELLO, SELECT, as for any of its connections. Then the
        # lane reads the answers itself, as they arrive (_Answers), rather than by a task
        # reading redis-py's stream (a task wake-up per answer).
        connection: Any = self.connection_class(**self.kwargs)
        try:
            async with asyncio.timeout(self.connect_timeout):
                await connection.connect()
        except TimeoutError:
            with contextlib.suppress(Exception):
                await connection.disconnect(nowait=True)
            raise redis.exceptions.TimeoutError("Timeout connecting to Redis") from None
        transport = connection._writer.transport
        transport.set_protocol(_Answers(self, connection))
        self.connection, self.transport = connection, transport

    def _answered(self, connection: Any, replies: list[Any]) -> None:
        if connection is not self.connection:
            return
        for reply in replies:
            if not self.waiting:
                cause = redis.exceptions.ConnectionError("Redis answered a call not made")
                self._break(connection, cause)
                return
            future = self.waiting.popleft()
            self.deadlines.popleft()
            if future.done():  # its caller gave up (cancelled): the answer is dropped
                continue
            # An error answer is the call's own, whatever class redis-py gives it: -LOADING
            # (a restarted server reading its data) is a BusyLoadingError, a ConnectionError.
            if isinstance(reply, redis.exceptions.RedisError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def _check_deadline(self) -> None:
        """The lane's one timer: fires at the oldest waiting call's deadline (calls wait in
        the order sent, all for the same time, so the oldest is first)."""
        self.timer = None
        if not self.deadlines:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self.deadlines[0]:
            self.timer = loop.call_at(self.deadlines[0], self._check_deadline)
            return
        # Redis has not answered the oldest call in time: it fails with a timeout, and every
        # call behind it with the lost connection (their answers could no longer be told apart).
        oldest = self.waiting[0]
        if not oldest.done():
            oldest.set_exception(redis.exceptions.TimeoutError("Timeout reading from Redis"))
        self._break(self.connection, redis.exceptions.TimeoutError("Timeout reading from Redis"))

    def _break(self, connection: Any, cause: BaseException) -> None:
        """Fails every waiting call and drops the connection, once per connection."""
        if connection is not self.connection or connection is None:
            return
        self.connection, self.transport = None, None
        waiting, self.waiting = self.waiting, deque()
        self.deadlines = deque()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for future in waiting:
            if not future.done():
                error = redis.exceptions.ConnectionError(f"Redis connection lost: {cause}")
                future.set_exception(error)
        task = asyncio.get_running_loop().create_task(connection.disconnect(nowait=True))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def aclose(self) -> None:
        connection = self.connection
        if connection is not None:
            self._break(connection, ConnectionError("closed"))
        if self.closing:
            await asyncio.gather(*self.closing, return_exceptions=True)


class _Answers(asyncio.Protocol):
    """A lane's connection once it is connected: each answer parsed (hiredis) as its bytes
    arrive and handed to the call that waits for it."""

    def __init__(self, lane: _Lane, connection: Any) -> None:
        self.lane = lane
        self.connection = connection
        options: dict[str, Any] = {}
        if connection.encoder.decode_responses:
            options = {"encoding": connection.encoder.encoding}
        # As redis-py's own parser: error answers become its exceptions (NoScriptError...).
        self.reader = hiredis.Reader(
            protocolError=redis.exceptions.InvalidResponse,
            replyError=connection._parser.parse_error,
            **options,
        )

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        replies, garbled = [], None
        try:
            while (reply := self.reader.gets()) is not False:
                replies.append(reply)
        except Exception as e:  # not Redis's protocol: nothing after it can be trusted
            garbled = e
        self.lane._answered(self.connection, replies)
        if garbled is not None:
            self.lane._break(self.connection, garbled)

    def eof_received(self) -> bool | None:
        self.lane._break(self.connection, ConnectionError("closed by the server"))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lane._break(self.connection, exc or ConnectionError("connection closed"))


class AsyncNodeClient:
    """`await nodes.call(node, *command)`: node is a cluster node, or None for `client`'s."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lanes: dict[str | None, _Lane] = {}

    async def call(self, node: Any, *command: Any) -> Any:
        name = None if node is None else node.name
        lane = self.lanes.get(name)
        if lane is None:
            if node is None:
                pool = self.client.connection_pool
                lane = _Lane(pool.connection_class, pool.connection_kwargs)
            else:
                lane = _Lane(node.connection_class, node.connection_kwargs)
            self.lanes[name] = lane
        return await lane.call(command)

    async def aclose(self) -> None:
        lanes, self.lanes = self.lanes, {}
        for lane in lanes.values():
            with contextlib.suppress(Exception):
                await lane.aclose()


class NodeClient:
    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, node: Any, *command: Any) -> Any:
        target = self.client if node is None else node.redis_connection
        return target.execute_command(*command)

    def close(self) -> None:
        pass
