"""serve_stale holds on every read path: with the central store killed, or frozen, a value an
edge cached with cache_ttl is served STALE past its cache_ttl — through the binding's get, a
REST value read (small, and large enough to stream), a bulk get and the workerd protocol — for
up to serve_stale seconds, and then each of them answers 503.

A real Redis server is killed (SIGKILL) or frozen (SIGSTOP) under an edge server and an
in-process edge; time is moved with an injected clock instead of waited for.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from edgekv import AsyncKV, AsyncNamespace, StoreUnavailable
from edgekv.server.accounts import Accounts
from edgekv.server.app import EdgeKVApp, create_app
from tests.clock import FakeClock
from tests.server.test_values import call
from tests.services import require

CACHE_TTL = 30
SERVE_STALE = 10
SMALL = b"s" * 100
LARGE = b"L" * 200_000  # more than one answer buffer (64 KiB): streamed in chunks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_server() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    require(shutil.which("redis-server") is not None, "redis-server")
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.02)
    # Bounded calls, so a frozen server fails them (rather than hanging them).
    url = f"redis://127.0.0.1:{port}/0?socket_timeout=1&socket_connect_timeout=1"
    try:
        yield process, url
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
        process.wait(timeout=10)


class Edge:
    def __init__(self, app: EdgeKVApp, clock: FakeClock, account: str, token: str, ns: str):
        self.app, self.clock, self.account, self.token, self.ns = app, clock, account, token, ns

    def values(self, key: str) -> str:
        return f"/client/v4/accounts/{self.account}/storage/kv/namespaces/{self.ns}/values/{key}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def reads(self, binding: AsyncNamespace) -> dict[str, Any]:
        """Each read path once, at cache_ttl 30: what it answered (or the error it raised)."""
        ttl = f"?cache_ttl={CACHE_TTL}"
        bulk = json.dumps({"keys": ["small"], "cacheTtl": CACHE_TTL}).encode()
        workerd = {**self.auth, "X-EdgeKV-Namespace": self.ns}
        answers = await asyncio.gather(
            binding.get("small", cache_ttl=CACHE_TTL),
            call(self.app, "GET", self.values("small") + ttl, self.auth),
            call(self.app, "GET", self.values("large") + ttl, self.auth),
            call(
                self.app, "POST", self.values("").replace("/values/", "/bulk/get"), self.auth, bulk
            ),
            call(self.app, "GET", f"/small?urlencoded=true&cache_ttl={CACHE_TTL}", workerd),
            return_exceptions=True,
        )
        return dict(
            zip(["binding", "rest", "rest-stream", "bulk", "workerd"], answers, strict=True)
        )


@pytest.fixture
async def edge(redis_server: tuple[subprocess.Popen[bytes], str]) -> AsyncIterator[Edge]:
    clock = FakeClock(time.time())
    app = create_app(redis_server[1], cache_size=64 << 20, serve_stale=SERVE_STALE, clock=clock)
    async with app.router.lifespan_context(app):
        accounts: Accounts = app.state.accounts
        account = await accounts.default_account()
        token, _ = await accounts.create_token(account.id)
        ns = await app.state.store.create_namespace("stale", account.id)
        served = Edge(app, clock, account.id, token, ns.id)
        for key, value in (("small", SMALL), ("large", LARGE)):
            answer = await call(app, "PUT", served.values(key), served.auth, value)
            assert answer[0]["status"] == 200
        yield served


def _status(answer: Any) -> int:
    return int(answer[0]["status"])


def _header(answer: Any, name: bytes) -> bytes | None:
    return dict(answer[0]["headers"]).get(name)


@pytest.mark.parametrize("fault", ["kill", "freeze"])
async def test_every_read_path_serves_stale_then_503(
    fault: str, edge: Edge, redis_server: tuple[subprocess.Popen[bytes], str]
) -> None:
    kv = AsyncKV(edge.app.state.store, account_id=edge.account, clock=edge.clock)
    binding = await kv.namespace(edge.ns)
    fresh = await edge.reads(binding)  # the workerd protocol's app and tokens are set up
    assert fresh["binding"] == SMALL.decode()
    assert _header(fresh["rest"], b"cf-cache-status") == b"HIT"
    process = redis_server[0]
    if fault == "kill":
        process.kill()
        process.wait(timeout=10)
    else:
        os.kill(process.pid, signal.SIGSTOP)

    edge.clock.advance(CACHE_TTL + 3)  # past cache_ttl, within serve_stale
    stale = await edge.reads(binding)
    assert stale["binding"] == SMALL.decode()
    assert _status(stale["rest"]) == 200 and stale["rest"][-1]["body"] == SMALL
    assert _header(stale["rest"], b"cf-cache-status") == b"STALE"
    streamed = stale["rest-stream"]
    assert _status(streamed) == 200 and _header(streamed, b"cf-cache-status") == b"STALE"
    assert _header(streamed, b"content-length") is None  # chunked: streamed
    assert b"".join(m.get("body", b"") for m in streamed[1:]) == LARGE
    assert _status(stale["bulk"]) == 200
    assert json.loads(stale["bulk"][-1]["body"])["result"]["values"] == {"small": SMALL.decode()}
    assert _status(stale["workerd"]) == 200 and stale["workerd"][-1]["body"] == SMALL
    assert _header(stale["workerd"], b"cf-cache-status") == b"STALE"

    edge.clock.advance(SERVE_STALE)  # past the allowance
    gone = await edge.reads(binding)
    assert isinstance(gone["binding"], StoreUnavailable)
    for path in ("rest", "rest-stream", "bulk"):
        assert _status(gone[path]) == 503, path
        assert json.loads(gone[path][-1]["body"])["errors"][0]["code"] == 10102
    assert _status(gone["workerd"]) == 503
    if fault == "freeze":
        os.kill(process.pid, signal.SIGCONT)  # the fault ends: the edge's shutdown can close


async def test_the_in_process_edge_takes_serve_stale_too(
    redis_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    clock = FakeClock(time.time())
    kv = AsyncKV(redis_server[1], edge_cache=1 << 20, serve_stale=SERVE_STALE, clock=clock)
    try:
        ns = await kv.create_namespace("in-process")
        await ns.put("k", "v")
        assert await ns.get("k", cache_ttl=CACHE_TTL) == "v"
        redis_server[0].kill()
        redis_server[0].wait(timeout=10)
        clock.advance(CACHE_TTL + 3)
        assert await ns.get("k", cache_ttl=CACHE_TTL) == "v"
        got = await ns.get_with_metadata("k", cache_ttl=CACHE_TTL)
        assert got.value == "v" and got.cache_status == "STALE"
        assert await ns.get(["k"], cache_ttl=CACHE_TTL) == {"k": "v"}
        clock.advance(SERVE_STALE)
        with pytest.raises(StoreUnavailable):
            await ns.get("k", cache_ttl=CACHE_TTL)
    finally:
        await kv.store.stop_following()  # type: ignore[attr-defined]
