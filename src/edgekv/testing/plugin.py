"""The pytest plugin's options and fixtures (registered as the `edgekv` pytest11 entry point).

Every fixture is named `edgekv_*`, so none shadows a fixture of the project using it.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from edgekv import errors
from edgekv.api._async.kv import AsyncKV, AsyncNamespace
from edgekv.api._sync.kv import KV, Namespace
from edgekv.edge._sync.edge_store import EdgeStore
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores._async.urls import store_from_url as async_store_from_url
from edgekv.stores._sync.protocol import Store
from edgekv.stores._sync.urls import store_from_url
from edgekv.testing.clock import Clock
from edgekv.testing.server import EdgeKVServer

__all__ = [
    "edgekv_clock",
    "edgekv_edge_kv",
    "edgekv_kv",
    "edgekv_namespace",
    "edgekv_server",
    "edgekv_store",
    "edgekv_store_url",
    "pytest_addoption",
]

STORE_ENV = "EDGEKV_TEST_STORE"
MEMORY = "memory://"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("edgekv", "edgekv: isolated Workers KV namespaces")
    group.addoption(
        "--edgekv-store",
        metavar="URL",
        default=None,
        help=f"The store the edgekv_* fixtures use (env {STORE_ENV}; default memory://, a new "
        "one per test). A shared store (sqlite:///..., postgresql://..., redis://...) gets "
        "a new namespace per test, deleted after it.",
    )


@pytest.fixture(scope="session")
def edgekv_store_url(request: pytest.FixtureRequest) -> str:
    """The store URL the tests run on: --edgekv-store, else $EDGEKV_TEST_STORE, else memory://."""
    given = request.config.getoption("--edgekv-store") or os.environ.get(STORE_ENV)
    return str(given or MEMORY)


@pytest.fixture
def edgekv_clock() -> Clock:
    """A clock that starts now and moves only when the test says (`advance`, `set`)."""
    return Clock()


def _title(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:80]
    return f"pytest-{name}-{uuid.uuid4().hex[:8]}"


# sync


@pytest.fixture
def edgekv_store(edgekv_store_url: str, edgekv_clock: Clock) -> Iterator[Store]:
    """The store of this test, reading time from `edgekv_clock` (memory://: a new one)."""
    store = store_from_url(edgekv_store_url, clock=edgekv_clock)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def edgekv_kv(edgekv_store: Store, edgekv_clock: Clock) -> KV:
    """`KV` over the test's store, on the test's clock."""
    return KV(edgekv_store, clock=edgekv_clock)


@pytest.fixture
def edgekv_namespace(
    edgekv_kv: KV, edgekv_store_url: str, request: pytest.FixtureRequest
) -> Iterator[Namespace]:
    """A namespace of this test alone; on a shared store, deleted after the test."""
    ns = edgekv_kv.create_namespace(_title(request))
    try:
        yield ns
    finally:
        if edgekv_store_url != MEMORY:
            with contextlib.suppress(errors.KVError):
                edgekv_kv.delete_namespace(ns.id)


@pytest.fixture
def edgekv_edge_kv(edgekv_store: Store, edgekv_clock: Clock) -> Iterator[KV]:
    """`KV` through an edge tier in front of the test's store that does not follow the change
    feed: what it read it answers from memory until `cache_ttl` passes on the test's clock, as
    an edge whose feed is cut does. Writes through it are read back at once."""
    edge = EdgeStore(edgekv_store, cache_size=16 << 20, follow_feed=False, clock=edgekv_clock)
    try:
        yield KV(edge, clock=edgekv_clock)
    finally:
        edge.stop_following()


@pytest.fixture(scope="session")
def edgekv_server(
    edgekv_store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EdgeKVServer]:
    """One `edgekv serve` for the session, on a free loopback port with the workerd protocol
    on another; `.url`, `.rest_url`, `.token`, `.account_id`, `.workerd_port`, `.kv()`.
    Its store is --edgekv-store when other processes can open it, else a temporary SQLite."""
    data_dir = tmp_path_factory.mktemp("edgekv-serve")
    store = None if edgekv_store_url == MEMORY else edgekv_store_url
    with EdgeKVServer(data_dir, store=store) as server:
        yield server


# async (with pytest-asyncio installed)

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the sync fixtures work without it
    pytest_asyncio = None  # type: ignore[assignment]

if pytest_asyncio is not None:
    __all__ += ["edgekv_async_kv", "edgekv_async_namespace", "edgekv_async_store"]

    @pytest_asyncio.fixture
    async def edgekv_async_store(
        edgekv_store_url: str, edgekv_clock: Clock
    ) -> AsyncIterator[AsyncStore]:
        """The async store of this test (memory://: a new one, not the sync fixtures')."""
        store = async_store_from_url(edgekv_store_url, clock=edgekv_clock)
        try:
            yield store
        finally:
            await store.aclose()

    @pytest_asyncio.fixture
    async def edgekv_async_kv(edgekv_async_store: AsyncStore, edgekv_clock: Clock) -> AsyncKV:
        """`AsyncKV` over the test's async store, on the test's clock."""
        return AsyncKV(edgekv_async_store, clock=edgekv_clock)

    @pytest_asyncio.fixture
    async def edgekv_async_namespace(
        edgekv_async_kv: AsyncKV, edgekv_store_url: str, request: pytest.FixtureRequest
    ) -> AsyncIterator[AsyncNamespace]:
        """An async namespace of this test alone; on a shared store, deleted after it."""
        ns = await edgekv_async_kv.create_namespace(_title(request))
        try:
            yield ns
        finally:
            if edgekv_store_url != MEMORY:
                with contextlib.suppress(errors.KVError):
                    await edgekv_async_kv.delete_namespace(ns.id)
