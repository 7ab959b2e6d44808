"""A real edgekv server on a loopback port (uvicorn in a thread, as `edgekv serve` runs it)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from edgekv.server.accounts import Accounts
from edgekv.server.app import create_app
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore


@dataclass
class Live:
    """A running server, its SQLite file, and ways to mint credentials for it."""

    url: str
    db: Path
    account_id: str

    @property
    def api(self) -> str:
        return f"{self.url}/client/v4"

    def namespaces_url(self, account_id: str | None = None) -> str:
        return f"{self.api}/accounts/{account_id or self.account_id}/storage/kv/namespaces"

    def registry(self, action: Any) -> Any:
        async def run() -> Any:
            store = AsyncSQLiteStore(self.db)
            try:
                return await action(Accounts(store))
            finally:
                await store.aclose()

        return asyncio.run(run())

    def token(
        self,
        account_id: str | None = None,
        *,
        namespaces: list[str] | None = None,
        read_only: bool = False,
    ) -> str:
        secret, _ = self.registry(
            lambda a: a.create_token(account_id, namespaces=namespaces, read_only=read_only)
        )
        return str(secret)

    def new_account(self, name: str = "other") -> str:
        return str(self.registry(lambda a: a.create_account(name)).id)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Client(headers=headers, timeout=30, **kwargs)


def run_server(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, int(port)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("server") / "kv.db"
    app = create_app(f"sqlite:///{db}", access_log=True)
    logging.getLogger("edgekv.access").setLevel(logging.INFO)
    server, thread, port = run_server(app)
    try:
        yield Live(f"http://127.0.0.1:{port}", db, app.state.account_id)
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def token(live: Live) -> str:
    return live.token()


@pytest.fixture
def http(live: Live, token: str) -> Iterator[httpx.Client]:
    with live.client(token) as client:
        yield client


@pytest.fixture
def ns(live: Live, http: httpx.Client, request: pytest.FixtureRequest) -> str:
    """A fresh namespace's id."""
    title = f"{request.node.name}-{time.monotonic_ns()}"
    answer = http.post(live.namespaces_url(), json={"title": title})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["result"]["id"])
