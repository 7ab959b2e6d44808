from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import edgekv
from tests.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def namespace(clock: FakeClock) -> AsyncIterator[edgekv.AsyncNamespace]:
    kv = edgekv.AsyncKV(edgekv.AsyncSQLiteStore(None, clock=clock), clock=clock)
    try:
        yield await kv.create_namespace("CACHE")
    finally:
        await kv.aclose()


@pytest.fixture
def sync_namespace(clock: FakeClock) -> Iterator[edgekv.Namespace]:
    with edgekv.KV(edgekv.SQLiteStore(None, clock=clock), clock=clock) as kv:
        yield kv.create_namespace("CACHE")
