"""One live `edgekv serve` for the e2e tests; a fresh folder and namespace for every test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import edgekv
from tests.e2e.live import WRANGLER, LiveServer, Wrangler
from tests.services import require


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require(
        WRANGLER.exists() and shutil.which("node") is not None,
        "wrangler and node (npm ci --prefix tests/e2e/node)",
    )
    root = tmp_path_factory.mktemp("edgekv-serve")
    live = LiveServer(root / "data", root / "home")
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def token(server: LiveServer) -> str:
    return server.token


@pytest.fixture
def wrangler(server: LiveServer, token: str, tmp_path: Path) -> Wrangler:
    """wrangler with CLOUDFLARE_ACCOUNT_ID set, in an empty folder (it writes .wrangler/ there)."""
    return Wrangler(server, token, tmp_path, account_id=server.account_id)


@pytest.fixture
def kv(server: LiveServer) -> Iterator[edgekv.KV]:
    with server.kv() as opened:
        yield opened


@pytest.fixture
def namespace(kv: edgekv.KV) -> edgekv.Namespace:
    return kv.create_namespace(f"wrangler-{uuid.uuid4().hex[:8]}")
