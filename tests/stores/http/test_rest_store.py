"""RestStore beyond the conformance suite: URLs, tokens, error mapping, retries, Cloudflare's shape.

The conformance suite (tests/conformance, store "rest") runs every verb through a real edgekv
server; these tests cover what only an HTTP client has.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import edgekv
from edgekv import errors
from edgekv.server.asgi import Receive, Scope, Send
from edgekv.server.workerd.listener import WorkerdListener
from edgekv.stores.http._sync.http_store import RestStore
from tests.server.workerd.conftest import LoopThread
from tests.stores.http.server import RestServer, rest_server


@pytest.fixture
def server() -> RestServer:
    # The conformance suite points the shared server at its fake clocks: back to real time.
    shared = rest_server()
    shared.clock.target = time.time
    return shared


def test_kv_from_a_server_url_with_a_token_finds_its_account(server: RestServer) -> None:
    account_id, token = server.new_account()
    for url in (server.url, server.url + "/client/v4", server.url + "/client/v4/"):
        with edgekv.KV(url, token=token) as kv:
            ns = kv.create_namespace(f"urls {url}")
            assert ns.info.account_id == account_id
            ns.put("a/b c?#%+😀", "value", metadata={"m": 1}, expiration_ttl=3600)
            got = ns.get_with_metadata("a/b c?#%+😀")
            assert (got.value, got.metadata) == ("value", {"m": 1})
            assert got.version is not None and got.version > 0
            assert [k.name for k in ns.list().keys] == ["a/b c?#%+😀"]
            assert kv.namespace(f"urls {url}").id == ns.id


def test_errors_come_back_as_the_in_process_exceptions(server: RestServer) -> None:
    account_id, token = server.new_account()
    with edgekv.KV(server.url, token=token, account_id=account_id) as kv:
        ns = kv.create_namespace("errors")
        with pytest.raises(errors.DuplicateNamespaceTitle):
            kv.create_namespace("errors")
        with pytest.raises(errors.NamespaceNotFound):
            kv.namespace("f" * 32)
        version = ns.put("k", "v")
        with pytest.raises(errors.PreconditionFailed):
            ns.put("k", "w", if_version=version + 1000)
        with pytest.raises(errors.PreconditionFailed):
            ns.put("k", "w", only_if_absent=True)
        assert ns.put("k", "w", if_version=version) > version
    with edgekv.KV(server.url, token="ekv_not-a-token", account_id=account_id) as kv:
        with pytest.raises(errors.KVError) as caught:
            kv.create_namespace("nope")
        assert (caught.value.status, caught.value.code) == (401, 10000)
        assert caught.value.message == "Authentication error"


# A loopback HTTP server whose answers a test scripts, to see what the client retries.


class Scripted:
    """Answers each request with the next (status, headers, body) and records the requests."""

    def __init__(self, answers: list[tuple[int, dict[str, str], Any]]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        self.seen.append((scope["method"], scope["path"]))
        status, headers, body = self.answers[min(len(self.seen), len(self.answers)) - 1]
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(raw)).encode())]
                + [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": raw})


def envelope(result: Any, ok: bool = True, code: int = 0, message: str = "") -> dict[str, Any]:
    errs = [] if ok else [{"code": code, "message": message}]
    return {"success": ok, "errors": errs, "messages": [], "result": result}


@pytest.fixture
def scripted() -> Iterator[Callable[[list[tuple[int, dict[str, str], Any]]], tuple[Scripted, str]]]:
    loop = LoopThread()
    listeners: list[WorkerdListener] = []

    def start(answers: list[tuple[int, dict[str, str], Any]]) -> tuple[Scripted, str]:
        app = Scripted(answers)
        listener = loop.run(WorkerdListener(app).start())
        listeners.append(listener)
        return app, f"http://127.0.0.1:{listener.port}"

    try:
        yield start
    finally:
        for listener in listeners:
            loop.run(listener.aclose())
        loop.stop()


NS = "a" * 32
BUSY = envelope(None, False, 10102, "central store unavailable")


def test_429_and_5xx_are_retried_with_backoff(scripted: Any) -> None:
    app, url = scripted(
        [
            (429, {"Retry-After": "0"}, envelope(None, False, 971, "Please wait")),
            (503, {}, BUSY),
            (200, {}, envelope({"id": NS, "title": "t", "supports_url_encoding": True})),
        ]
    )
    with RestStore(url, token="t", account_id="acc", backoff=0.001) as store:
        assert store.get_namespace(NS).title == "t"
    assert len(app.seen) == 3


def test_retries_stop_and_the_error_is_raised(scripted: Any) -> None:
    app, url = scripted([(503, {}, BUSY)])
    with (
        RestStore(url, account_id="acc", retries=2, backoff=0.001) as store,
        pytest.raises(errors.StoreUnavailable) as caught,
    ):
        store.get_namespace(NS)
    assert caught.value.message == "central store unavailable"
    assert len(app.seen) == 3


def test_a_write_that_is_not_safe_to_repeat_is_not_retried_on_5xx(scripted: Any) -> None:
    app, url = scripted([(500, {}, envelope(None, False, 10001, "Internal error"))])
    with (
        RestStore(url, account_id="acc", backoff=0.001) as store,
        pytest.raises(errors.KVError) as caught,
    ):
        store.incr(NS, "counter", 1, None)
    assert (caught.value.status, caught.value.message) == (500, "Internal error")
    assert app.seen == [
        ("POST", f"/client/v4/accounts/acc/storage/kv/namespaces/{NS}/incr/counter")
    ]


def test_cloudflare_without_edgekv_headers_reads_metadata_separately(scripted: Any) -> None:
    # Cloudflare's value read has no ETag or CF-KV-Metadata; its bulk read has no arrayBuffer.
    app, url = scripted(
        [
            (200, {"expiration": "1900000000"}, b"hello"),
            (200, {}, envelope({"owner": "ann"})),
            (400, {}, envelope(None, False, 10033, '"arrayBuffer" is not a valid type.')),
            (200, {}, b"hello"),
            (200, {}, envelope(None)),
        ]
    )
    with RestStore(url + "/client/v4", account_id="acc") as store:
        entry = store.get(NS, "k")
        assert entry is not None
        assert (entry.value, entry.metadata, entry.expiration) == (
            b"hello",
            {"owner": "ann"},
            1900000000,
        )
        [bulk] = store.get_many(NS, ["k"])
        assert bulk is not None and bulk.value == b"hello" and bulk.metadata is None
    base = f"/client/v4/accounts/acc/storage/kv/namespaces/{NS}"
    assert app.seen == [
        ("GET", f"{base}/values/k"),
        ("GET", f"{base}/metadata/k"),
        ("POST", f"{base}/bulk/get"),
        ("GET", f"{base}/values/k"),
        ("GET", f"{base}/metadata/k"),
    ]
