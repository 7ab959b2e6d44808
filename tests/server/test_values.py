"""The value routes (src/edgekv/server/rest/values.py) answer the same whether the app enters
them before the router (its default) or through it.

Each request is sent as raw ASGI to the app's entry and to the full Starlette app (router and
middleware), over the same SQLite file, and the ASGI messages (status, headers in order, body
chunks, framing) must be equal byte for byte; uvicorn adds only Date to either. Also: token and
namespace lookups from memory honour revocation and deletion (read-your-writes on the server
that made the change, the change feed's delay elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from edgekv.model import EntryWrite
from edgekv.server.accounts import Accounts
from edgekv.server.app import EdgeKVApp, create_app
from edgekv.server.writes import Writes
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore

Messages = list[dict[str, Any]]


async def call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> Messages:
    raw_path, _, query = path.partition("?")
    head = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if body is not None:
        head.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": head,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8787),
    }
    sent: Messages = []
    pending = [{"type": "http.request", "body": body or b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)  # the client waits, as a real one does
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        message = dict(message)
        if "headers" in message:
            # Each request has an id of its own (server/request_id.py): not part of the answer
            # the two ways in must agree on.
            message["headers"] = [h for h in message["headers"] if h[0] != b"x-request-id"]
        sent.append(message)

    await app(scope, receive, send)
    return sent


class Server:
    def __init__(self, app: EdgeKVApp, account_id: str, token: str, ns: str) -> None:
        self.app = app
        self.account_id = account_id
        self.token = token
        self.ns = ns
        writes = app.state.writes
        assert isinstance(writes, Writes)
        self.writes = writes

    @property
    def accounts(self) -> Accounts:
        accounts = self.app.state.accounts
        assert isinstance(accounts, Accounts)
        return accounts

    def values(self, raw_key: str, ns: str | None = None, account: str | None = None) -> str:
        return (
            f"/client/v4/accounts/{account or self.account_id}/storage/kv/namespaces/"
            f"{ns or self.ns}/values/{raw_key}"
        )

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@contextlib.asynccontextmanager
async def serving(db: Path, cache_size: int) -> AsyncIterator[Server]:
    app = create_app(f"sqlite:///{db}", cache_size=cache_size)
    assert isinstance(app, EdgeKVApp)
    async with app.router.lifespan_context(app):
        accounts: Accounts = app.state.accounts
        account = await accounts.default_account()
        token, _ = await accounts.create_token(account.id)
        ns = await app.state.store.create_namespace(f"fast-{time.monotonic_ns()}", account.id)
        yield Server(app, account.id, token, ns.id)


@pytest.fixture(params=[64 << 20, 0], ids=["edge", "no-edge"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    async with serving(tmp_path / "kv.db", request.param) as served:
        yield served


async def seed(server: Server, store: Any = None) -> None:
    store = store or server.app.state.store
    writes = [
        EntryWrite("hot", b"v" * 100),
        EntryWrite("meta", b"m", json.dumps({"a": "\u00e9", "n": [1, 2]}), int(time.time()) + 3600),
        EntryWrite("null-meta", b"x", "null"),
        EntryWrite("a/b c+d", b"slashed"),
        EntryWrite("\u00e9t\u00e9 \U0001f600", b"unicode"),
        EntryWrite("empty", b""),
        EntryWrite("edge-64k", b"e" * 65536),
        EntryWrite("over-64k", b"o" * 65537),
        EntryWrite("%41", b"literal percent"),
    ]
    for write in writes:
        write.size = len(write.value)  # type: ignore[arg-type]
        await store.put(server.ns, write)


def _get_requests(
    server: Server, other_ns: str, read_only: str
) -> list[tuple[str, dict[str, str]]]:
    plain = [
        "hot",
        "meta",
        "null-meta",
        "a%2Fb%20c+d",
        "%C3%A9t%C3%A9%20%F0%9F%98%80",
        "empty",
        "edge-64k",
        "over-64k",
        "%2541",
        "missing",
        ".",
        "..",
        "x" * 513,
        "bad%zz",
        "%FF",
        "a%2",
    ]
    requests = [(server.values(k), server.auth()) for k in plain]
    requests += [
        (server.values("hot"), {}),
        (server.values("hot"), server.auth("ekv_not-a-token")),
        (server.values("hot"), {"X-Auth-Key": server.token}),
        (server.values("hot"), {"X-Auth-Key": server.token, "X-Auth-Email": "a@b"}),
        (server.values("hot"), server.auth(read_only)),
        (server.values("hot"), {**server.auth(), "Cache-Control": "no-cache"}),
        (server.values("hot") + "?cache_ttl=60", server.auth()),
        (server.values("hot") + "?cache_ttl=1", server.auth()),
        (server.values("hot", ns="f" * 32), server.auth()),
        (server.values("hot", ns=other_ns), server.auth()),
        (server.values("hot", account="a" * 32), server.auth()),
        (server.values("hot", account="edgekv-system"), server.auth()),
        (server.values(""), server.auth()),
    ]
    return requests


async def _other_namespace(server: Server) -> tuple[str, str]:
    """A namespace of another account, and a read-only token of ours."""
    other = await server.accounts.create_account("other")
    ns = await server.app.state.store.create_namespace("theirs", other.id)
    read_only, _ = await server.accounts.create_token(server.account_id, read_only=True)
    return ns.id, read_only


async def test_reads_answer_as_the_full_app(server: Server) -> None:
    await seed(server)
    other_ns, read_only = await _other_namespace(server)
    for path, headers in _get_requests(server, other_ns, read_only):
        await call(server.app.full, "GET", path, headers)  # the edge now holds what it reads
        fast = await call(server.app, "GET", path, headers)
        full = await call(server.app.full, "GET", path, headers)
        assert fast == full, path
    # An overwrite changes every header a hot value is answered with.
    store = server.app.state.store
    for metadata, expiration in (('{"v":2}', None), (None, int(time.time()) + 7200)):
        await store.put(server.ns, EntryWrite("meta", b"mm", metadata, expiration, 2))
        for _ in range(2):
            path = server.values("meta")
            fast = await call(server.app, "GET", path, server.auth())
            assert fast == await call(server.app.full, "GET", path, server.auth())
        assert fast[-1]["body"] == b"mm"


async def test_first_reads_answer_as_the_full_app(tmp_path: Path) -> None:
    """A miss (the value fetched from the central store) as well as a hit."""
    db = tmp_path / "kv.db"
    async with serving(db, 64 << 20) as fast_server, serving(db, 64 << 20) as full_server:
        central = AsyncSQLiteStore(db)  # neither edge holds what is written here
        try:
            await seed(fast_server, central)
        finally:
            await central.aclose()
        for key in ("hot", "meta", "over-64k", "missing"):
            path = fast_server.values(key)
            fast = await call(fast_server.app, "GET", path, fast_server.auth())
            full = await call(full_server.app.full, "GET", path, fast_server.auth())
            assert fast == full, key
            assert (b"cf-cache-status", b"MISS") in fast[0]["headers"] or key == "missing"


def _without_etag(messages: Messages) -> tuple[Messages, bytes | None]:
    etag = None
    out = []
    for message in messages:
        if message["type"] == "http.response.start":
            headers = []
            for name, value in message["headers"]:
                if name == b"etag":
                    etag = value
                    value = b"<version>"
                headers.append((name, value))
            message = {**message, "headers": headers}
        out.append(message)
    return out, etag


async def test_writes_answer_as_the_full_app(server: Server) -> None:
    other_ns, read_only = await _other_namespace(server)
    octets = {"Content-Type": "application/octet-stream"}
    cases: list[tuple[str, dict[str, str], bytes | None]] = [
        ("k1", {**server.auth(), **octets}, b"one"),
        ("a%2Fb%20c+d", server.auth(), b"slashed"),
        ("k-empty", server.auth(), b""),
        ("k-text", {**server.auth(), "Content-Type": "text/plain"}, "\u00e9".encode()),
        ("k-big", server.auth(), b"b" * 70_000),
        ("k1", server.auth(read_only), b"no"),
        ("k1", {}, b"no"),
        ("k1", {**server.auth(), "If-None-Match": "*"}, b"no"),
        ("k1", {**server.auth(), "CF-KV-Metadata": '{"m":1}'}, b"meta"),
        ("k1?expiration_ttl=120", server.auth(), b"ttl"),
        ("k1?expiration_ttl=5", server.auth(), b"ttl"),
        ("k1", server.auth(), None),  # no Content-Length
        (".", server.auth(), b"dot"),
        ("bad%zz", server.auth(), b"x"),
    ]
    for key, headers, body in cases:
        path = server.values(key)
        fast, fast_etag = _without_etag(await call(server.app, "PUT", path, headers, body))
        full, full_etag = _without_etag(await call(server.app.full, "PUT", path, headers, body))
        assert fast == full, key
        if fast_etag is not None:
            # Each write got its own version, and the last one is what is stored.
            assert full_etag is not None and int(full_etag.strip(b'"')) > int(fast_etag.strip(b'"'))
            got = await call(server.app.full, "GET", path, server.auth())
            assert (b"etag", full_etag) in got[0]["headers"]
    for ns in ("f" * 32, other_ns):
        path = server.values("k", ns=ns)
        fast = await call(server.app, "PUT", path, server.auth(), b"x")
        assert fast == await call(server.app.full, "PUT", path, server.auth(), b"x")


async def test_concurrent_writes_each_get_their_version(server: Server) -> None:
    """Writes arriving together are committed together, each acknowledged with its version."""
    paths = [server.values(f"c{i % 7}") for i in range(50)]
    answers = await asyncio.gather(
        *(call(server.app, "PUT", p, server.auth(), f"v{i}".encode()) for i, p in enumerate(paths))
    )
    versions = []
    for answer in answers:
        assert answer[0]["status"] == 200
        versions.append(int(dict(answer[0]["headers"])[b"etag"].strip(b'"')))
    assert len(set(versions)) == 50
    for i in range(7):
        # The last write of each key, in arrival order, won.
        last = max(j for j in range(50) if j % 7 == i)
        got = await call(server.app, "GET", server.values(f"c{i}"), server.auth())
        assert got[1]["body"] == f"v{last}".encode()
        assert (b"etag", b'"%d"' % versions[last]) in got[0]["headers"]
    assert server.writes.transactions < 50


async def _until(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "the change feed did not deliver the change"
        await asyncio.sleep(0.01)


async def test_revocation_on_this_server_holds_at_once(tmp_path: Path) -> None:
    async with serving(tmp_path / "kv.db", 64 << 20) as server:
        path = server.values("hot")
        for _ in range(2):  # the second answer comes from memory
            assert (await call(server.app, "GET", path, server.auth()))[0]["status"] == 404
        token = await server.accounts.verify(server.token)
        assert token is not None
        await server.accounts.revoke_token(token.id)
        assert (await call(server.app, "GET", path, server.auth()))[0]["status"] == 401
        assert (await call(server.app, "PUT", path, server.auth(), b"x"))[0]["status"] == 401


async def test_revocation_elsewhere_holds_within_the_feed_delay(tmp_path: Path) -> None:
    db = tmp_path / "kv.db"
    async with serving(db, 64 << 20) as server:
        path = server.values("hot")
        for _ in range(2):
            assert (await call(server.app, "GET", path, server.auth()))[0]["status"] == 404
        elsewhere = AsyncSQLiteStore(db)  # another process's view of the same file
        try:
            registry = Accounts(elsewhere)
            token = await registry.verify(server.token)
            assert token is not None
            await registry.revoke_token(token.id)

            async def refused() -> bool:
                answer = await call(server.app, "GET", path, server.auth())
                return bool(answer[0]["status"] == 401)

            await _until(refused)
            # A namespace deleted elsewhere is gone here too, once the feed says so.
            second, _ = await registry.create_token(server.account_id)
            assert (await call(server.app, "GET", path, server.auth(second)))[0]["status"] == 404
            await elsewhere.delete_namespace(server.ns)

            async def gone() -> bool:
                answer = await call(server.app, "GET", path, server.auth(second))
                body = json.loads(answer[-1]["body"])
                return bool(answer[0]["status"] == 404 and body["errors"][0]["code"] == 10013)

            await _until(gone)
        finally:
            await elsewhere.aclose()
