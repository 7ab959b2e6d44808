"""The PostgreSQL store's faults in edgekv's words: the store reaches the test database through
a TCP proxy (tests/tcpproxy.py) that the test cuts, as a link that goes down; every call then
fails, within the pool's fail-fast bound, with StoreUnavailable that names neither the
server's address nor psycopg's text, and the store recovers when the link is back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from edgekv import errors
from edgekv.model import EntryWrite
from edgekv.stores.postgres._async.postgres_store import AsyncPostgresStore
from tests.stores.backends import postgres_url
from tests.stores.faults import Call, each_unavailable
from tests.tcpproxy import TcpProxy


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    parts = urlsplit(postgres_url())
    with TcpProxy(parts.port or 5432) as started:
        yield started


def _through(proxy: TcpProxy) -> str:
    parts = urlsplit(postgres_url())
    netloc = (
        f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    )
    return urlunsplit(parts._replace(netloc=netloc))


async def test_a_cut_link_is_store_unavailable_and_the_store_recovers(
    proxy: TcpProxy, store_log: pytest.LogCaptureFixture
) -> None:
    store = AsyncPostgresStore(_through(proxy))
    write = EntryWrite("k", b"v", size=1)
    try:
        ns = await store.create_namespace("cut", uuid.uuid4().hex)
        position = await store.feed_position()
        await store.put(ns.id, write)
        proxy.cut()
        calls: list[Call] = [
            lambda: store.put(ns.id, write),
            lambda: store.get(ns.id, "k"),
            lambda: store.changes(position),
            lambda: store.list_keys(ns.id, "", 10, None),
        ]
        for message in await each_unavailable(calls, store_log, psycopg.OperationalError):
            assert str(proxy.port) not in message
        proxy.resume()
        async with asyncio.timeout(15):
            while True:
                try:
                    assert await store.get_value(ns.id, "k") == b"v"
                    break
                except errors.StoreUnavailable:
                    await asyncio.sleep(0.1)
    finally:
        proxy.resume()
        await store.aclose()
