"""An error the server did not expect: a 500 envelope naming a request id and nothing else, the
traceback logged once under that id, and the keep-alive connection still usable.

The faults are a bug's stand-ins put into a real server: a SQLite store whose usage count and
value reads raise a RuntimeError carrying "driver text" (an address), and a wrapper around the
app's entry (`create_app(around=...)`, the hook the node's workers use) that raises on one
path. The server is uvicorn on a loopback port, as `edgekv serve` runs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgekv.model import NamespaceUsage
from edgekv.server.accounts import Accounts
from edgekv.server.app import create_app
from edgekv.server.asgi import ASGIApp, Receive, Scope, Send
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore

from .conftest import Live, run_server

DRIVER_TEXT = "connection to 10.9.8.7:5432 failed: FATAL password authentication"


class BrokenSQLiteStore(AsyncSQLiteStore):
    """SQLite with two bugs: usage counts and reads of the key `boom` raise."""

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        raise RuntimeError(DRIVER_TEXT)

    async def open_value(self, namespace_id: str, key: str, **kwargs: Any) -> Any:
        if key == "boom":
            raise RuntimeError(DRIVER_TEXT)
        return await super().open_value(namespace_id, key, **kwargs)


class Server:
    def __init__(self, url: str, account_id: str, token: str, clients: list[int]) -> None:
        self.url = url
        self.token = token
        self.clients = clients  # the client port of each request: one port, one connection
        self.base = f"{url}/client/v4/accounts/{account_id}/storage/kv/namespaces"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db: Path = tmp_path_factory.mktemp("unexpected") / "kv.db"
    clients: list[int] = []

    def around(app: ASGIApp) -> ASGIApp:
        async def entry(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                clients.append(scope["client"][1])
                if scope["path"] == "/crash":
                    raise RuntimeError(DRIVER_TEXT)
            await app(scope, receive, send)

        return entry

    app = create_app(BrokenSQLiteStore(db), around=around)
    uvicorn_server, thread, port = run_server(app)
    try:

        async def new_token() -> str:
            store = AsyncSQLiteStore(db)
            try:
                secret, _ = await Accounts(store).create_token(None)
                return str(secret)
            finally:
                await store.aclose()

        token = asyncio.run(new_token())
        yield Server(f"http://127.0.0.1:{port}", app.state.account_id, token, clients)
    finally:
        uvicorn_server.should_exit = True
        thread.join(30)


def _is_internal_error(answer: httpx.Response) -> str:
    """Checks the 500 envelope; returns the request id it names."""
    assert answer.status_code == 500, answer.text
    request_id = answer.headers["x-request-id"]
    body = answer.json()
    assert body["success"] is False and body["result"] is None
    assert body["errors"] == [
        {"code": 10001, "message": f"Internal error (request id {request_id})"}
    ]
    assert "10.9.8.7" not in answer.text and "password" not in answer.text
    return request_id


@pytest.mark.parametrize(
    "where",
    ["entry", "router", "value route"],
)
def test_a_500_keeps_the_connection_and_names_its_request_id(
    server: Server, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {server.token}"}, timeout=30) as client:
        ns = client.post(server.base, json={"title": f"unexpected-{where}"}).json()["result"]["id"]
        path = {
            "entry": f"{server.url}/crash",
            "router": f"{server.base}/{ns}/usage",
            "value route": f"{server.base}/{ns}/values/boom",
        }[where]
        before = len(server.clients)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="edgekv.server"):
            request_id = _is_internal_error(client.get(path))
            # The next request on the same client: answered, on the same connection.
            after = client.get(f"{server.base}/{ns}/keys")
        assert after.status_code == 200, after.text
        assert after.headers["x-request-id"] != request_id
        assert len(set(server.clients[before:])) == 1, "the connection was dropped"
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in caplog.records]
    assert logged[0].exc_info is not None and DRIVER_TEXT in str(logged[0].exc_info[1])


def test_every_answer_carries_a_request_id(server: Server) -> None:
    with httpx.Client(timeout=30) as client:
        seen = {
            client.get(f"{server.url}/openapi.json").headers["x-request-id"],
            client.get(server.base).headers["x-request-id"],  # a 401
            client.get(f"{server.url}/nowhere").headers["x-request-id"],  # a 404
        }
    assert len(seen) == 3


def test_the_access_log_names_the_request_id(
    live: Live, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="edgekv.access"):
        answer = http.get(f"{live.namespaces_url()}/{'0' * 32}/keys")
    request_id = answer.headers["x-request-id"]
    logged = [r.getMessage() for r in caplog.records if r.name == "edgekv.access"]
    assert [line for line in logged if f'"request_id":"{request_id}"' in line]
