"""The workerd port's own HTTP/1.1 server (server/workerd/listener.py), given bytes that are not
HTTP/1.1: each gets a 400 with the reason in the status line, never a silent close. No
workerd needed: raw sockets speak to it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekv.server.accounts import Accounts
from edgekv.server.app import create_app
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore

from ..conftest import run_server


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, str]]:
    db: Path = tmp_path_factory.mktemp("listener") / "kv.db"
    app = create_app(f"sqlite:///{db}", workerd_listen=("127.0.0.1", 0))
    server, thread, _ = run_server(app)

    async def setup() -> tuple[str, str]:
        store = AsyncSQLiteStore(db)
        try:
            accounts = Accounts(store)
            secret, _ = await accounts.create_token(None)
            info = await store.create_namespace("listener", app.state.account_id)
            return str(secret), info.id
        finally:
            await store.aclose()

    try:
        token, ns = asyncio.run(setup())
        yield app.state.workerd_port, token, ns
    finally:
        server.should_exit = True
        thread.join(30)


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        return sock.makefile("rb").readline()


@pytest.mark.parametrize(
    ("request_head", "reason"),
    [
        (
            b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
            b"Malformed HTTP request: illegal request line.",
        ),
        (b"GARBAGE\r\n\r\n", b"Malformed HTTP request: illegal request line."),
        (
            b"PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 30 + b"\r\n\r\nv",
            b"Malformed HTTP request: bad Content-Length.",
        ),
    ],
)
def test_requests_that_are_not_http_are_400(
    port: tuple[int, str, str], request_head: bytes, reason: bytes
) -> None:
    assert exchange(port[0], request_head) == b"HTTP/1.1 400 " + reason + b"\r\n"


def test_a_body_that_is_not_http_is_400(port: tuple[int, str, str]) -> None:
    number, token, ns = port
    head = (
        f"PUT /k HTTP/1.1\r\nHost: x\r\nX-EdgeKV-Namespace: {ns}\r\n"
        f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    status = exchange(number, head + b"zz\r\nabc\r\n")
    assert status.startswith(b"HTTP/1.1 400 Malformed HTTP request body"), status
