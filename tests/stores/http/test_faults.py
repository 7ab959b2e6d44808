"""The HTTP store's faults in edgekv's words: a server that cannot be reached (a closed
loopback port) and a server that answers a page, not the API, give StoreUnavailable that names
neither the server's address nor httpx's text."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from edgekv import errors
from edgekv.model import EntryWrite
from edgekv.stores.http._async.http_store import AsyncRestStore
from edgekv.stores.http._sync.http_store import RestStore
from tests.stores.faults import Call, check_clean, closed_port, each_unavailable
from tests.stores.http.test_rest_store import NS, scripted  # noqa: F401


async def test_a_server_that_cannot_be_reached_is_store_unavailable(
    store_log: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    write = EntryWrite("k", b"v", size=1)
    async with AsyncRestStore(url, account_id="acc", retries=1, backoff=0.001) as store:
        calls: list[Call] = [
            lambda: store.get_namespace(NS),
            lambda: store.get(NS, "k"),
            lambda: store.put(NS, write),
            lambda: store.changes(None),
        ]
        for message in await each_unavailable(calls, store_log, httpx.ConnectError):
            assert message == "central store unavailable: connection refused"
    with (
        RestStore(url, account_id="acc", retries=0) as sync_store,
        pytest.raises(errors.StoreUnavailable) as caught,
    ):
        sync_store.list_namespaces(None)
    assert caught.value.message == "central store unavailable: connection refused"


def test_an_answer_that_is_not_an_api_answer_is_store_unavailable(
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
