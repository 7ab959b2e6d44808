"""A store that cannot be reached is StoreUnavailable from every public call, the first included
(opening a pool, learning a cluster's map): no driver exception (redis, psycopg, psycopg_pool,
httpx) escapes as anything but a KVError, in the async API and the sync one."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

import edgekv
from edgekv import errors
from edgekv.model import NamespaceInfo


def _refusing_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT = _refusing_port()
URLS = {
    "postgres": f"postgresql://postgres@127.0.0.1:{PORT}/test",
    "redis": f"redis://127.0.0.1:{PORT}/0",
    "redis-cluster": f"redis+cluster://127.0.0.1:{PORT}",
    "rest": f"http://127.0.0.1:{PORT}",
    "relay": f"relay://:secret@127.0.0.1:{PORT}",
}
# (The HTTP stores are opened with retries=0: they retry a refused connection with a backoff,
# seconds per call.)
NS = NamespaceInfo("0" * 32, "unreachable")

# Each public call of a namespace, and of the KV object, as (name, call).
NamespaceCall = Callable[[Any], Any]
CALLS: dict[str, NamespaceCall] = {
    "get": lambda ns: ns.get("key"),
    "get_with_metadata": lambda ns: ns.get_with_metadata("key"),
    "bulk get": lambda ns: ns.get(["a", "b"]),
    "list": lambda ns: ns.list(),
    "put": lambda ns: ns.put("key", "value"),
    "put if absent": lambda ns: ns.put("key", "value", only_if_absent=True),
    "delete": lambda ns: ns.delete("key"),
    "incr": lambda ns: ns.incr("key"),
    "bulk put": lambda ns: ns.bulk_put([{"key": "k", "value": "v"}]),
    "bulk delete": lambda ns: ns.bulk_delete(["k"]),
}
KV_CALLS: dict[str, NamespaceCall] = {
    "namespace": lambda kv: kv.namespace("title", create=True),
    "create_namespace": lambda kv: kv.create_namespace("title"),
    "list_namespaces": lambda kv: kv.list_namespaces(),
    "delete_namespace": lambda kv: kv.delete_namespace(NS.id),
}


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    # The stores log each outage once; psycopg_pool logs each failed attempt.
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def _check(e: BaseException) -> None:
    assert isinstance(e, errors.StoreUnavailable), repr(e)
    assert e.message.startswith("central store unavailable: ")
    assert str(PORT) not in e.message and "127.0.0.1" not in e.message


@pytest.mark.parametrize("call", sorted(CALLS) + sorted(KV_CALLS))
@pytest.mark.parametrize("store", sorted(URLS))
async def test_async_calls_raise_store_unavailable(store: str, call: str) -> None:
    try:
        kv = edgekv.AsyncKV(_async_store(store))
        try:
            if call in KV_CALLS:
                await _awaited(KV_CALLS[call](kv))
            else:
                await _awaited(CALLS[call](edgekv.AsyncNamespace(kv.store, NS)))
        finally:
            await kv.aclose()
    except Exception as e:
        _check(e)
    else:
        pytest.fail("no error")


@pytest.mark.parametrize("call", sorted(CALLS) + sorted(KV_CALLS))
@pytest.mark.parametrize("store", sorted(URLS))
def test_sync_calls_raise_store_unavailable(store: str, call: str) -> None:
    try:
        kv = edgekv.KV(_sync_store(store))
        try:
            if call in KV_CALLS:
                KV_CALLS[call](kv)
            else:
                CALLS[call](edgekv.Namespace(kv.store, NS))
        finally:
            kv.close()
    except Exception as e:
        _check(e)
    else:
        pytest.fail("no error")


def _async_store(store: str) -> str | edgekv.AsyncStore:
    if store == "rest":
        from edgekv.stores.http._async.http_store import AsyncRestStore

        return AsyncRestStore(URLS[store], retries=0)
    if store == "relay":
        from edgekv.stores.relay._async.relay_store import AsyncRelayStore

        return AsyncRelayStore(URLS[store], retries=0)
    return URLS[store]


def _sync_store(store: str) -> str | edgekv.Store:
    if store == "rest":
        from edgekv.stores.http._sync.http_store import RestStore

        return RestStore(URLS[store], retries=0)
    if store == "relay":
        from edgekv.stores.relay._sync.relay_store import RelayStore

        return RelayStore(URLS[store], retries=0)
    return URLS[store]


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value
