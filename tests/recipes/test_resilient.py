"""AsyncResilient: seed 003's resilientGet, a fallback within a bounded time when KV fails."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

import edgekv
from edgekv import errors
from edgekv.recipes import AsyncResilient, Resilient

FALLBACK = {"theme": "light", "maxItems": 10}


async def test_values_missing_values_and_bad_json(namespace: edgekv.AsyncNamespace) -> None:
    reads = AsyncResilient(namespace)
    assert await reads.get("config:app", FALLBACK) == FALLBACK
    await namespace.put("config:app", '{"theme":"dark"}')
    assert await reads.get("config:app", FALLBACK) == {"theme": "dark"}
    assert await reads.get("config:app", "x", type="text") == '{"theme":"dark"}'
    await namespace.put("config:bad", "{not json")
    assert await reads.get("config:bad", FALLBACK) == FALLBACK
    await namespace.put("config:null", "null")
    assert await reads.get("config:null", FALLBACK) == FALLBACK  # `value ?? fallback`
    with pytest.raises(errors.InvalidKey):
        await reads.get("", FALLBACK)  # a bad key is the caller's bug, not the store's


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a frozen server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def test_a_frozen_server_answers_the_fallback_in_time(silent_port: int) -> None:
    store = edgekv.AsyncKV(f"http://127.0.0.1:{silent_port}", token="t", account_id="a" * 32)
    ns = edgekv.AsyncNamespace(store.store, edgekv.NamespaceInfo("0" * 32, "frozen"))
    started = time.monotonic()
    assert await AsyncResilient(ns, within=0.3).get("config:app", FALLBACK) == FALLBACK
    assert time.monotonic() - started < 2
    await store.aclose()


def test_a_store_that_cannot_be_reached_answers_the_fallback() -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with edgekv.KV(f"http://127.0.0.1:{port}", token="t", account_id="a" * 32) as kv:
        ns = edgekv.Namespace(kv.store, edgekv.NamespaceInfo("0" * 32, "gone"))
        assert Resilient(ns).get("config:app", FALLBACK) == FALLBACK
