"""The Redis store's faults in edgekv's words: a Redis server started by the test is killed
(SIGKILL), and every call, through redis-py (reads, namespaces, the feed's waiters) and
through the store's own lanes (writes, feed reads, nodes.py), fails with StoreUnavailable
that names neither the server's address nor redis-py's text; started again on its port, the
server is used again."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.exceptions

from edgekv import errors
from edgekv.model import EntryWrite
from edgekv.stores.redis._async.redis_store import AsyncRedisStore
from tests import redis_cluster
from tests.services import require
from tests.stores.faults import Call, closed_port, each_unavailable


class RedisServer:
    """One redis-server on a free loopback port, without persistence."""

    def __init__(self, directory: Path) -> None:
        self.port = closed_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + redis_cluster.START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            redis_cluster._wait(deadline, "redis-server to answer")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    require(redis_cluster.available(), "redis-server")
    started = RedisServer(tmp_path)
    started.start()
    try:
        yield started
    finally:
        started.kill()


async def test_a_killed_server_is_store_unavailable_and_used_again_once_back(
    server: RedisServer, store_log: pytest.LogCaptureFixture
) -> None:
    store = AsyncRedisStore(f"redis://127.0.0.1:{server.port}/0?prefix=faults")
    write = EntryWrite("k", b"v", size=1)
    try:
        ns = await store.create_namespace("killed", uuid.uuid4().hex)
        position = await store.feed_position()
        await store.put(ns.id, write)
        server.kill()
        calls: list[Call] = [
            lambda: store.put(ns.id, write),  # the lane's write script
            lambda: store.changes(position),  # the lane's feed read
            lambda: store.get(ns.id, "k"),  # redis-py
            lambda: store.get_namespace(ns.id),
            lambda: store.wait_for_changes(position, 1.0),  # pub/sub
        ]
        for message in await each_unavailable(calls, store_log, redis.exceptions.ConnectionError):
            assert str(server.port) not in message
        server.start()  # an empty server again: the store's namespace is gone with its data
        async with asyncio.timeout(10):
            with pytest.raises(errors.NamespaceNotFound):
                await store.get_namespace(ns.id)
            again = await store.create_namespace("back", uuid.uuid4().hex)
            assert await store.put(again.id, write) > 0
            assert (await store.get(again.id, "k")) is not None
    finally:
        await store.aclose()
