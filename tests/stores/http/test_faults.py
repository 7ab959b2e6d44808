"""The HTTP store's faults in edgekv's words: a server that cannot be reached (a closed
loopback port) and a server whose not an API answer give StoreUnavailable that names
neither the server's address nor httpx's text."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from edgekv import errors
from edgekv.model import EntryWrite
from edgekv.stores.http._async.http_store import AsyncRestStore
from edgekv.stores.http._sync.http_store import RestStore
from tests.stores.faults import check_clean
from tests.stores.http.test_rest_store import NS, scripted  # noqa: F401


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_server_that_cannot_be_reached_is_store_unavailable(
    store_log: pytest.LogCaptureFixture,
) -> None:
    port = _closed_port()
    url = f"http://127.0.0.1:{port}"
    write = EntryWrite("k", b"v", size=1)
    async with AsyncRestStore(url, account_id="acc", retries=1, backoff=0.001) as store:
        for call in (
            lambda: store.get_namespace(NS),
            lambda: store.get(NS, "k"),
            lambda: store.put(NS, write),
            lambda: store.changes(None),
        ):
            with pytest.raises(errors.StoreUnavailable) as caught:
                await call()
            assert caught.value.message == "central store unavailable: connection refused"
            check_clean(caught.value, store_log, httpx.ConnectError)
    with (
        RestStore(url, account_id="acc", retries=0) as sync_store,
        pytest.raises(errors.StoreUnavailable) as caught,
    ):
        sync_store.list_namespaces(None)
    assert caught.value.message == "central store unavailable: connection refused"


def test_an_answer_that_is_not_the_apis_is_store_unavailable(
    scripted: Any,  # noqa: F811
    store_log: pytest.LogCaptureFixture,
) -> None:
    _, url = scripted([(200, {}, b"<html>a proxy's page</html>")])
    with (
        RestStore(url, account_id="acc") as store,
        pytest.raises(errors.StoreUnavailable) as caught,
    ):
        store.get_namespace(NS)
    assert caught.value.message == "central store unavailable: not an API answer"
    check_clean(caught.value, store_log, json.JSONDecodeError)
