"""Every recipe runs over the embedded store and over a live `edgekv serve` (REST store)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import edgekv
from tests.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["embedded", "server"])
async def namespace(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[edgekv.AsyncNamespace]:
    store: edgekv.AsyncStore
    if request.param == "embedded":
        store = edgekv.AsyncSQLiteStore(tmp_path / "kv.db", clock=clock)
        kv = edgekv.AsyncKV(store, clock=clock)
    else:
        from edgekv.stores.http._async.http_store import AsyncRestStore
        from tests.stores.http.server import rest_server

        server = rest_server()
        server.clock.target = clock  # the server's time follows this test's clock
        account_id, token = server.new_account()
        store = AsyncRestStore(server.url, token=token, account_id=account_id)
        kv = edgekv.AsyncKV(store, clock=clock, account_id=account_id)
    try:
        yield await kv.create_namespace(f"RECIPES-{uuid.uuid4().hex[:8]}")
    finally:
        await kv.aclose()
