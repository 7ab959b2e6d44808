"""Every central store with a change feed, for the tests of tests/stores."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import edgekv
from edgekv import AsyncStore
from tests.clock import FakeClock
from tests.conformance.conftest import STORES

CENTRAL = ["sqlite", "postgres", "redis", "redis-cluster"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=CENTRAL)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[AsyncStore]:
    opened = await STORES[request.param](tmp_path, clock)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def ns(store: AsyncStore, clock: FakeClock) -> edgekv.AsyncNamespace:
    import uuid

    kv = edgekv.AsyncKV(store, clock=clock, account_id=uuid.uuid4().hex)
    return await kv.create_namespace("stores")


@pytest.fixture
def store_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The stores' log records, down to debug (a fault's repeats are logged at debug)."""
    caplog.set_level(logging.DEBUG, logger="edgekv")
    return caplog
