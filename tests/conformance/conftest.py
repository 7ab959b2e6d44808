"""The conformance suite runs against every store: each entry of STORES opens one.

A store added later (PostgreSQL, Redis, Redis Cluster, HTTP) adds an entry here and must pass
every test in this folder unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

import edgekv
from edgekv import AsyncStore
from tests.clock import FakeClock

StoreFactory = Callable[[Path, FakeClock], Awaitable[AsyncStore]]


async def _memory(tmp: Path, clock: FakeClock) -> AsyncStore:
    return edgekv.AsyncSQLiteStore(None, clock=clock)


async def _sqlite(tmp: Path, clock: FakeClock) -> AsyncStore:
    return edgekv.AsyncSQLiteStore(tmp / "kv.db", clock=clock)


async def _rest(tmp: Path, clock: FakeClock) -> AsyncStore:
    # A real `edgekv serve` (create_app + uvicorn) in a thread; see tests/stores/http/server.py.
    from edgekv.stores.http._async.http_store import AsyncRestStore
    from tests.stores.http.server import rest_server

    server = rest_server()
    server.clock.target = clock
    account_id, token = server.new_account()
    return AsyncRestStore(server.url, token=token, account_id=account_id)


async def _relay(tmp: Path, clock: FakeClock) -> AsyncStore:
    # A relay (create_app with a relay secret, over SQLite) in a thread; the store an edge
    # started with `--store relay://...` opens.
    from edgekv.stores.relay._async.relay_store import AsyncRelayStore
    from tests.stores.http.server import RELAY_SECRET, relay_server

    server = relay_server()
    server.clock.target = clock
    return AsyncRelayStore(f"relay://127.0.0.1:{server.port}", secret=RELAY_SECRET)


async def _postgres(tmp: Path, clock: FakeClock) -> AsyncStore:
    from edgekv.stores.postgres._async.postgres_store import AsyncPostgresStore
    from tests.stores.backends import postgres_url

    return AsyncPostgresStore(postgres_url(), clock=clock)


async def _redis(tmp: Path, clock: FakeClock) -> AsyncStore:
    from edgekv.stores.redis._async.redis_store import AsyncRedisStore
    from tests.stores.backends import redis_url

    return AsyncRedisStore(redis_url(), clock=clock)


async def _redis_cluster(tmp: Path, clock: FakeClock) -> AsyncStore:
    from edgekv.stores.redis._async.redis_store import AsyncRedisStore
    from tests.stores.backends import redis_cluster_url

    return AsyncRedisStore(redis_cluster_url(), clock=clock)


async def _edge(tmp: Path, clock: FakeClock) -> AsyncStore:
    # An edge tier in front of SQLite must change nothing a caller can see.
    from edgekv.edge._async.edge_store import AsyncEdgeStore

    return AsyncEdgeStore(edgekv.AsyncSQLiteStore(tmp / "kv.db", clock=clock), clock=clock)


STORES: dict[str, StoreFactory] = {
    "edge": _edge,
    "postgres": _postgres,
    "redis": _redis,
    "redis-cluster": _redis_cluster,
    "memory": _memory,
    "sqlite": _sqlite,
    "rest": _rest,
    "relay": _relay,
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=sorted(STORES))
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[AsyncStore]:
    opened = await STORES[request.param](tmp_path, clock)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def kv(store: AsyncStore, clock: FakeClock) -> edgekv.AsyncKV:
    # A fresh account per test: stores shared across tests (a database server) stay isolated.
    return edgekv.AsyncKV(store, clock=clock, account_id=uuid.uuid4().hex)


@pytest.fixture
async def ns(kv: edgekv.AsyncKV) -> edgekv.AsyncNamespace:
    return await kv.create_namespace("TEST")
